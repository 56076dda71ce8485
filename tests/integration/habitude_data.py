"""koji-habitude's own data files (its tests/data), for the tests that check scenarios against it.

Neither its wheel nor its sdist ships them: they are kept, unchanged, in
tests/data/koji-habitude-<version>/ (see its PROVENANCE.md). BOXKOJI_HABITUDE_SOURCE may name
another source tree or a `git archive` tarball of a release's tag (unpacked once per content).
"""

from __future__ import annotations

import configparser
import hashlib
import os
import tarfile
import tempfile
from importlib import metadata
from pathlib import Path

from pytest_boxkoji.kojisrc import extract_safely

VARIABLE = "BOXKOJI_HABITUDE_SOURCE"
VERSION = metadata.version("koji-habitude")
KEPT = Path(__file__).resolve().parents[1] / "data" / f"koji-habitude-{VERSION}"


def _unpacked(tarball: Path) -> Path:
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / f"boxkoji-habitude-{digest}"
    if not target.is_dir():
        partial = Path(tempfile.mkdtemp(prefix=target.name + "-"))
        with tarfile.open(tarball) as archive:
            extract_safely(archive, partial)
        try:
            partial.rename(target)
        except OSError:  # another session unpacked it meanwhile
            pass
    tops = [p for p in target.iterdir() if p.is_dir()]
    return tops[0] if len(tops) == 1 else target


def source() -> tuple[Path | None, str]:
    """(koji-habitude's source tree, "") or (None, why there is none)."""
    given = os.environ.get(VARIABLE)
    place = Path(given).expanduser() if given else KEPT
    how = (
        f"koji-habitude's test data is not shipped in its wheel or sdist: set {VARIABLE} to a "
        f"checkout of koji-habitude at tag v{VERSION}, or to `git archive` of that tag as a tarball, "
        f"(this checkout keeps koji-habitude's data in {KEPT} for the release it tests)"
    )
    if not place.exists():
        return None, f"{place} does not exist; {how}"
    tree = _unpacked(place) if place.is_file() else place
    setup = configparser.ConfigParser()
    setup.read(tree / "setup.cfg")
    found = setup.get("metadata", "version", fallback=None)
    if found != VERSION or not (tree / "tests" / "data").is_dir():
        return None, f"{place} is not koji-habitude {VERSION}'s source (version {found}); {how}"
    return tree, ""


def units(data: Path) -> list[tuple[str, ...]]:
    """What `koji-habitude apply` is given: each data file, and the sets of files that only work
    together (templates in one file, their calls in another)."""
    files = sorted(str(p.relative_to(data)) for p in data.rglob("*") if p.suffix in (".yaml", ".yml"))
    return [(f,) for f in files] + [("demo",), ("solver/product_template.yaml", "solver/testproduct.yaml")]
