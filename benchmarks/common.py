"""What the benchmarks share with the plugin: the same options, read the same way.

Each option comes from the benchmark's command line, then its BOXKOJI_* variable, then the
plugin's default (config.config_from_environment), so `BOXKOJI_KOJI_SOURCE=... python
benchmarks/startup.py` measures what `pytest --boxkoji` would run.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from pytest_boxkoji.config import RUNTIMES, BoxKojiConfig, config_from_environment

T = TypeVar("T")


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--koji-source", help="as --boxkoji-koji-source (default: BOXKOJI_KOJI_SOURCE)")
    parser.add_argument("--runtime", choices=RUNTIMES, help="as --boxkoji-runtime (default: BOXKOJI_RUNTIME)")
    parser.add_argument("--cache-dir", help="as --boxkoji-cache-dir (default: BOXKOJI_CACHE_DIR)")


def config(args: argparse.Namespace) -> BoxKojiConfig:
    given = {
        "boxkoji": True,
        "boxkoji_koji_source": args.koji_source,
        "boxkoji_runtime": args.runtime,
        "boxkoji_cache_dir": args.cache_dir,
    }
    try:
        return config_from_environment(given)
    except pytest.UsageError as exc:
        sys.exit(f"bad option: {exc}")


def wait_for(what: str, check: Callable[[], T | None], timeout: float) -> T:
    """Poll `check` until it returns something; exit loudly after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    sys.exit(f"benchmark failed: {what} did not happen within {timeout:.0f} s")
