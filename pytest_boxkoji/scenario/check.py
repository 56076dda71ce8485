"""Checks across objects: references, inheritance cycles, unknown permissions, priorities."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pytest_boxkoji.scenario.model import Key, Path_, Problem, Scenario, describe
from pytest_boxkoji.scenario.schema import BUILTIN

# Koji's default RegexNameInternal: names it refuses should fail here, not half-way through.
NAME = re.compile(r"^[A-Za-z0-9/_.+-]+$")
NAMED_BY_REGEX = (
    "tag",
    "target",
    "external-repo",
    "channel",
    "permission",
    "btype",
    "archive-type",
    "content-generator",
)


def check_references(scenario: Scenario, known: Mapping[str, Iterable[str]] | None = None) -> list[Problem]:
    """Everything a scenario refers to must exist in it, in Koji's defaults, or on the hub (`known`)."""
    have: dict[str, set[str]] = {kind: set(names) for kind, names in BUILTIN.items()}
    for kind, names in (known or {}).items():
        have.setdefault(kind, set()).update(names)
    for kind, name in scenario.objects:
        have.setdefault(kind, set()).add(name)
    problems: list[Problem] = []

    def problem(key: Key, path: Path_, message: str) -> None:
        file, line = scenario.where(key, path)
        problems.append(Problem(file, line, describe(key[0], key[1], path), message))

    def twice(key: Key, field: str, values: list[str], what: str) -> None:
        first: dict[str, int] = {}
        for i, value in enumerate(values):
            if value in first:
                problem(
                    key, (field, i), f"{what} {value!r} is listed twice ({field}[{first[value]}]); keep one"
                )
            first.setdefault(value, i)

    def need(key: Key, path: Path_, kind: str, name: str) -> None:
        if name in have.get(kind, set()):
            return
        hint = f"declare it (type: {kind})"
        if kind == "permission":
            hint += f" or use one of Koji's: {', '.join(sorted(BUILTIN['permission']))}"
        problem(key, path, f"no {kind} {name!r}; {hint}")

    for (kind, name), typed in scenario.objects.items():
        obj: Any = typed  # each kind has its own fields
        key = (kind, name)
        if kind in NAMED_BY_REGEX and not NAME.match(name):
            problem(key, ("name",), f"{name!r} is not a valid Koji name (letters, digits and /_.+- only)")
        if kind in ("user", "group"):
            for i, perm in enumerate(obj.permissions):
                need(key, ("permissions", i), "permission", perm)
            twice(key, "permissions", obj.permissions, "permission")
            other = "group" if kind == "user" else "user"
            if kind == "user" and (other, name) in scenario.objects:
                # Koji keeps users and groups in one table: one name, one of them.
                problem(
                    key,
                    ("name",),
                    f"{name!r} is also a group; users and groups share names in Koji: rename one",
                )
        if kind == "user":
            for i, group in enumerate(obj.groups):
                need(key, ("groups", i), "group", group)
            twice(key, "groups", obj.groups, "group")
        if kind == "host":
            for i, channel in enumerate(obj.channels):
                need(key, ("channels", i), "channel", channel)
        if kind == "tag":
            _check_tag(scenario, obj, key, need, problem)
        if kind == "target":
            need(key, ("build-tag",), "tag", obj.build_tag)
            if obj.dest_tag is not None:
                need(key, ("dest-tag",), "tag", obj.dest_tag)
            elif obj.name not in have.get("tag", set()):
                problem(
                    key,
                    ("name",),
                    f"no tag {obj.name!r} (without dest-tag, a target builds into the tag "
                    "of its own name); set dest-tag or declare it (type: tag)",
                )
        if kind == "content-generator":
            for i, user in enumerate(obj.users):
                need(key, ("users", i), "user", user)
        if kind == "build":
            for i, tag in enumerate(obj.tags):
                need(key, ("tags", i), "tag", tag)
            need(key, ("owner",), "user", obj.owner)
    problems.extend(_cycles(scenario))
    return problems


def link_key(scenario: Scenario, key: Key, index: int) -> str:
    """`parent` or `name`: report the key the user wrote."""
    located = scenario.origin[key].get("inheritance")
    if located is not None and ("inheritance", index, "parent") in located.lines:
        return "parent"
    return "name"


def _check_tag(scenario, tag, key, need, problem) -> None:  # type: ignore[no-untyped-def]
    if tag.permission:
        need(key, ("permission",), "permission", tag.permission)
    priorities: dict[tuple[str, int], int] = {}
    linked: dict[tuple[str, str], int] = {}
    for i, link in enumerate(tag.inheritance):
        name_path = ("inheritance", i, link_key(scenario, key, i))
        need(key, name_path, link.type, link.name)
        if link.type == "tag" and link.name == tag.name:
            problem(key, name_path, "a tag cannot inherit from itself")
        if link.type == "tag" and link.merge_mode is not None:
            problem(key, ("inheritance", i, "merge-mode"), "merge-mode applies to external repos only")
        if (link.type, link.name) in linked:
            first = linked[(link.type, link.name)]
            if link.type == "tag":
                problem(
                    key,
                    name_path,
                    f"tag {link.name!r} is already a parent (inheritance[{first}]); "
                    "Koji keeps one link per parent: remove one",
                )
            else:
                problem(
                    key,
                    name_path,
                    f"external-repo {link.name!r} is already linked (inheritance[{first}]); "
                    "Koji links each external repo once: remove one",
                )
        linked.setdefault((link.type, link.name), i)
        scope = (link.type, link.priority)
        if scope in priorities:
            problem(
                key,
                ("inheritance", i, "priority"),
                f"priority {link.priority} is already used by inheritance[{priorities[scope]}]; "
                "each parent needs its own",
            )
        priorities[scope] = i
    seen: dict[str, int] = {}
    for i, package in enumerate(tag.packages):
        need(key, ("packages", i, "owner"), "user", package.owner)
        if package.name in seen:
            problem(
                key,
                ("packages", i, "name"),
                f"package {package.name!r} is listed twice (packages[{seen[package.name]}])",
            )
        seen[package.name] = i


def _cycles(scenario: Scenario) -> list[Problem]:
    parents = {
        tag.name: [link.name for link in tag.inheritance if link.type == "tag" and link.name != tag.name]
        for tag in scenario.of("tag")
    }
    problems: list[Problem] = []
    reported: set[frozenset[str]] = set()
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    stack: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        stack.append(name)
        for parent in parents.get(name, []):
            if state.get(parent) == 1:
                cycle = stack[stack.index(parent) :] + [parent]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    tag = scenario.get("tag", name)
                    index = [link.name for link in tag.inheritance].index(parent)
                    path = ("inheritance", index, link_key(scenario, ("tag", name), index))
                    file, line = scenario.where(("tag", name), path)
                    problems.append(
                        Problem(
                            file,
                            line,
                            describe("tag", name, path),
                            f"inheritance cycle: {' -> '.join(cycle)}",
                        )
                    )
            elif parent in parents and state.get(parent) is None:
                visit(parent)
        stack.pop()
        state[name] = 2

    for name in parents:
        if state.get(name) is None:
            visit(name)
    return problems
