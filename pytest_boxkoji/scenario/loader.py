"""Reading scenario files: YAML documents with their positions, includes, directories, the
search path, and koji-habitude's templates (templates.py) expanded before the objects are checked."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pytest_boxkoji.scenario.check import check_references
from pytest_boxkoji.scenario.model import Key, Located, Path_, Problem, Scenario, ScenarioError, describe
from pytest_boxkoji.scenario.schema import MODELS, Obj
from pytest_boxkoji.scenario.templates import Doc, expand

# What callers import from here (the model lives in model.py, shared with check.py).
__all__ = ["Key", "Located", "Path_", "Problem", "Scenario", "ScenarioError", "describe", "load"]


def _line_map(node: yaml.Node, path: Path_, located: Located) -> None:
    located.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                located.duplicates.append(path + (key,))
                # The position of the second one: that is the one to remove.
                located.lines[path + (key, "#dup")] = key_node.start_mark.line + 1
            seen.add(key)
            located.lines.setdefault(path + (key,), key_node.start_mark.line + 1)
            _line_map(value_node, path + (key,), located)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            located.lines[path + (index,)] = item.start_mark.line + 1
            _line_map(item, path + (index,), located)


def read_documents(path: Path, display: str) -> tuple[list[tuple[Any, Located]], list[Problem]]:
    """Every YAML document of a file with its line map; YAML syntax errors become Problems."""
    try:
        text = path.read_text()
    except OSError as exc:
        return [], [Problem(display, 0, "", f"cannot read the file: {exc.strerror}")]
    try:
        # libyaml's parser (C) when it is there, ten times faster; any error is read again with
        # PyYAML's own, whose messages the corpus of invalid scenarios pins down.
        return _documents(text, path, display, getattr(yaml, "CSafeLoader", yaml.SafeLoader)), []
    except yaml.YAMLError:
        pass
    try:
        return _documents(text, path, display, yaml.SafeLoader), []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        reason = getattr(exc, "problem", None) or str(exc)
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and context_mark is not None and context_mark.line + 1 != line:
            reason += f" ({context} at line {context_mark.line + 1})"
        return [], [Problem(display, line, "", f"not valid YAML: {reason}")]


def _documents(text: str, path: Path, display: str, loader: Any) -> list[tuple[Any, Located]]:
    docs: list[tuple[Any, Located]] = []
    for node in yaml.compose_all(text, Loader=loader):
        if node is None:
            continue
        located = Located(display, {}, path)
        _line_map(node, (), located)
        docs.append((yaml.SafeLoader("").construct_document(node), located))  # no second parse
    return docs


def packaged_dir() -> Path:
    return Path(str(resources.files("pytest_boxkoji.scenarios")))


def find_file(name: str, near: Path | None, dirs: Iterable[Path]) -> Path | None:
    """Next to the test (or including file) first, then the configured dirs, then the packaged ones.

    A directory is found too: it stands for its .yaml and .yml files, as koji-habitude reads one."""
    candidate = Path(name).expanduser()
    if candidate.is_absolute():
        return candidate if candidate.is_file() or candidate.is_dir() else None
    for directory in ([near] if near else []) + list(dirs) + [packaged_dir()]:
        if (directory / name).is_file() or (directory / name).is_dir():
            return directory / name
    return None


def directory_files(directory: Path) -> list[Path]:
    """The scenario files of a directory, in koji-habitude's order (sorted, not recursive)."""
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def search_places(near: Path | None, dirs: Iterable[Path]) -> str:
    return ", ".join(str(d) for d in ([near] if near else []) + list(dirs) + [packaged_dir()])


def _keys(model: Any) -> dict[str, Any]:
    """Every key a model accepts (aliases and alias choices included) -> its field."""
    keys: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        choices = getattr(info.validation_alias, "choices", None)
        for key in choices or [info.alias or name]:
            keys[str(key)] = info
    return keys


def _message(error: Mapping[str, Any], model: type[Obj], path: Path_) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        target: Any = model
        # Nested models: list the keys allowed where the unknown one is.
        for part in path[:-1]:
            if isinstance(part, str) and hasattr(target, "model_fields"):
                info = _keys(target).get(part)
                annotation = info.annotation if info else None
                args = getattr(annotation, "__args__", ())
                target = args[0] if args else annotation
        if path[-1] == "include":
            return "include must be a document of its own: put `include: [...]` before a `---`"
        if hasattr(target, "model_fields"):
            hidden = {"type"} if target is model else set()
            allowed = sorted(k for k in _keys(target) if k not in hidden)
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
    obj, problems = _validate_document(data, located)
    if located.via:  # made by a template: say which
        problems = [dataclasses.replace(p, via=located.via) for p in problems]
    return obj, problems


def _is_object(data: Any) -> bool:
    """An object document (or one too malformed to be anything else), not a template's call."""
    return not isinstance(data, dict) or data.get("type") is None or str(data.get("type")) in MODELS


def _validate_document(data: Any, located: Located) -> tuple[Obj | None, list[Problem]]:
    file = located.file
    if not isinstance(data, dict):
        return None, [
            Problem(file, located.line(), "", "a scenario document must be a mapping with a 'type' key")
        ]
    kind = data.get("type")
    name = data.get("name") if isinstance(data.get("name"), str) else None
    if name is None and kind in MODELS:
        default = MODELS[str(kind)].model_fields["name"].default
        name = default if isinstance(default, str) else None
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
    problems = [
        Problem(
            file,
            located.line(dup + ("#dup",)),
            describe(str(kind), name, dup),
            "duplicate key in one mapping; keep one",
        )
        for dup in located.duplicates
    ]
    try:
        obj = model.model_validate(data)
    except ValidationError as exc:
        problems += _validation_problems(exc, data, model, located, str(kind), name)
        return None, sorted(problems, key=lambda p: p.line)
    return (None if problems else obj), problems


