"""Koji's source files as coverage.py parses them for a report, parsed once and kept on disk.

A report analyses every measured file from its source (tokenize, then the AST): for the hub that
is seconds at the end of each session (kojihub.py alone has 16 000 lines), as much as the rest of
--cov-hub's cost on a short suite. The result depends only on the file's text, the exclusion
rules and coverage's version, so it is kept, pickled, under the cache directory. While the tests
run, a low-priority process (`python -m pytest_boxkoji.coverage.parsed`) parses what is not kept
yet, so that even the first report finds its files parsed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import coverage
from coverage.exceptions import NotPython
from coverage.parser import PythonParser
from coverage.python import PythonFileReporter
from coverage.types import TMorf

log = logging.getLogger(__name__)


def default_exclude() -> str:
    """The exclusion rules of a Coverage without a configuration file, as our reports use."""
    return coverage.Coverage(config_file=False)._exclude_regex("exclude")


class ParsedSources:
    """Parsed files under `<cache>/coverage-parsed/<coverage version>/`, by path and content."""

    def __init__(self, cache_dir: Path) -> None:
        self.directory = cache_dir / "coverage-parsed" / coverage.__version__

    def parser(self, filename: str, exclude: str) -> PythonParser | None:
        """The parsed file, all that a report asks of it done (None: not Python, unreadable)."""
        try:
            text = Path(filename).read_bytes()
        except OSError:
            return None
        key = hashlib.sha256(f"{filename}\0{exclude}\0".encode() + text).hexdigest()
        kept = self.directory / f"{key}.pickle"
        with contextlib.suppress(OSError, pickle.UnpicklingError, EOFError, AttributeError):
            with kept.open("rb") as handle:
                parsed = pickle.load(handle)
            if isinstance(parsed, PythonParser):
                return parsed
        try:
            parsed = PythonParser(filename=filename, exclude=exclude)
            parsed.parse_source()
            parsed.arcs()  # also drops the AST, which a report no longer needs
            parsed.exit_counts()
        except NotPython:
            return None  # coverage's own report says why
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            # Written whole, then renamed: a report never reads half a file.
            with tempfile.NamedTemporaryFile(dir=self.directory, suffix=".tmp", delete=False) as tmp:
                pickle.dump(parsed, tmp, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp.name, kept)
        except OSError as exc:
            log.debug("could not keep the parse of %s: %s", filename, exc)
        return parsed

    def prepare(self, files: Iterable[Path]) -> subprocess.Popen[bytes]:
        """In a low-priority process: parse the files that are not kept yet."""
        command = [sys.executable, "-m", __name__, str(self.directory.parent.parent)]
        return subprocess.Popen(
            [*command, *map(str, files)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=lambda: os.nice(10),  # the services and the tests come first
        )


class ReportingCoverage(coverage.Coverage):
    """coverage.Coverage whose reports take each Python file's parse from `ParsedSources`."""

    def __init__(self, parsed: ParsedSources | None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.parsed = parsed

    def _get_file_reporter(self, morf: TMorf) -> coverage.FileReporter:
        reporter = super()._get_file_reporter(morf)
        # coverage parses lazily, in the `parser` property, when `_parser` is still None.
        if self.parsed is not None and isinstance(reporter, PythonFileReporter) and reporter._parser is None:
            reporter._parser = self.parsed.parser(reporter.filename, self._exclude_regex("exclude"))
        return reporter


def main(argv: list[str]) -> None:
    cache_dir, *files = argv
    parsed, exclude = ParsedSources(Path(cache_dir)), default_exclude()
    for file in files:
        parsed.parser(file, exclude)


if __name__ == "__main__":
    main(sys.argv[1:])
