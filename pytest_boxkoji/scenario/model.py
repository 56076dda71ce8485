"""What a loaded scenario is: its objects, where each came from, and what is wrong with it.

Shared by the loader (loader.py) and the checks (check.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_boxkoji.errors import BoxKojiError
from pytest_boxkoji.scenario.schema import Obj

Key = tuple[str, str]  # (type, name)
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario, where it is, and what to do."""

    file: str
    line: int
    path: str
    message: str
    via: str = ""  # the templates that made the object, when a template made it

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        return f"{text} ({self.via})" if self.via else text


class ScenarioError(BoxKojiError):
    """A scenario that cannot be applied; nothing was changed on the hub."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class Located:
    """Where a document came from: its file and the line of every key path inside it."""

    file: str
    lines: dict[Path_, int]
    source: Path | None = None  # the file itself, for paths written relative to it
    duplicates: list[Path_] = field(default_factory=list)  # keys written twice in one mapping
    via: str = ""  # "made by template X (file:line)": the document came out of a template

    def line(self, path: Path_ = ()) -> int:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)


@dataclass
class Scenario:
    """The merged objects of one or more files, in the order they were first declared."""

    files: tuple[str, ...]
    objects: dict[Key, Obj] = field(default_factory=dict)
    origin: dict[Key, dict[str, Located]] = field(default_factory=dict)  # top-level key -> where

    def of(self, kind: str) -> list[Any]:
        return [obj for (t, _), obj in self.objects.items() if t == kind]

    def get(self, kind: str, name: str) -> Any:
        return self.objects.get((kind, name))

    def where(self, key: Key, path: Path_ = ()) -> tuple[str, int]:
        located = self.located(key, path)
        return located.file, located.line(path)

    def located(self, key: Key, path: Path_ = ()) -> Located:
        origins = self.origin[key]
        top = str(path[0]) if path else "name"
        # A name left out (the hub, a `multi` entry) has no position of its own: the object's has.
        return origins.get(top) or origins.get("name") or next(iter(origins.values()))

    def problem(self, key: Key, path: Path_, message: str) -> Problem:
        """A problem with one object, at the place its key was written."""
        located = self.located(key, path)
        return Problem(located.file, located.line(path), describe(key[0], key[1], path), message, located.via)

    @property
    def digest(self) -> str:
        """Identifies the content (not the file names): equal scenarios share a snapshot."""
        data = [[t, n, obj.model_dump(mode="json", by_alias=True)] for (t, n), obj in self.objects.items()]
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def describe(kind: str, name: str | None, path: Path_) -> str:
    text = f"{kind}[{name if name is not None else '?'}]"
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text
