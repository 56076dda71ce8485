# mypy: disable-error-code="misc"
# (lambdas with default arguments bind each loop value; mypy cannot infer their types)
"""Applying a checked scenario through the hub API as the admin, in dependency order.

Each step is one multicall; a step only starts when the ones it depends on are done.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import koji

from pytest_boxkoji.accounts import ADMIN
from pytest_boxkoji.scenario.loader import Scenario
from pytest_boxkoji.scenario.rpms import make_rpms
from pytest_boxkoji.scenario.schema import BUILTIN, Build

Ids = dict[str, dict[str, int]]


def _batch(session: koji.ClientSession, calls: Iterable[Callable[[Any], Any]]) -> list[Any]:
    calls = list(calls)
    if not calls:
        return []
    with session.multicall(strict=True, batch=200) as m:
        results = [call(m) for call in calls]
    return [r.result for r in results]


def plugin_path(scenario: Scenario, koji_src: Path) -> str:
    """The user's plugin directories (relative to the file that names them), then Koji's own."""
    hub = scenario.get("hub", "hub")
    dirs: list[str] = []
    if hub is not None:
        located = scenario.origin[("hub", "hub")].get("plugin-path")
        base = located.source.parent if located and located.source else Path.cwd()
        dirs = [str((base / Path(p).expanduser()).resolve()) for p in hub.plugin_path]
    return ":".join([*dirs, str(koji_src / "plugins" / "hub")])


def apply(
    scenario: Scenario, admin: koji.ClientSession, cache_dir: Path, urls: Mapping[str, str] | None = None
) -> Ids:
    """Create every object of the scenario on an empty hub; return name -> id per type. `urls`:
    what external repos' placeholder URLs stand for here (schema.BUILDROOT_URL)."""
    urls = urls or {}
    ids: Ids = {}
    s = admin

    def create(kind: str, objects: list[Any], call: Callable[[Any, Any], Any]) -> None:
        """One multicall making `objects`; their ids recorded by name."""
        values = _batch(s, [lambda m, o=o: call(m, o) for o in objects])
        ids.setdefault(kind, {}).update(
            {o.name: (v["id"] if isinstance(v, dict) else v) for o, v in zip(objects, values, strict=True)}
        )

    # Permissions exist once granted; Koji has no call that only creates one.
    perms = [p for p in scenario.of("permission") if p.name not in BUILTIN["permission"]]
    _batch(
        s,
        [
            lambda m, p=p: m.grantPermission(ADMIN, p.name, create=True, description=p.description)
            for p in perms
        ],
    )
    _batch(s, [lambda m, p=p: m.revokePermission(ADMIN, p.name) for p in perms])

    groups = scenario.of("group")
    create("group", groups, lambda m, g: m.newGroup(g.name))
    users = [u for u in scenario.of("user") if u.name not in BUILTIN["user"]]
    # Only the principals declared: a user who logs in during a test gets its own then
    # (accounts.py), so the scenario's state is what koji-habitude would make of the same file.
    create(
        "user",
        users,
        lambda m, u: m.createUser(
            u.name,
            status=0 if u.enabled else 1,
            krb_principal=u.krb_principals[0] if u.krb_principals else None,
        ),
    )
    calls: list[Callable[[Any], Any]] = []
    for group in groups:
        calls += [lambda m, g=group, p=p: m.grantPermission(g.name, p) for p in group.permissions]
        if not group.enabled:
            calls.append(lambda m, g=group: m.disableUser(g.name))
    members = {(g, u.name) for u in scenario.of("user") for g in u.groups}
    members |= {(g.name, u) for g in groups for u in g.members}  # a group may list its members
    for user in scenario.of("user"):
        for principal in user.krb_principals[1:]:
            calls.append(
                lambda m, u=user, p=principal: m.editUser(
                    u.name, krb_principal_mappings=[{"old": None, "new": p}]
                )
            )
        calls += [lambda m, u=user, p=p: m.grantPermission(u.name, p) for p in user.permissions]
    calls += [lambda m, g=g, u=u: m.addGroupMember(g, u) for g, u in sorted(members)]
    _batch(s, calls)

    channels = [c for c in scenario.of("channel") if c.name not in BUILTIN["channel"]]
    create("channel", channels, lambda m, c: m.addChannel(c.name, description=c.description))
    hosts = scenario.of("host")
    create("host", hosts, lambda m, h: m.addHost(h.name, h.arches))
    calls = []
    for host in hosts:
        edits = {
            k: v for k, v in (("capacity", host.capacity), ("description", host.description)) if v is not None
        }
        if edits:
            calls.append(lambda m, h=host, e=edits: m.editHost(h.name, **e))
        # A channel may list its hosts too (koji-habitude's `hosts:`).
        listed_by = [c.name for c in scenario.of("channel") if host.name in c.hosts]
        wanted = list(dict.fromkeys([*host.channels, *listed_by]))
        calls += [lambda m, h=host, c=c: m.addHostToChannel(h.name, c) for c in wanted if c != "default"]
        if host.channels and "default" not in wanted:
            calls.append(lambda m, h=host: m.removeHostFromChannel(h.name, "default"))
        if not host.enabled:
            calls.append(lambda m, h=host: m.disableHost(h.name))
    _batch(s, calls)

    repos = scenario.of("external-repo")
    create("external-repo", repos, lambda m, r: m.createExternalRepo(r.name, urls.get(r.url, r.url)))
    btypes = [b for b in scenario.of("btype") if b.name not in BUILTIN["btype"]]
    _batch(s, [lambda m, b=b: m.addBType(b.name) for b in btypes])
    atypes = scenario.of("archive-type")
    _batch(
        s,
        [
            lambda m, a=a: m.addArchiveType(a.name, a.description, " ".join(a.extensions), a.compression_type)
            for a in atypes
        ],
    )

    tags = scenario.of("tag")
    create(
        "tag",
        tags,
        lambda m, t: m.createTag(
            t.name,
            arches=" ".join(t.arches) or None,
            perm=t.permission,
            maven_support=t.maven_support,
            maven_include_all=t.maven_include_all,
            extra=t.extras or None,
        ),
    )
    # Package lists before inheritance: Koji checks each addition against the inherited list,
    # which costs a walk of the whole inheritance chain once parents exist (10x slower).
    calls = []
    for tag in tags:
        for pkg in tag.packages:
            calls.append(
                lambda m, t=tag, p=pkg: m.packageListAdd(
                    t.name,
                    p.name,
                    owner=p.owner,
                    block=p.blocked,
                    extra_arches=" ".join(p.extra_arches) or None,
                )
            )
        for group in tag.groups:
            calls.append(
                lambda m, t=tag, g=group: m.groupListAdd(
                    t.name, g.name, description=g.description, block=g.blocked
                )
            )
            calls += [
                lambda m, t=tag, g=group, p=p: m.groupPackageListAdd(t.name, g.name, p.name, block=p.blocked)
                for p in group.packages
            ]
    _batch(s, calls)
    calls = []
    for tag in tags:
        links = [link for link in tag.inheritance if link.type == "tag"]
        if links:
            data = [
                {
                    "parent_id": ids["tag"][link.name],
                    "priority": link.priority,
                    "maxdepth": link.max_depth,
                    "intransitive": link.intransitive,
                    "noconfig": link.no_config,
                    "pkg_filter": link.pkg_filter,
                }
                for link in links
            ]
            calls.append(lambda m, t=tag, d=data: m.setInheritanceData(t.name, d, clear=True))
        for repo in tag.external_repo_links():
            calls.append(
                lambda m, t=tag, x=repo: m.addExternalRepoToTag(
                    t.name,
                    x.name,
                    x.priority,
                    merge_mode=x.merge_mode,
                    arches=" ".join(x.arches) if x.arches else None,
                )
            )
        if tag.blocked_extras:
            calls.append(lambda m, t=tag: m.editTag2(t.name, block_extra=t.blocked_extras))
    _batch(s, calls)

    targets = scenario.of("target")
    create("target", targets, lambda m, t: m.createBuildTarget(t.name, t.build_tag, t.dest_tag or t.name))
    _batch(
        s,
        [
            lambda m, cg=cg, u=u: m.grantCGAccess(u, cg.name, create=True)
            for cg in scenario.of("content-generator")
            for u in cg.users
        ],
    )

    _import_builds(scenario, s, cache_dir, ids)
    _batch(s, [lambda m, t=t: m.editTag2(t.name, locked=True) for t in tags if t.lock])
    return ids


