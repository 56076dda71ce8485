"""Checks across objects: references, unknown permissions, priorities.

Inheritance cycles are allowed, as Koji allows them (koji-habitude's own data has some).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pytest_boxkoji.scenario.model import Key, Path_, Problem, Scenario
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
        problems.append(scenario.problem(key, path, message))

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
        if kind == "group":
            for i, member in enumerate(obj.members):
                need(key, ("members", i), "user", member)
            twice(key, "members", obj.members, "member")
        if kind == "host":
            for i, channel in enumerate(obj.channels):
                need(key, ("channels", i), "channel", channel)
        if kind == "channel":
            for i, host in enumerate(obj.hosts):
                need(key, ("hosts", i), "host", host)
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
    priorities: dict[tuple[str, int], str] = {}
    linked: dict[tuple[str, str], str] = {}  # -> where it was linked first
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
                    f"tag {link.name!r} is already a parent ({first}); "
                    "Koji keeps one link per parent: remove one",
                )
            else:
                problem(
                    key,
                    name_path,
                    f"external-repo {link.name!r} is already linked ({first}); "
                    "Koji links each external repo once: remove one",
                )
        linked.setdefault((link.type, link.name), f"inheritance[{i}]")
        scope = (link.type, link.priority)
        if scope in priorities:
            problem(
                key,
                ("inheritance", i, "priority"),
                f"priority {link.priority} is already used by {priorities[scope]}; each parent needs its own",
            )
        priorities[scope] = f"inheritance[{i}]"
    for i, repo in enumerate(tag.external_repos):
        need(key, ("external-repos", i, "name"), "external-repo", repo.name)
        if ("external-repo", repo.name) in linked:
            problem(
                key,
                ("external-repos", i, "name"),
                f"external-repo {repo.name!r} is already linked ({linked[('external-repo', repo.name)]}); "
                "Koji links each external repo once: remove one",
            )
        scope = ("external-repo", repo.priority)
        if scope in priorities:
            problem(
                key,
                ("external-repos", i, "priority"),
                f"priority {repo.priority} is already used by {priorities[scope]}; "
                "each external repo needs its own",
            )
        priorities[scope] = f"external-repos[{i}]"
        linked.setdefault(("external-repo", repo.name), f"external-repos[{i}]")
    for i, package in enumerate(tag.packages):
        need(key, ("packages", i, "owner"), "user", package.owner)
