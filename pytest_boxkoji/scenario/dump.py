"""A running hub's objects as scenario YAML (`boxkoji scenario dump`): what the applier makes
(apply.py), read back through the hub API, in the scenario vocabulary (schema.py). What Koji has
by itself (its permissions, channels, btypes, archive types, the admin) is left out and defaults
are not written, so the dump reads like a hand-written scenario and applies back unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import koji
import yaml

from pytest_boxkoji.accounts import ADMIN
from pytest_boxkoji.scenario.schema import BUILTIN
from pytest_boxkoji.scenario.state import parse_policy

if TYPE_CHECKING:
    from pytest_boxkoji.environment import Environment

Doc = dict[str, Any]
ARCHIVE_TYPE = re.compile(r"INSERT INTO archivetypes\b[^;]*VALUES\s*\(\s*'([^']+)'", re.I)


def builtin_archive_types(schema: Path) -> set[str]:
    """The archive types Koji's schema inserts (an empty hub has them)."""
    return set(ARCHIVE_TYPE.findall(schema.read_text()))


def _each(session: koji.ClientSession, items: Iterable[Any], call: Callable[[Any, Any], Any]) -> list[Any]:
    """One multicall: call(m, item) for every item; the results in order."""
    items = list(items)
    if not items:
        return []
    with session.multicall(strict=True, batch=200) as m:
        pending = [call(m, item) for item in items]
    return [p.result for p in pending]


def _doc(kind: str, name: str, **values: Any) -> Doc:
    """A document without the keys left at the schema's defaults (given as None or empty)."""
    doc: Doc = {"type": kind, "name": name}
    doc.update({k: v for k, v in values.items() if v is not None and v != [] and v != {} and v != ""})
    return doc


def dump(
    session: koji.ClientSession,
    realm: str,
    archive_types: set[str],
    hub_settings: dict[str, str],
    policies: dict[str, list[str]],
    koji_plugins: Path,
) -> list[Doc]:
    """Every object of the hub, in the order the applier makes them."""
    s = session
    docs: list[Doc] = []
    perms = sorted((p for p in s.getAllPerms() if p["name"] not in BUILTIN["permission"]), key=_name)
    docs += [_doc("permission", p["name"], description=p["description"]) for p in perms]

    groups = sorted(s.listUsers(userType=koji.USERTYPES["GROUP"]), key=_name)
    group_perms = _each(s, groups, lambda m, g: m.getUserPerms(g["id"], with_groups=False))
    for group, granted in zip(groups, group_perms, strict=True):
        enabled = group["status"] == koji.USER_STATUS["NORMAL"]
        docs.append(
            _doc("group", group["name"], permissions=sorted(granted), enabled=None if enabled else False)
        )

    users = sorted(
        (u for u in s.listUsers(userType=koji.USERTYPES["NORMAL"]) if u["name"] not in BUILTIN["user"]),
        key=_name,
    )
    infos = _each(s, users, lambda m, u: m.getUser(u["id"]))
    user_perms = _each(s, users, lambda m, u: m.getUserPerms(u["id"], with_groups=False))
    user_groups = _each(s, users, lambda m, u: m.getUserGroups(u["id"]))
    for info, granted, member in zip(infos, user_perms, user_groups, strict=True):
        principals = sorted(info.get("krb_principals") or [])
        docs.append(
            _doc(
                "user",
                info["name"],
                enabled=None if info["status"] == koji.USER_STATUS["NORMAL"] else False,
                permissions=sorted(granted),
                groups=sorted(g["name"] for g in member),
                **{"krb-principals": principals},  # a user has only the principals declared
            )
        )

    channels = sorted(s.listChannels(), key=_name)
    docs += [
        _doc("channel", c["name"], description=c.get("description"))
        for c in channels
        if c["name"] not in BUILTIN["channel"]
    ]
    hosts = sorted(s.listHosts(), key=_name)
    host_channels = _each(s, hosts, lambda m, h: m.listChannels(hostID=h["id"]))
    for host, joined in zip(hosts, host_channels, strict=True):
        docs.append(
            _doc(
                "host",
                host["name"],
                arches=host["arches"].split(),
                capacity=host["capacity"],
                enabled=None if host["enabled"] else False,
                description=host.get("description"),
                channels=sorted(c["name"] for c in joined),
            )
        )
    docs += [_doc("external-repo", r["name"], url=r["url"]) for r in sorted(s.listExternalRepos(), key=_name)]
    docs += [
        _doc("build-type", b["name"])  # koji-habitude's name (ours, btype, means the same)
        for b in sorted(s.listBTypes(), key=_name)
        if b["name"] not in BUILTIN["btype"]
    ]
    for archive in sorted(s.getArchiveTypes(), key=_name):
        if archive["name"] in archive_types:
            continue
        docs.append(
            _doc(
                "archive-type",
                archive["name"],
                extensions=archive["extensions"].split(),
                description=archive["description"],
                **{"compression-type": archive.get("compression_type")},
            )
        )

    docs += _tags(s)
    docs += [
        _doc("target", t["name"], **{"build-tag": t["build_tag_name"], "dest-tag": t["dest_tag_name"]})
        for t in sorted(s.getBuildTargets(), key=_name)
    ]
    for name, cg in sorted(s.listCGs().items()):
        docs.append(_doc("content-generator", name, users=sorted(cg["users"])))
    docs += _builds(s)
    docs += [_doc("policy", name, rules=rules) for name, rules in policies.items()]
    docs += _hub(hub_settings, koji_plugins)
    return docs


