"""The wheel carries every package of the source tree (pyproject lists them by hand)."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_every_package_is_in_the_wheel():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "pytest_boxkoji").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert found - listed == set(), "add them to [tool.setuptools] packages in pyproject.toml"
