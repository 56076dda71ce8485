"""What the services logged during a test: where each log ended when the test began, and what
was added since.

A runtime says where a service's output goes (`Inspection.log_sources`): files in both runtimes
(`Service.log`, `Service.extra_logs`), except that in containers the program's own output is the
container's log. Nothing here names a service: whatever runs in the graph is read.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pytest_boxkoji.services import Service

MAX_LINES = 200  # per log and test: the end of a long log is what explains a failure


class LogSource(Protocol):
    """One place a service writes to."""

    @property
    def key(self) -> str:
        """Identity across marks (a path, a container's id)."""

    @property
    def label(self) -> str:
        """What a report calls it (a file's name, "container log")."""

    @property
    def where(self) -> str:
        """Where the whole log can be read."""

    def position(self) -> float:
        """Where the log ends now (bytes, or a time)."""

    def since(self, position: float | None) -> str:
        """What was written after `position` (None: from the start)."""


class HasLogSources(Protocol):
    """What reading a test's logs needs of a runtime (its `Inspection` part)."""

    def log_sources(self, service: Service) -> list[LogSource]: ...


@dataclass(frozen=True)
class FileLog:
    """A log file: positions are byte offsets."""

    path: Path

    @property
    def key(self) -> str:
        return str(self.path)

    @property
    def label(self) -> str:
        return self.path.name

    @property
    def where(self) -> str:
        return str(self.path)

    def position(self) -> float:
        try:
            return os.stat(self.path).st_size
        except OSError:
            return 0

    def since(self, position: float | None) -> str:
        try:
            with open(self.path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                start = int(position or 0)
                handle.seek(start if start <= size else 0)  # shorter than before: written anew
                return handle.read().decode(errors="replace")
        except OSError:
            return ""


def file_sources(service: Service) -> list[LogSource]:
    return [FileLog(path) for path in (service.log, *service.extra_logs)]


@dataclass
class Marks:
    """Where each log of the running services ended at one moment (a test's start)."""

    positions: dict[str, float] = field(default_factory=dict)
    sources: dict[str, tuple[str, LogSource]] = field(default_factory=dict)  # key: (service, source)

    @classmethod
    def take(cls, runtime: HasLogSources, services: Iterable[Service]) -> Marks:
        marks = cls()
        for name, source in _sources(runtime, services):
            marks.positions[source.key] = source.position()
            marks.sources[source.key] = (name, source)
        return marks

    def sections(
        self, runtime: HasLogSources, services: Iterable[Service], max_lines: int = MAX_LINES
    ) -> list[tuple[str, str]]:
        """(title, text) of every log that grew since the mark: services that started since are
        read from their start, services that stopped since as far as their logs remain."""
        found = dict(self.sources)
        for name, source in _sources(runtime, services):
            found[source.key] = (name, source)
        sections = []
        for key, (name, source) in found.items():
            text = source.since(self.positions.get(key))
            if text.strip():
                title = f"boxkoji log: {name} ({source.label})"
                sections.append((title, tail(text, max_lines, source.where)))
        return sections


def _sources(runtime: HasLogSources, services: Iterable[Service]) -> list[tuple[str, LogSource]]:
    return [(service.name, source) for service in services for source in runtime.log_sources(service)]


def tail(text: str, max_lines: int, where: str) -> str:
    lines = text.rstrip("\n").splitlines()
    if len(lines) <= max_lines:
        return "\n".join(lines)
    cut = len(lines) - max_lines
    return "\n".join([f"({cut} earlier lines of this test not shown: {where})", *lines[-max_lines:]])


def follow_file(path: Path, going: Callable[[], bool], poll: float = 0.2) -> Iterator[str]:
    """The file's text, then (while `going()`) what is appended to it, like `tail -f`."""
    try:
        handle = open(path, errors="replace")  # noqa: SIM115 - closed below, the generator may stop early
    except FileNotFoundError:
        return
    with handle:
        while True:
            chunk = handle.read()
            if chunk:
                yield chunk
            elif not going():
                return
            else:
                time.sleep(poll)
