"""--cov-hub / --cov-web / --cov-workers data: the data directory, combining and reporting.

The hub and the web run `wsgi_app.py`; kojid and kojira run under `coverage run` (`daemon_args`).
Their data files land in the environment's coverage directory, are combined when the services
have stopped, mapped back to the Koji source tree and reported in pytest-cov's style.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import coverage

from pytest_boxkoji import inside
from pytest_boxkoji.coverage.parsed import ParsedSources, ReportingCoverage
from pytest_boxkoji.partkey import Key

if TYPE_CHECKING:
    from pytest_boxkoji.config import BoxKojiConfig

log = logging.getLogger(__name__)
APP = inside.DIRECTORY / "wsgi_app.py"
# What each measured service runs of Koji's tree: directories, or single files (kojira).
SOURCES = {
    "hub": ("kojihub", "plugins/hub"),
    "web": ("www/kojiweb", "www/lib/kojiweb"),
    "kojid": ("builder", "plugins/builder"),
    "kojira": ("util/kojira",),
}
DAEMONS = ("kojid", "kojira")  # plain programs, not WSGI apps: measured by `coverage run`


@dataclass
class KojiCoverage:
    """Where one environment's services write coverage data, and which of them are measured."""

    directory: Path
    koji_src: Path
    services: tuple[str, ...]  # "hub", "web", "kojid", "kojira"
    branch: bool = False  # arcs as well as lines (--cov-hub-branch)

    def sources(self, service: str) -> list[Path]:
        return [self.koji_src / part for part in SOURCES[service]]

    def measures(self, service: str) -> bool:
        return service in self.services

    def prepare(
        self, service: str, script: Path, app_dir: Path, owner: tuple[int, int]
    ) -> tuple[Path, dict[str, str]]:
        """The data directory (writable by the services' user), our WSGI wrapper copied into
        `app_dir` (readable by it) and the service's env: (the script Apache runs, env)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(self.directory, *owner)
        app_dir.mkdir(parents=True, exist_ok=True)
        app = app_dir / APP.name
        shutil.copy(APP, app)
        app.chmod(0o644)
        return app, {
            "BOXKOJI_COV_DIR": str(self.directory),
            "BOXKOJI_COV_NAME": service,
            "BOXKOJI_COV_APP": str(script),
            "BOXKOJI_COV_SOURCE": os.pathsep.join(str(p) for p in self.sources(service)),
            "BOXKOJI_COV_BRANCH": "1" if self.branch else "0",
        }

    def daemon_args(self, service: str, directory: Path, owner: tuple[int, int]) -> list[str]:
        """What goes between the services' Python and kojid's (kojira's) script to run it under
        coverage: `-m coverage run --rcfile=...`, with the rc file written into `directory`.

        kojid runs each task in a child it forks and ends with os._exit; coverage's `fork` and
        `_exit` patches measure those children and save their data. Both daemons turn SIGTERM
        into SystemExit, so `coverage run` saves the main process's data when they are stopped.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(self.directory, *owner)
        include = "\n    ".join(_patterns(self.koji_src, SOURCES[service]))
        rc = directory / f"coverage-{service}.rc"
        rc.write_text(
            f"[run]\nbranch = {self.branch}\nparallel = True\ncontext = {service}\n"
            f"data_file = {self.directory / f'.coverage.{service}'}\n"
            f"include =\n    {include}\npatch =\n    fork\n    _exit\n"
        )
        rc.chmod(0o644)
        return ["-m", "coverage", "run", f"--rcfile={rc}"]

    def set_test(self, nodeid: str) -> None:
        """The test now running: the hub records it as the dynamic context of what it executes."""
        (self.directory / "current-test").write_text(nodeid)

    def data_files(self) -> list[Path]:
        return sorted(p for name in self.services for p in self.directory.glob(f".coverage.{name}.*"))


COVERAGE: Key[KojiCoverage | None] = Key("coverage")  # its part's name, typed with this handle (graph.Key)


def measured(config: BoxKojiConfig) -> tuple[str, ...]:
    """The services these options measure."""
    on = {"hub": config.cov_hub, "web": config.cov_web, **{daemon: config.cov_workers for daemon in DAEMONS}}
    return tuple(name for name in SOURCES if on[name])


def source_files(koji_src: Path, services: tuple[str, ...]) -> list[Path]:
    """The Python files of Koji's tree these services run (what a report may show)."""
    found: list[Path] = []
    for service in services:
        for part in SOURCES[service]:
            path = koji_src / part
            found += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return found


def _patterns(koji_src: Path, parts: tuple[str, ...]) -> list[str]:
    """File patterns for coverage's `include`: everything under a directory, or the file itself."""
    return [
        str(koji_src / part / "*") if (koji_src / part).is_dir() else str(koji_src / part) for part in parts
    ]


def save_coverage(coverage: KojiCoverage, target: Path) -> None:
    """After the services stopped (every daemon saved its data): combine into `target`, kept for
    `coverage combine` with other runs."""
    files = coverage.data_files()
    if not files:
        log.warning("Koji coverage: no service wrote coverage data in %s", coverage.directory)
        return
    target.unlink(missing_ok=True)
    combine(files, target, coverage.koji_src)


def combine(
    files: list[Path], target: Path, koji_src: Path, paths: list[str] | None = None
) -> coverage.Coverage:
    """Combine hub data files into `target` (appending to nothing), paths mapped to koji_src."""
    config = _config_file(target, koji_src, paths or [])
    cov = coverage.Coverage(data_file=str(target), config_file=str(config))
    cov.combine([str(f) for f in files], keep=True)
    cov.save()
    config.unlink()
    return cov


def _config_file(target: Path, koji_src: Path, other_roots: list[str]) -> Path:
    # [paths]: the first entry is where the code is reported; others (a container's
    # /usr/share/koji-hub, a different checkout) are mapped onto it.
    config = target.parent / f"{target.name}.rc"
    roots = "\n    ".join([str(koji_src), *other_roots])
    config.write_text(f"[run]\nbranch = True\n[paths]\nkoji =\n    {roots}\n")
    return config


def report(
    data_file: Path, kind: str, koji_src: Path, parsed: ParsedSources | None = None
) -> tuple[float, str]:
    """One report (term, term-missing, html[:DIR], xml[:FILE], json[:FILE]); (total %, text).
    `parsed`: files parsed beforehand (parsed.py), else parsed here."""
    name, _, where = kind.partition(":")
    out = io.StringIO()
    include = [pattern for parts in SOURCES.values() for pattern in _patterns(koji_src, parts)]
    if name in ("term", "term-missing"):
        # Names relative to the tree read better: coverage shortens the names of files under the
        # directory it was created in. The header says which tree.
        with contextlib.chdir(koji_src):
            cov = _load(data_file, parsed)
            missing = name == "term-missing"
            total = cov.report(file=out, show_missing=missing, include=include, skip_empty=True)
        return total, f"Koji source: {koji_src}\n" + out.getvalue()
    cov = _load(data_file, parsed)
    if name == "html":
        directory = where or "htmlcov-hub"
        total = cov.html_report(
            directory=directory, include=include, show_contexts=True, title="Koji coverage"
        )
        return total, f"hub coverage HTML written to dir {directory}\n"
    if name == "xml":
        file = where or "coverage-hub.xml"
        total = cov.xml_report(outfile=file, include=include)
        return total, f"hub coverage XML written to file {file}\n"
    if name == "json":
        file = where or "coverage-hub.json"
        total = cov.json_report(outfile=file, include=include, show_contexts=True)
        return total, f"hub coverage JSON written to file {file}\n"
    raise ValueError(kind)


def _load(data_file: Path, parsed: ParsedSources | None) -> coverage.Coverage:
    cov = ReportingCoverage(parsed, data_file=str(data_file.resolve()), config_file=False)
    cov.load()
    return cov
