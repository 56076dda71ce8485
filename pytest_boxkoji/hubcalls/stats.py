"""The hub's call records (written by recording_app.py): reading them from an offset, summing them per
method, and showing the sums as a table or JSON."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_boxkoji import inside

APP = inside.DIRECTORY / "recording_app.py"  # runs in the hub, not here
UNSUPPORTED = "#unsupported"


@dataclass(frozen=True)
class Call:
    """One XML-RPC call the hub served."""

    method: str
    seconds: float  # inside the hub's dispatch: no network, TLS or login handshake
    fault: str  # the exception's class name (ActionNotAllowed, GenericError...), "" if it returned
    user: str  # who was logged in, "" when nobody was
    nested: bool  # inside a multiCall: its time is also part of the multiCall's


@dataclass
class MethodStats:
    """One method's calls: how many, their total and slowest time (seconds), how many faulted."""

    count: int = 0
    total: float = 0.0
    max: float = 0.0
    faults: int = 0

    def add(self, call: Call) -> None:
        self.count += 1
        self.total += call.seconds
        self.max = max(self.max, call.seconds)
        self.faults += bool(call.fault)

    def merge(self, other: MethodStats) -> None:
        self.count += other.count
        self.total += other.total
        self.max = max(self.max, other.max)
        self.faults += other.faults

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "total": self.total, "max": self.max, "faults": self.faults}


def size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def read(path: Path, start: int = 0) -> tuple[list[Call], int]:
    """The calls recorded after byte `start`, and the offset after the last whole line (a line
    being written is read next time)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(start)
            data = handle.read()
    except OSError:
        return [], start
    end = data.rfind(b"\n") + 1
    return parse(data[:end].decode(errors="replace")), start + end


def parse(text: str) -> list[Call]:
    calls = []
    for line in text.splitlines():
        fields = line.split("\t")
        if line.startswith("#") or len(fields) != 5:
            continue
        method, seconds, fault, user, depth = fields
        calls.append(Call(method, float(seconds), fault, user, depth != "0"))
    return calls


def unsupported(path: Path) -> str | None:
    """Why the hub records nothing (a Koji without the hook), or None."""
    try:
        with open(path) as handle:
            first = handle.readline()
    except OSError:
        return None
    return first.split("\t", 1)[1].strip() if first.startswith(UNSUPPORTED) else None


def by_method(calls: Iterable[Call]) -> dict[str, MethodStats]:
    methods: dict[str, MethodStats] = {}
    for call in calls:
        methods.setdefault(call.method, MethodStats()).add(call)
    return dict(sorted(methods.items()))


def merge(tables: Iterable[Mapping[str, MethodStats]]) -> dict[str, MethodStats]:
    total: dict[str, MethodStats] = {}
    for table in tables:
        for method, stats in table.items():
            total.setdefault(method, MethodStats()).merge(stats)
    return dict(sorted(total.items()))


def from_dicts(methods: Mapping[str, Mapping[str, Any]]) -> dict[str, MethodStats]:
    return {name: MethodStats(**values) for name, values in methods.items()}


def table(methods: Mapping[str, MethodStats], indent: str = "  ") -> list[str]:
    """Lines of a table: method, calls, faults, total and slowest time in milliseconds."""
    width = max([len("method"), *(len(m) for m in methods)])
    lines = [f"{indent}{'method':<{width}}  {'calls':>6}  {'faults':>6}  {'total ms':>10}  {'max ms':>9}"]
    for method, stats in methods.items():
        lines.append(
            f"{indent}{method:<{width}}  {stats.count:>6}  {stats.faults:>6}  "
            f"{stats.total * 1000:>10.1f}  {stats.max * 1000:>9.1f}"
        )
    return lines


class HubCalls:
    """What `koji_hub_calls` gives a test: the calls the hub served since the test's body began
    (or since `reset()`), read anew at each question.

    `calls["createTag"]` is that method's MethodStats (zero when never called); `methods()` all
    of them; `calls(user=...)` the records. Everyone's calls count, builders' and kojira's
    included: filter with `user=`.
    """

    def __init__(self, path: Path, start: int) -> None:
        self.path = path
        self.start = start

    def reset(self) -> None:
        """Count from now on."""
        self.start = size(self.path)

    def calls(self, user: str | None = None) -> list[Call]:
        found, _end = read(self.path, self.start)
        return [c for c in found if user is None or c.user == user]

    def methods(self, user: str | None = None) -> dict[str, MethodStats]:
        return by_method(self.calls(user))

    def __getitem__(self, method: str) -> MethodStats:
        return self.methods().get(method, MethodStats())

    def __contains__(self, method: object) -> bool:
        return method in self.methods()

    def __repr__(self) -> str:
        return "\n".join(["HubCalls:", *table(self.methods())])