def of_environment(env: Environment) -> list[Doc]:
    """Every object of the environment's hub, its scenario hub settings and policy included."""

    hub, source = env.start_hub(), env.source()
    return dump(
        env.admin_session(),
        env.realm_name,
        builtin_archive_types(source.schema),
        dict(hub.extra_settings),
        parse_policy(hub.policy),
        source.path / "plugins" / "hub",
    )


def _name(obj: dict[str, Any]) -> str:
    return str(obj["name"])


def _tags(s: koji.ClientSession) -> list[Doc]:
    tags = sorted(s.listTags(), key=_name)
    infos = _each(s, tags, lambda m, t: m.getTag(t["id"], strict=True))
    parents = _each(s, tags, lambda m, t: m.getInheritanceData(t["id"]))
    repos = _each(s, tags, lambda m, t: m.getTagExternalRepos(tag_info=t["id"]))
    packages = _each(
        s,
        tags,
        lambda m, t: m.listPackages(tagID=t["id"], inherited=False, with_owners=True, with_blocked=True),
    )
    groups = _each(s, tags, lambda m, t: m.getTagGroups(t["id"], inherit=False, incl_blocked=True))
    docs = []
    for info, links, linked, listed, grouped in zip(infos, parents, repos, packages, groups, strict=True):
        inheritance = [
            {
                "name": link["name"],
                "priority": link["priority"],
                **({"max-depth": link["maxdepth"]} if link["maxdepth"] is not None else {}),
                **({"intransitive": True} if link["intransitive"] else {}),
                **({"no-config": True} if link["noconfig"] else {}),
                **({"pkg-filter": link["pkg_filter"]} if link["pkg_filter"] else {}),
            }
            for link in sorted(links, key=lambda link: (link["priority"], link["name"]))
        ]
        # koji-habitude's form (its own list, priorities apart from the parents'), so that
        # koji-habitude applies a dump too.
        external_repos = [
            {
                "name": repo["external_repo_name"],
                "priority": repo["priority"],
                **({"arches": repo["arches"].split()} if repo.get("arches") else {}),
                **({"merge-mode": repo["merge_mode"]} if repo.get("merge_mode", "koji") != "koji" else {}),
            }
            for repo in sorted(linked, key=lambda repo: (repo["priority"], repo["external_repo_name"]))
        ]
        package_docs = [
            {
                "name": p["package_name"],
                **({"owner": p["owner_name"]} if p["owner_name"] != ADMIN else {}),
                **({"blocked": True} if p["blocked"] else {}),
                **({"extra-arches": p["extra_arches"].split()} if p.get("extra_arches") else {}),
            }
            for p in sorted(listed, key=lambda p: p["package_name"])
        ]
        group_docs = [
            {
                "name": g["name"],
                **({"description": g["description"]} if g.get("description") else {}),
                **({"blocked": True} if g.get("blocked") else {}),
                "packages": [
                    {"name": p["package"], **({"blocked": True} if p.get("blocked") else {})}
                    for p in sorted(g["packagelist"], key=lambda p: p["package"])
                ],
            }
            for g in sorted(grouped, key=_name)
        ]
        docs.append(
            _doc(
                "tag",
                info["name"],
                arches=(info["arches"] or "").split(),
                lock=info["locked"] or None,
                permission=info.get("perm"),
                extras=info.get("extra") or {},
                inheritance=inheritance,
                **{"external-repos": external_repos},
                packages=package_docs,
                groups=group_docs,
                **{
                    "maven-support": info["maven_support"] or None,
                    "maven-include-all": info["maven_include_all"] or None,
                },
            )
        )
    return docs