PRIMITIVES = {"str": "a string", "int": "a number", "float": "a number", "bool": "a boolean"}


def _validation_problems(
    exc: ValidationError,
    data: dict[str, Any],
    model: type[Obj],
    located: Located,
    kind: str,
    name: str | None,
) -> list[Problem]:
    problems: list[Problem] = []
    unions: dict[Path_, Any] = {}
    for error in exc.errors():
        path = _source_path(tuple(error["loc"]), data)
        if path and path[-1] in PRIMITIVES:  # one value that fits no member of a union: say it once
            unions.setdefault(path[:-1], error.get("input"))
            continue
        problems.append(
            Problem(
                located.file,
                located.line(path),
                describe(kind, name, path),
                _message(error, model, tuple(error["loc"])),
            )
        )
    for path, value in unions.items():
        problems.append(
            Problem(
                located.file,
                located.line(path),
                describe(kind, name, path),
                f"input should be a string, a number or a boolean, got {value!r}",
            )
        )
    return problems


def _source_path(loc: Path_, data: dict[str, Any]) -> Path_:
    """Positions in what the user wrote: `groups: {build: ...}` is validated as a list."""
    groups = data.get("groups")
    if len(loc) >= 2 and loc[0] == "groups" and isinstance(loc[1], int) and isinstance(groups, dict):
        keys = list(groups)
        if loc[1] < len(keys):
            rest = loc[2:]
            if isinstance(groups[keys[loc[1]]], list) and rest[:1] == ("packages",):
                rest = rest[1:]  # {group: [packages]}: the list is the packages
            return ("groups", keys[loc[1]], *rest)
    return loc


def load(names: Sequence[str], near: Path | None = None, dirs: Sequence[Path] = ()) -> Scenario:
    """Read, expand, validate and merge scenario files; later files extend earlier ones.

    Raises ScenarioError listing every problem; nothing is ever half-loaded.
    """

    scenario = Scenario(files=tuple(names))
    raw: dict[Key, dict[str, Any]] = {}
    problems: list[Problem] = []
    docs: list[Doc] = []
    visiting: list[Path] = []
    units = itertools.count()

    def load_file(name: str, base: Path | None, included_from: Problem | None) -> None:
        path = find_file(name, base, dirs)
        if path is None:
            at = included_from or Problem(name, 0, "", "")
            problems.append(
                Problem(
                    at.file,
                    at.line,
                    at.path,
                    f"scenario file {name!r} not found; looked in {search_places(base, dirs)}",
                )
            )
            return
        path = path.resolve()
        if path.is_dir():
            files = directory_files(path)
            if not files:
                at = included_from or Problem(_display(path, near), 0, "", "")
                problems.append(
                    Problem(at.file, at.line, at.path, f"directory {path} has no .yaml or .yml file")
                )
            for file in files:
                read_file(file, included_from)
            return
        read_file(path, included_from)

    def read_file(path: Path, included_from: Problem | None) -> None:
        display = _display(path, near)
        if path in visiting:
            chain = " -> ".join(_display(p, near) for p in [*visiting, path])
            at = included_from or Problem(display, 0, "include", "")
            problems.append(Problem(at.file, at.line, at.path, f"include cycle: {chain}"))
            return
        visiting.append(path)
        found, file_problems = read_documents(path, display)
        problems.extend(file_problems)
        unit = next(units)
        for data, located in found:
            if isinstance(data, dict) and set(data) == {"include"}:
                includes = data["include"]
                if isinstance(includes, str):
                    includes = [includes]
                if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
                    problems.append(
                        Problem(
                            display,
                            located.line(("include",)),
                            "include",
                            f"expected a file name or a list of file names, got {data['include']!r}",
                        )
                    )
                    continue
                for index, inc in enumerate(includes):
                    at = Problem(display, located.line(("include", index)), f"include[{index}]", "")
                    load_file(str(inc), path.parent, at)
                continue
            if isinstance(data, list):  # a document may also be a list of objects
                docs.extend(
                    Doc(item, Located(located.file, _shift(located.lines, i), located.source), unit)
                    for i, item in enumerate(data)
                )
            else:
                docs.append(Doc(data, located, unit))
        visiting.pop()

    for name in names:
        load_file(name, near, None)
    objects, expand_problems = expand(docs, _is_object)
    problems.extend(expand_problems)
    first_in_file: dict[tuple[int, Key], int] = {}
    for doc in objects:
        obj, doc_problems = validate_document(doc.data, doc.located)
        problems.extend(doc_problems)
        if obj is None:
            continue
        key = (obj.type, obj.name)
        where = doc.located
        if (doc.unit, key) in first_in_file:
            problems.append(
                Problem(
                    where.file,
                    where.line(("name",)),
                    describe(obj.type, obj.name, ("name",)),
                    f"duplicate {obj.type} {obj.name!r} (first at line {first_in_file[(doc.unit, key)]}); "
                    "merge the two or rename one",
                    where.via,
                )
            )
            continue
        first_in_file[(doc.unit, key)] = where.line(("name",))
        assert isinstance(doc.data, dict)
        _merge(scenario, raw, key, doc.data, where, problems)
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
