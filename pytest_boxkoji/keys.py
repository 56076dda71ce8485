"""What the plugin keeps in pytest's stash, in one place (fixtures, hooks and --cov-hub share it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_boxkoji.config import BoxKojiConfig

if TYPE_CHECKING:
    from pytest_boxkoji.environment import Environment  # noqa: F401 (the key's type, by name)

CONFIG_KEY = pytest.StashKey[BoxKojiConfig]()
ENV_KEY = pytest.StashKey["Environment"]()
REPORT_KEY = pytest.StashKey[str]()  # --boxkoji-keep's report, printed in the summary
COVERAGE_RESULT_KEY = pytest.StashKey[list[str]]()  # --cov-hub's report lines