def _builds(s: koji.ClientSession) -> list[Doc]:
    builds = sorted(s.listBuilds(), key=lambda b: str(b["nvr"]))
    rpms = _each(s, builds, lambda m, b: m.listRPMs(buildID=b["build_id"]))
    tags = _each(s, builds, lambda m, b: m.listTags(build=b["build_id"]))
    first = [next((r for r in found if r["arch"] != "src"), None) for found in rpms]
    deps = _each(s, [r for r in first if r], lambda m, r: m.getRPMDeps(r["id"], depType=koji.DEP_REQUIRE))
    requires = iter(deps)
    docs = []
    for build, found, tagged, rpm in zip(builds, rpms, tags, first, strict=True):
        needed = sorted({d["name"] for d in next(requires)} if rpm else set())
        arches = sorted({r["arch"] for r in found if r["arch"] != "src"})
        docs.append(
            _doc(
                "build",
                build["nvr"],
                arches=None if arches == ["noarch"] else arches,
                tags=sorted(t["name"] for t in tagged),
                owner=None if build["owner_name"] == ADMIN else build["owner_name"],
                requires=[d for d in needed if not d.startswith("rpmlib(")],
            )
        )
    return docs


def _hub(settings: dict[str, str], koji_plugins: Path) -> list[Doc]:
    values = dict(settings)
    plugins = values.pop("Plugins", "").split()
    paths = [p for p in values.pop("PluginPath", "").split(":") if p and Path(p) != koji_plugins]
    if not (values or plugins or paths):
        return []
    return [{"type": "hub", **_doc("hub", "hub", settings=values, plugins=plugins, **{"plugin-path": paths})}]


class _Dumper(yaml.SafeDumper):
    """Documents in block style; lists of names and small mappings on one line, as people write
    them (`arches: [x86_64]`, `- {name: bash, owner: packager}`)."""


def _flat(values: Iterable[Any]) -> bool:
    values = list(values)
    return all(not isinstance(v, (list, dict)) for v in values) and len(repr(values)) <= 80


def _sequence(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=_flat(data))


def _mapping(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    flow = "type" not in data and _flat(data.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=flow)


_Dumper.add_representer(list, _sequence)
_Dumper.add_representer(dict, _mapping)


def to_yaml(docs: list[Doc]) -> str:
    header = "# Written by `boxkoji scenario dump`: the hub's objects as a scenario.\n"
    text = yaml.dump_all(docs, Dumper=_Dumper, sort_keys=False, explicit_start=True, width=100)
    return header + text
