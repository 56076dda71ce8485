"""What the hub holds, read back through the Koji API as plain data.

Two ways of putting a scenario on the hub (the marker, `koji-habitude apply`) give the same state
when `read_hub` returns equal values for both. Ids and timestamps are left out: they depend on the
order objects were made in, not on what was declared.
"""

from __future__ import annotations

from typing import Any

import koji


def _arches(value: str | None) -> list[str]:
    return sorted((value or "").split())


def _tag(session: koji.ClientSession, name: str) -> dict[str, Any]:
    # blocked=True: each extra as [blocked, value], so that a blocked extra shows.
    info = session.getTag(name, blocked=True)
    groups = {}
    # inherit=False: a tag's own groups; incl_blocked: a blocked entry is part of the declaration.
    for group in session.getTagGroups(name, inherit=False, incl_blocked=True):
        groups[group["name"]] = {
            "description": group["description"],
            "blocked": group["blocked"],
            "packages": {p["package"]: p["blocked"] for p in group["packagelist"]},
        }
    return {
        "arches": _arches(info["arches"]),
        "locked": info["locked"],
        "permission": info["perm"],
        "maven-support": info["maven_support"],
        "maven-include-all": info["maven_include_all"],
        "extras": {k: v for k, (blocked, v) in info["extra"].items() if not blocked},
        "blocked-extras": sorted(k for k, (blocked, _) in info["extra"].items() if blocked),
        "inheritance": sorted(
            (
                link["name"],
                link["priority"],
                link["maxdepth"],
                link["intransitive"],
                link["noconfig"],
                link["pkg_filter"],
            )
            for link in session.getInheritanceData(name)
        ),
        "external-repos": sorted(
            (repo["external_repo_name"], repo["priority"], repo["merge_mode"], _arches(repo["arches"]))
            for repo in session.getTagExternalRepos(tag_info=name)
        ),
        "packages": {
            p["package_name"]: (p["owner_name"], p["blocked"], _arches(p["extra_arches"]))
            for p in session.listPackages(tagID=info["id"], inherited=False)
        },
        "groups": groups,
    }


def read_hub(session: koji.ClientSession) -> dict[str, Any]:
    """Users, groups, permissions, hosts, channels, external repos, tags (inheritance, external
    repos, packages, build groups), targets, content generators, btypes and archive types."""
    users = session.listUsers(userType=koji.USERTYPES["NORMAL"])
    groups = session.listUsers(userType=koji.USERTYPES["GROUP"])
    hosts = session.listHosts()
    return {
        "permissions": {p["name"]: p["description"] for p in session.getAllPerms()},
        "users": {
            u["name"]: {
                "enabled": u["status"] == koji.USER_STATUS["NORMAL"],
                "krb-principals": sorted(u["krb_principals"]),
                "permissions": sorted(session.getUserPerms(u["name"])),
                "groups": sorted(g["name"] for g in session.getUserGroups(u["name"])),
            }
            for u in users
        },
        "groups": {
            g["name"]: {
                "enabled": g["status"] == koji.USER_STATUS["NORMAL"],
                "permissions": sorted(session.getUserPerms(g["name"])),
                "members": sorted(m["name"] for m in session.getGroupMembers(g["name"])),
            }
            for g in groups
        },
        "channels": {
            c["name"]: {
                "description": c["description"],
                "hosts": sorted(h["name"] for h in session.listHosts(channelID=c["id"])),
            }
            for c in session.listChannels()
        },
        "hosts": {
            h["name"]: {
                "arches": _arches(h["arches"]),
                "capacity": h["capacity"],
                "enabled": h["enabled"],
                "description": h["description"],
            }
            for h in hosts
        },
        "external-repos": {r["name"]: r["url"] for r in session.listExternalRepos()},
        "tags": {name: _tag(session, name) for name in sorted(t["name"] for t in session.listTags())},
        "targets": {
            t["name"]: {"build-tag": t["build_tag_name"], "dest-tag": t["dest_tag_name"]}
            for t in session.getBuildTargets()
        },
        "content-generators": {name: sorted(cg["users"]) for name, cg in session.listCGs().items()},
        "btypes": sorted(b["name"] for b in session.listBTypes()),
        "archive-types": {
            a["name"]: {
                "description": a["description"],
                "extensions": sorted(a["extensions"].split()),
                "compression-type": a["compression_type"],
            }
            for a in session.getArchiveTypes()
        },
    }