def import_build(session: koji.ClientSession, build: Build, cache_dir: Path) -> list[Path]:
    """Make the build's RPMs (cached) and import them, SRPM first, as Koji's `import` does."""
    rpms = make_rpms(build, cache_dir)
    serverdir = f"boxkoji-import/{os.getpid()}/{build.name}"
    for rpm in rpms:
        session.uploadWrapper(str(rpm), serverdir)
        session.importRPM(serverdir, rpm.name)
    return rpms


def _import_builds(scenario: Scenario, s: koji.ClientSession, cache_dir: Path, ids: Ids) -> None:
    builds = scenario.of("build")
    if not builds:
        return
    for build in builds:
        import_build(s, build, cache_dir)
    # Tagging needs the package listed in the tag (inherited counts), as in real Koji.
    needed = [(tag, b) for b in builds for tag in b.tags]
    listed = _batch(
        s,
        [lambda m, t=t, b=b: m.listPackages(tagID=t, pkgID=b.nvr["name"], inherited=True) for t, b in needed],
    )
    _batch(
        s,
        [
            lambda m, t=t, b=b: m.packageListAdd(t, b.nvr["name"], owner=b.owner)
            for (t, b), found in zip(needed, listed, strict=True)
            if not found
        ],
    )
    infos = _batch(s, [lambda m, b=b: m.getBuild(b.name, strict=True) for b in builds])
    ids["build"] = {b.name: info["id"] for b, info in zip(builds, infos, strict=True)}
    _batch(s, [lambda m, b=b: m.setBuildOwner(b.name, b.owner) for b in builds if b.owner != ADMIN])
    _batch(s, [lambda m, t=t, b=b: m.tagBuildBypass(t, b.name, force=True) for t, b in needed])
