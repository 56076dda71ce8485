"""Property tests: random valid scenarios, applied to the real hub, read back equal (needs Koji).

Each example is written as YAML, prepared with `boxkoji.scenarios.prepare` (restore the empty
hub, apply, snapshot) and compared, as plain data, with what the Koji API returns.
"""

from __future__ import annotations

import hashlib
import string
from pathlib import Path
from typing import Any

import koji
import pytest
import yaml
from hubfacts import is_infrastructure
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pytest_boxkoji.scenario.schema import BUILTIN

pytestmark = [pytest.mark.integration, pytest.mark.needs_koji]

NAME_CHARS = string.ascii_letters + string.digits + "-_."
RESERVED = {"kojiadmin", "admin", "kojira"}
ARCHES = ["x86_64", "aarch64", "noarch"]
BUILTIN_PERMS = ["tag", "target", "repo"]
# Names YAML would read as something else if they were written unquoted.
TRICKY = ["1", "0.5", "1e3", "on", "no", "null", "true", "0x1F", "1_000", "007", ".5"]
# A small shared pool so that the same package shows up in parents and children.
PACKAGE_POOL = ["bash", "zsh", "hello", "coreutils"]

SETTINGS = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def names(min_size: int = 0, max_size: int = 4, exclude: frozenset[str] = frozenset()) -> Any:
    """Unique valid Koji names (letters, digits, - _ .), never a reserved or excluded one."""
    name = st.one_of(
        st.text(alphabet=NAME_CHARS, min_size=1, max_size=12),
        st.sampled_from(TRICKY),
    ).filter(lambda n: n not in RESERVED and n not in exclude and n not in (".", ".."))
    return st.lists(name, min_size=min_size, max_size=max_size, unique=True)


def subset(draw: Any, items: list[str], max_size: int | None = None, min_size: int = 0) -> list[str]:
    if not items:
        return []
    return draw(st.lists(st.sampled_from(items), unique=True, min_size=min_size, max_size=max_size))


@st.composite
def scenarios(draw: Any, rich: bool = False) -> list[dict[str, Any]]:
    """The documents of one valid scenario: permissions, groups, users, tags, targets.

    `rich`: at least a group with a member, three tags, each later one inheriting and with
    packages, and a target on the first two tags (so the last one is free to delete).
    """
    least = 1 if rich else 0
    docs: list[dict[str, Any]] = []

    perms = draw(names(max_size=3, exclude=frozenset(BUILTIN["permission"])))
    for perm in perms:
        doc: dict[str, Any] = {"type": "permission", "name": perm}
        if draw(st.booleans()):
            doc["description"] = draw(st.text(alphabet=string.ascii_letters + " ", max_size=20))
        docs.append(doc)
    grantable = perms + BUILTIN_PERMS

    # Users and groups share Koji's users table: their names must not meet.
    principals = draw(names(min_size=2 * least, max_size=6))
    ngroups = draw(st.integers(least, min(2, len(principals) - least)))
    groups, users = principals[:ngroups], principals[ngroups:]
    for group in groups:
        docs.append(
            {
                "type": "group",
                "name": group,
                "permissions": subset(draw, grantable, 3),
                "enabled": draw(st.booleans()),
            }
        )
    for user in users:
        docs.append(
            {
                "type": "user",
                "name": user,
                "enabled": draw(st.booleans()),
                "permissions": subset(draw, grantable, 3),
                "groups": subset(draw, groups, min_size=least),
            }
        )
    owners = ["kojiadmin", *users]

    tags = draw(names(min_size=3 * least, max_size=5))
    for index, tag in enumerate(tags):
        doc = {
            "type": "tag",
            "name": tag,
            "arches": subset(draw, ARCHES),
            "lock": draw(st.booleans()),
            "extras": draw(
                st.dictionaries(
                    st.text(alphabet=NAME_CHARS, min_size=1, max_size=10),
                    st.one_of(
                        st.text(alphabet=string.ascii_letters + string.digits + " ", max_size=10),
                        st.integers(-(2**31), 2**31 - 1),
                    ),
                    max_size=3,
                )
            ),
        }
        if draw(st.booleans()):
            doc["permission"] = draw(st.sampled_from(grantable))
        parents = subset(draw, tags[:index], 3, min_size=least)  # earlier tags only: a DAG
        priorities = draw(
            st.lists(st.integers(0, 1000), min_size=len(parents), max_size=len(parents), unique=True)
        )
        doc["inheritance"] = [
            {
                "name": parent,
                "priority": priority,
                "max-depth": draw(st.none() | st.integers(0, 5)),
                "intransitive": draw(st.booleans()),
                "no-config": draw(st.booleans()),
            }
            for parent, priority in zip(parents, priorities, strict=True)
        ]
        packages = draw(
            st.lists(
                st.sampled_from(PACKAGE_POOL) | st.text(alphabet=NAME_CHARS, min_size=1, max_size=10),
                unique=True,
                min_size=least,
                max_size=4,
            )
        )
        doc["packages"] = [
            {"name": p, "owner": draw(st.sampled_from(owners)), "blocked": draw(st.booleans())}
            for p in packages
        ]
        docs.append(doc)

    if tags:
        for target in draw(names(min_size=least, max_size=3)):
            docs.append(
                {
                    "type": "target",
                    "name": target,
                    "build-tag": draw(st.sampled_from(tags[:2] if rich else tags)),
                    "dest-tag": draw(st.sampled_from(tags[:2] if rich else tags)),
                }
            )
    return docs


