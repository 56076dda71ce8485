"""Reading scenario files: YAML documents with their positions, includes and the search path."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pytest_boxkoji.errors import BoxKojiError
from pytest_boxkoji.scenario.schema import MODELS, Obj

Key = tuple[str, str]  # (type, name)
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario, where it is, and what to do."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


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
        origins = self.origin[key]
        top = str(path[0]) if path else "name"
        located = origins.get(top) or origins["name"]
        return located.file, located.line(path)

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


def _line_map(
    node: yaml.Node, path: Path_, lines: dict[Path_, int], problems: list[Problem], file: str
) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                problems.append(
                    Problem(
                        file,
                        key_node.start_mark.line + 1,
                        ".".join(map(str, path + (key,))),
                        "duplicate key in one mapping; keep one",
                    )
                )
            seen.add(key)
            lines[path + (key,)] = key_node.start_mark.line + 1
            _line_map(value_node, path + (key,), lines, problems, file)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[path + (index,)] = item.start_mark.line + 1
            _line_map(item, path + (index,), lines, problems, file)


def read_documents(path: Path, display: str) -> tuple[list[tuple[Any, Located]], list[Problem]]:
    """Every YAML document of a file with its line map; YAML syntax errors become Problems."""
    problems: list[Problem] = []
    try:
        text = path.read_text()
    except OSError as exc:
        return [], [Problem(display, 0, "", f"cannot read the file: {exc.strerror}")]
    docs: list[tuple[Any, Located]] = []
    try:
        for node in yaml.compose_all(text, Loader=yaml.SafeLoader):
            if node is None:
                continue
            lines: dict[Path_, int] = {}
            _line_map(node, (), lines, problems, display)
            value = yaml.SafeLoader(yaml.serialize(node)).get_single_data()
            docs.append((value, Located(display, lines, path)))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        reason = getattr(exc, "problem", None) or str(exc)
        problems.append(Problem(display, line, "", f"not valid YAML: {reason}"))
    return docs, problems


def packaged_dir() -> Path:
    return Path(str(resources.files("pytest_boxkoji.scenarios")))


def find_file(name: str, near: Path | None, dirs: Iterable[Path]) -> Path | None:
    """Next to the test (or including file) first, then the configured dirs, then the packaged ones."""
    candidate = Path(name).expanduser()
    if candidate.is_absolute():
        return candidate if candidate.is_file() else None
    for directory in ([near] if near else []) + list(dirs) + [packaged_dir()]:
        if (directory / name).is_file():
            return directory / name
    return None


def search_places(near: Path | None, dirs: Iterable[Path]) -> str:
    return ", ".join(str(d) for d in ([near] if near else []) + list(dirs) + [packaged_dir()])


def _message(error: dict[str, Any], model: type[Obj], path: Path_) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        target: Any = model
        # Nested models: list the keys allowed where the unknown one is.
        for part in path[:-1]:
            if isinstance(part, str) and hasattr(target, "model_fields"):
                fields = {f.alias or n: f for n, f in target.model_fields.items()}
                annotation = fields[part].annotation if part in fields else None
                args = getattr(annotation, "__args__", ())
                target = args[0] if args else annotation
        if hasattr(target, "model_fields"):
            allowed = sorted(f.alias or n for n, f in target.model_fields.items() if n != "type")
            return f"unknown key; allowed here: {', '.join(allowed)}"
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    text = str(error["msg"])
    if text.startswith("Value error, "):
        text = text[len("Value error, ") :]
    if "input" in error and kind not in ("value_error",):
        text += f", got {error['input']!r}"
    return text[0].lower() + text[1:]


def validate_document(data: Any, located: Located) -> tuple[Obj | None, list[Problem]]:
    """One document to one typed object, or the problems with it (file:line: type[name].key)."""
    file = located.file
    if not isinstance(data, dict):
        return None, [
            Problem(file, located.line(), "", "a scenario document must be a mapping with a 'type' key")
        ]
    kind = data.get("type")
    name = data.get("name") if isinstance(data.get("name"), str) else None
    if kind is None:
        return None, [
            Problem(
                file,
                located.line(),
                describe("?", name, ()),
                f"'type' is missing; one of: {', '.join(sorted(MODELS))}",
            )
        ]
    model = MODELS.get(str(kind))
    if model is None:
        return None, [
            Problem(
                file,
                located.line(("type",)),
                describe(str(kind), name, ("type",)),
                f"unknown object type {kind!r}; one of: {', '.join(sorted(MODELS))}",
            )
        ]
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            path = tuple(error["loc"])
            problems.append(
                Problem(
                    file, located.line(path), describe(str(kind), name, path), _message(error, model, path)
                )
            )
        return None, problems


def load(names: Sequence[str], near: Path | None = None, dirs: Sequence[Path] = ()) -> Scenario:
    """Read, validate and merge scenario files; later files extend earlier ones.

    Raises ScenarioError listing every problem; nothing is ever half-loaded.
    """
    from pytest_boxkoji.scenario.check import check_references

    scenario = Scenario(files=tuple(names))
    raw: dict[Key, dict[str, Any]] = {}
    problems: list[Problem] = []
    visiting: list[Path] = []

    def load_file(name: str, base: Path | None, included_from: Problem | None) -> None:
        path = find_file(name, base, dirs)
        if path is None:
            where = included_from or Problem(name, 0, "", "")
            problems.append(
                Problem(
                    where.file,
                    where.line,
                    where.path,
                    f"scenario file {name!r} not found; looked in {search_places(base, dirs)}",
                )
            )
            return
        path = path.resolve()
        display = _display(path, near)
        if path in visiting:
            chain = " -> ".join(_display(p, near) for p in [*visiting, path])
            problems.append(Problem(display, 0, "include", f"include cycle: {chain}"))
            return
        visiting.append(path)
        docs, file_problems = read_documents(path, display)
        problems.extend(file_problems)
        in_this_file: dict[Key, int] = {}
        for data, located in docs:
            if isinstance(data, dict) and set(data) == {"include"}:
                includes = data["include"]
                for index, inc in enumerate([includes] if isinstance(includes, str) else includes or []):
                    at = Problem(display, located.line(("include", index)), f"include[{index}]", "")
                    load_file(str(inc), path.parent, at)
                continue
            if isinstance(data, list):  # a document may also be a list of objects
                items = [
                    (item, Located(located.file, _shift(located.lines, i))) for i, item in enumerate(data)
                ]
            else:
                items = [(data, located)]
            for item, where in items:
                obj, doc_problems = validate_document(item, where)
                problems.extend(doc_problems)
                if obj is None:
                    continue
                key = (obj.type, obj.name)
                if key in in_this_file:
                    problems.append(
                        Problem(
                            display,
                            where.line(("name",)),
                            describe(obj.type, obj.name, ("name",)),
                            f"duplicate {obj.type} {obj.name!r} (first at line {in_this_file[key]}); "
                            "merge the two or rename one",
                        )
                    )
                    continue
                in_this_file[key] = where.line(("name",))
                assert isinstance(item, dict)
                _merge(scenario, raw, key, item, where, problems)
        visiting.pop()

    for name in names:
        load_file(name, near, None)
    if not problems:
        problems.extend(check_references(scenario))
    if problems:
        raise ScenarioError(problems)
    return scenario


def _shift(lines: dict[Path_, int], index: int) -> dict[Path_, int]:
    return {path[1:]: line for path, line in lines.items() if path[:1] == (index,)}


def _merge(
    scenario: Scenario,
    raw: dict[Key, dict[str, Any]],
    key: Key,
    item: dict[str, Any],
    where: Located,
    problems: list[Problem],
) -> None:
    if key not in raw:
        raw[key] = dict(item)
        scenario.origin[key] = {top: where for top in item}
        scenario.objects[key] = MODELS[key[0]].model_validate(item)
        return
    merged = {**raw[key], **item}
    obj, merge_problems = validate_document(merged, where)
    if obj is None:
        problems.extend(merge_problems)
        return
    raw[key] = merged
    scenario.origin[key].update({top: where for top in item})
    scenario.objects[key] = obj


def _display(path: Path, near: Path | None) -> str:
    # Positions read best relative to where the test is, as a user would open them.
    for base in ([near] if near else []) + [Path.cwd(), packaged_dir()]:
        try:
            return str(path.relative_to(base.resolve()))
        except ValueError:
            continue
    return str(path)
