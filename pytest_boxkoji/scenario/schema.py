"""The scenario vocabulary: koji-habitude 0.9's objects, so data moves between the two.

Keys are spelled as in koji-habitude (``build-tag``, ``max-depth``, ``pkg-filter``, ``locked``,
``external-repos``) and its shorthands mean the same here; unknown keys and wrong types are errors
(koji-habitude ignores unknown keys). This project's own extras: ``build``, ``policy``, ``hub``,
``include``, external repos as inheritance links, ``krb-principals`` and ``certificate`` on users.

koji-habitude's ``exact-*`` keys are accepted: they say what to remove from an object that already
exists, and a scenario is always applied to the empty hub, so they change nothing here.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from pytest_boxkoji.accounts import ADMIN

NVR = re.compile(
    r"^(?P<name>[A-Za-z0-9_.+-]+)-(?P<version>[A-Za-z0-9_.+~^]+)-(?P<release>[A-Za-z0-9_.+~^]+)$"
)


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Obj(Model):
    """Every scenario object has a type and a name, unique per type.

    koji-habitude accepts a description on every object; Koji keeps it for permissions, channels,
    hosts and archive types.
    """

    type: str
    name: str = Field(min_length=1)
    description: str | None = None


def _names(value: Any) -> Any:
    # "x" is accepted where a list of names is expected, as koji-habitude does.
    return [value] if isinstance(value, str) else value


def _named(value: Any) -> Any:
    # In lists of named things, "bash" is short for {name: bash}.
    if isinstance(value, list):
        return [{"name": v} if isinstance(v, str) else v for v in value]
    return value


def _exact(key: str) -> Any:
    """An `exact-*` flag of koji-habitude: accepted, nothing to remove on the empty hub."""
    return Field(default=False, alias=key)


class Permission(Obj):
    type: Literal["permission"]


class Group(Obj):
    type: Literal["group"]
    permissions: list[str] = []
    enabled: bool = True
    members: list[str] = []
    exact_members: bool = _exact("exact-members")
    exact_permissions: bool = _exact("exact-permissions")

    _names = field_validator("permissions", "members", mode="before")(_names)


class User(Obj):
    type: Literal["user"]
    enabled: bool = True
    permissions: list[str] = []
    groups: list[str] = []
    krb_principals: list[str] = Field(default=[], alias="krb-principals")
    certificate: bool = False
    exact_groups: bool = _exact("exact-groups")
    exact_permissions: bool = _exact("exact-permissions")

    _names = field_validator("permissions", "groups", "krb_principals", mode="before")(_names)


class Channel(Obj):
    type: Literal["channel"]
    hosts: list[str] = []
    exact_hosts: bool = _exact("exact-hosts")

    _names = field_validator("hosts", mode="before")(_names)


class Host(Obj):
    type: Literal["host"]
    arches: list[str] = Field(default=["x86_64"], min_length=1)
    capacity: float | None = Field(default=None, gt=0)
    enabled: bool = True
    channels: list[str] = []
    exact_channels: bool = _exact("exact-channels")

    _names = field_validator("arches", "channels", mode="before")(_names)


# An external repo's URL that names the box's own buildroot repository (builds/buildroot.py: RPMs
# made from this host's packages), made when a scenario first uses it.
BUILDROOT_URL = "boxkoji:buildroot"


class ExternalRepo(Obj):
    type: Literal["external-repo"]
    url: str

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value != BUILDROOT_URL and not re.match(r"^(https?|file|ftp)://\S+$", value):
            raise ValueError(
                f"{value!r} is not a repository URL (http://, https://, ftp:// or file://, or "
                f"{BUILDROOT_URL}: the box's buildroot repository)"
            )
        return value


def _literal(name: Any) -> str:
    # koji-habitude joins the names as they are; regex operators are escaped here, so that gtk+
    # and libstdc++ match themselves (`.` and `-` stay, as koji-habitude writes them).
    return re.sub(r"([\\^$*+?{}\[\]|()])", r"\\\1", str(name))


def _numbered(value: Any) -> Any:
    """koji-habitude's shorthand for parents and external repos: "a" or ["a", "b"] or items
    without a priority; the next free priority is the next multiple of 10 above those used."""
    if isinstance(value, str):
        return [{"name": value, "priority": 0}]
    if not isinstance(value, list):
        return value
    items: list[Any] = []
    used: set[int] = set()
    priority = 0
    for item in value:
        if isinstance(item, str):
            items.append({"name": item, "priority": priority})
            used.add(priority)
            priority += 10
        elif isinstance(item, dict):
            item = dict(item)  # the raw document is kept for merging: never changed in place
            priority = item.setdefault("priority", priority)
            if not isinstance(priority, int) or isinstance(priority, bool):
                items.append(item)  # validation says what is wrong with it
                priority = max(used, default=0)
            else:
                used.add(priority)
                items.append(item)
                priority = max(used)
            priority += 10 - priority % 10
        else:
            items.append(item)
    return items


class InheritanceLink(Model):
    name: str = Field(validation_alias=AliasChoices("name", "parent"))
    priority: int = Field(ge=0)
    type: Literal["tag", "external-repo"] = "tag"  # this project's way to link an external repo
    max_depth: int | None = Field(default=None, alias="max-depth", ge=0)
    no_config: bool = Field(default=False, alias="no-config")
    pkg_filter: str = Field(default="", alias="pkg-filter")
    intransitive: bool = False
    merge_mode: Literal["koji", "simple", "bare"] | None = Field(default=None, alias="merge-mode")

    @field_validator("pkg_filter", mode="before")
    @classmethod
    def _filter_list(cls, value: Any) -> Any:
        if isinstance(value, list):
            return f"^({'|'.join(_literal(v) for v in value)})$"
        return value

    @field_validator("pkg_filter")
    @classmethod
    def _filter_regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value


class ExternalRepoLink(Model):
    """An entry of a tag's `external-repos` (koji-habitude's form)."""

    name: str
    priority: int = Field(ge=0)
    arches: list[str] | None = None
    merge_mode: Literal["koji", "simple", "bare"] = Field(default="koji", alias="merge-mode")

    _names = field_validator("arches", mode="before")(_names)


class TagPackage(Model):
    name: str
    owner: str = ADMIN
    blocked: bool = False
    extra_arches: list[str] = Field(default=[], alias="extra-arches")

    _names = field_validator("extra_arches", mode="before")(_names)


class GroupPackage(Model):
    name: str
    blocked: bool = False
    # koji-habitude's group entries carry a type; 0.9 adds every entry as a package.
    type: Literal["package"] = "package"


class TagGroup(Model):
    name: str
    description: str | None = None
    blocked: bool = False
    packages: list[GroupPackage] = []
    exact_packages: bool = _exact("exact-packages")

    _named = field_validator("packages", mode="before")(_named)


class Tag(Obj):
    type: Literal["tag"]
    arches: list[str] = []
    lock: bool = Field(default=False, validation_alias=AliasChoices("lock", "locked"))
    permission: str | None = None
    maven_support: bool = Field(default=False, alias="maven-support")
    maven_include_all: bool = Field(default=False, alias="maven-include-all")
    extras: dict[str, Any] = {}
    blocked_extras: list[str] = Field(default=[], alias="blocked-extras")
    inheritance: list[InheritanceLink] = []
    external_repos: list[ExternalRepoLink] = Field(default=[], alias="external-repos")
    packages: list[TagPackage] = []
    groups: list[TagGroup] = []
    exact_extras: bool = _exact("exact-extras")
    exact_groups: bool = _exact("exact-groups")
    exact_packages: bool = _exact("exact-packages")

    _names = field_validator("arches", "blocked_extras", mode="before")(_names)
    _named = field_validator("packages", mode="before")(_named)
    _numbered = field_validator("inheritance", "external_repos", mode="before")(_numbered)

    @field_validator("packages")
    @classmethod
    def _last_wins(cls, value: list[TagPackage]) -> list[TagPackage]:
        # As koji-habitude: a package listed again overrides the earlier entry (a template can
        # merge a list with one that blocks some of its packages).
        return list({p.name: p for p in value}.values())

    @field_validator("groups", mode="before")
    @classmethod
    def _simple_groups(cls, value: Any) -> Any:
        if isinstance(value, dict):  # {name: [packages]} or {name: {...}}
            return [
                {"name": k, "packages": v} if isinstance(v, list) else {"name": k, **(v or {})}
                for k, v in value.items()
            ]
        return _named(value)

    def external_repo_links(self) -> list[ExternalRepoLink]:
        """Both ways of linking an external repo: `external-repos` and inheritance entries."""
        links = [
            ExternalRepoLink.model_validate(
                {"name": x.name, "priority": x.priority, "merge-mode": x.merge_mode or "koji"}
            )
            for x in self.inheritance
            if x.type == "external-repo"
        ]
        return links + list(self.external_repos)


class Target(Obj):
    type: Literal["target"]
    build_tag: str = Field(alias="build-tag")
    dest_tag: str | None = Field(default=None, alias="dest-tag")


class ContentGenerator(Obj):
    type: Literal["content-generator"]
    users: list[str] = []
    exact_users: bool = _exact("exact-users")

    _names = field_validator("users", mode="before")(_names)


class BType(Obj):
    type: Literal["btype", "build-type"]  # build-type: koji-habitude's name for it

    @field_validator("type")
    @classmethod
    def _one_kind(cls, value: str) -> str:
        return "btype"


class ArchiveType(Obj):
    type: Literal["archive-type"]
    extensions: list[str] = Field(min_length=1)
    compression_type: Literal["zip", "tar"] | None = Field(default=None, alias="compression-type")

    _names = field_validator("extensions", mode="before")(_names)

    @field_validator("extensions")
    @classmethod
    def _no_dots(cls, value: list[str]) -> list[str]:
        # As koji-habitude: ".jar" is "jar", and an extension listed twice counts once.
        return list(dict.fromkeys(v.lstrip(".") for v in value))


class Build(Obj):
    """An imported build: `name` is its N-V-R; the loader makes the RPMs with rpmbuild."""

    type: Literal["build"]
    arches: list[str] = ["noarch"]
    tags: list[str] = []
    owner: str = ADMIN
    requires: list[str] = []  # Requires: of its RPMs

    _names = field_validator("arches", "tags", "requires", mode="before")(_names)

    @field_validator("name")
    @classmethod
    def _nvr(cls, value: str) -> str:
        if not NVR.match(value):
            raise ValueError(f"{value!r} is not name-version-release (e.g. bash-5.2-1)")
        return value

    @property
    def nvr(self) -> dict[str, str]:
        match = NVR.match(self.name)
        assert match is not None
        return match.groupdict()


class Policy(Obj):
    """A hub policy section (`name` is the policy: tag, build_from_srpm, ...)."""

    type: Literal["policy"]
    rules: list[str] = Field(min_length=1)

    @field_validator("rules", mode="before")
    @classmethod
    def _lines(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [line for line in value.splitlines() if line.strip()]
        return value


class HubSettings(Obj):
    """hub.conf options and hub plugins. Its name is always `hub`."""

    type: Literal["hub"]
    name: str = "hub"

    @field_validator("name")
    @classmethod
    def _one_hub(cls, value: str) -> str:
        if value != "hub":
            raise ValueError("the hub object is always named 'hub'; remove name or write name: hub")
        return value

    settings: dict[str, str | int | float | bool] = {}
    plugins: list[str] = []
    plugin_path: list[str] = Field(default=[], alias="plugin-path")
    # The plugins' own files, /etc/koji-hub/plugins/<name>.conf: name -> [section] -> option -> value.
    plugin_config: dict[str, dict[str, dict[str, str | int | float | bool]]] = Field(
        default={}, alias="plugin-config"
    )

    _names = field_validator("plugins", "plugin_path", mode="before")(_names)


MODELS: dict[str, type[Obj]] = {
    kind: m
    for m in (
        Permission,
        Group,
        User,
        Channel,
        Host,
        ExternalRepo,
        Tag,
        Target,
        ContentGenerator,
        BType,
        ArchiveType,
        Build,
        Policy,
        HubSettings,
    )
    for kind in m.model_fields["type"].annotation.__args__  # type: ignore[union-attr]
}

# What an empty Koji 1.35 hub already has (its schema inserts them).
BUILTIN = {
    "permission": {
        "admin",
        "appliance",
        "dist-repo",
        "host",
        "image",
        "image-import",
        "livecd",
        "maven-import",
        "repo",
        "sign",
        "tag",
        "target",
        "win-admin",
        "win-import",
        "draft-promoter",
    },
    "channel": {"default", "createrepo", "maven", "livecd", "appliance", "vm", "image", "livemedia"},
    "btype": {"rpm", "maven", "win", "image"},
    "user": {ADMIN},
}