def expected_state(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """What the hub should say once `docs` are applied, in the shape of `hub_state`."""
    of = {
        kind: [d for d in docs if d["type"] == kind]
        for kind in ("permission", "group", "user", "tag", "target")
    }
    group_perms = {g["name"]: set(g["permissions"]) for g in of["group"]}
    return {
        "permissions": {p["name"]: p.get("description") for p in of["permission"]},
        "users": {"kojiadmin": 0, **{u["name"]: 0 if u["enabled"] else 1 for u in of["user"]}},
        "groups": {g["name"]: 0 if g["enabled"] else 1 for g in of["group"]},
        "user_perms": {
            "kojiadmin": {"admin"},
            **{
                u["name"]: set(u["permissions"]).union(*(group_perms[g] for g in u["groups"]))
                for u in of["user"]
            },
        },
        "members": {
            g["name"]: {u["name"] for u in of["user"] if g["name"] in u["groups"]} for g in of["group"]
        },
        "tags": {
            t["name"]: {
                "arches": t["arches"],
                "locked": t["lock"],
                "perm": t.get("permission"),
                "extra": t["extras"],
                "inheritance": sorted(
                    (
                        link["name"],
                        link["priority"],
                        link["max-depth"],
                        link["intransitive"],
                        link["no-config"],
                    )
                    for link in t["inheritance"]
                ),
                "packages": {p["name"]: (p["owner"], p["blocked"]) for p in t["packages"]},
            }
            for t in of["tag"]
        },
        "targets": {t["name"]: (t["build-tag"], t["dest-tag"]) for t in of["target"]},
    }


def hub_state(session: koji.ClientSession) -> dict[str, Any]:
    """The same facts, read through the Koji API only."""
    users = [u for u in session.listUsers() if not is_infrastructure(u["name"])]
    groups = session.listUsers(userType=koji.USERTYPES["GROUP"])
    tags = {}
    for name in sorted(t["name"] for t in session.listTags()):
        info = session.getTag(name)
        tags[name] = {
            "arches": (info["arches"] or "").split(),
            "locked": info["locked"],
            "perm": info["perm"],
            "extra": info["extra"],
            "inheritance": sorted(
                (p["name"], p["priority"], p["maxdepth"], p["intransitive"], p["noconfig"])
                for p in session.getInheritanceData(name)
            ),
            "packages": {
                p["package_name"]: (p["owner_name"], p["blocked"])
                for p in session.listPackages(tagID=info["id"], inherited=False)
            },
        }
    builtin = BUILTIN["permission"]
    return {
        "permissions": {
            p["name"]: p["description"] for p in session.getAllPerms() if p["name"] not in builtin
        },
        "users": {u["name"]: u["status"] for u in users},
        "groups": {g["name"]: g["status"] for g in groups},
        "user_perms": {u["name"]: set(session.getUserPerms(u["name"])) for u in users},
        "members": {g["name"]: {m["name"] for m in session.getGroupMembers(g["name"])} for g in groups},
        "tags": tags,
        "targets": {t["name"]: (t["build_tag_name"], t["dest_tag_name"]) for t in session.getBuildTargets()},
    }


def write_scenario(directory: Path, docs: list[dict[str, Any]]) -> Path:
    # One file per content: ScenarioStates caches loaded files by their path.
    text = yaml.safe_dump_all(docs, sort_keys=False)
    path = directory / f"generated-{hashlib.sha256(text.encode()).hexdigest()[:12]}.yaml"
    path.write_text(text)
    return path


def prepare(boxkoji: Any, directory: Path, docs: list[dict[str, Any]]) -> tuple[Any, koji.ClientSession]:
    applied = boxkoji.scenarios.prepare([str(write_scenario(directory, docs))], near=None, dirs=[])
    return applied, boxkoji.admin_session()


def assert_applied(applied: Any, session: koji.ClientSession, docs: list[dict[str, Any]]) -> dict[str, Any]:
    state = hub_state(session)
    assert state == expected_state(docs)
    for name in state["tags"]:
        assert applied.id("tag", name) == session.getTag(name)["id"]
    return state


@SETTINGS
@given(docs=scenarios())
def test_random_scenarios_read_back_equal(boxkoji, tmp_path, docs):
    applied, session = prepare(boxkoji, tmp_path, docs)
    assert_applied(applied, session, docs)


def generated(strategy: Any, examples: int = 10) -> Any:
    """A fixed example of `strategy` (the largest of the first few, derandomized)."""
    found: list[Any] = []

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=[HealthCheck.too_slow],  # a busy machine (xdist, CI) draws slowly
    )
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    collect()
    return max(found, key=lambda docs: len(yaml.safe_dump_all(docs)))


def test_prepare_again_restores_the_scenario(boxkoji, tmp_path):
    docs = generated(scenarios(rich=True))
    applied, session = prepare(boxkoji, tmp_path, docs)
    before = assert_applied(applied, session, docs)

    victim = [d["name"] for d in docs if d["type"] == "tag"][-1]  # no target uses it
    session.deleteTag(victim)
    session.createTag("boxkoji-scratch")
    assert session.getTag(victim) is None

    again, session = prepare(boxkoji, tmp_path, docs)
    assert hub_state(session) == before
    assert again.ids == applied.ids
