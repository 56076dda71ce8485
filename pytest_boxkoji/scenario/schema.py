"""The scenario vocabulary: typed models close to koji-habitude's, so data moves between the two.

Keys are spelled as in koji-habitude (``build-tag``, ``max-depth``, ``pkg-filter``); unknown
keys and wrong types are errors.
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
    """Every scenario object has a type and a name, unique per type."""

    type: str
    name: str = Field(min_length=1)


def _names(value: Any) -> Any:
    # "x" is accepted where a list of names is expected, as koji-habitude does.
    return [value] if isinstance(value, str) else value


def _named(value: Any) -> Any:
    # In lists of named things, "bash" is short for {name: bash}.
    if isinstance(value, list):
        return [{"name": v} if isinstance(v, str) else v for v in value]
    return value


class Permission(Obj):
    type: Literal["permission"]
    description: str | None = None


class Group(Obj):
    type: Literal["group"]
    permissions: list[str] = []
    enabled: bool = True

    _names = field_validator("permissions", mode="before")(_names)


class User(Obj):
    type: Literal["user"]
    enabled: bool = True
    permissions: list[str] = []
    groups: list[str] = []
    krb_principals: list[str] = Field(default=[], alias="krb-principals")
    certificate: bool = False

    _names = field_validator("permissions", "groups", "krb_principals", mode="before")(_names)


class Channel(Obj):
    type: Literal["channel"]
    description: str | None = None


class Host(Obj):
    type: Literal["host"]
    arches: list[str] = Field(default=["x86_64"], min_length=1)
    capacity: float | None = Field(default=None, gt=0)
    enabled: bool = True
    description: str | None = None
    channels: list[str] = []

    _names = field_validator("arches", "channels", mode="before")(_names)


class ExternalRepo(Obj):
    type: Literal["external-repo"]
    url: str

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^(https?|file|ftp)://\S+$", value):
            raise ValueError(f"{value!r} is not a repository URL (http://, https://, ftp:// or file://)")
        return value


class InheritanceLink(Model):
    name: str = Field(validation_alias=AliasChoices("name", "parent"))
    priority: int = Field(ge=0)
    type: Literal["tag", "external-repo"] = "tag"
    max_depth: int | None = Field(default=None, alias="max-depth", ge=0)
    no_config: bool = Field(default=False, alias="no-config")
    pkg_filter: str = Field(default="", alias="pkg-filter")
    intransitive: bool = False
    merge_mode: Literal["koji", "simple", "bare"] | None = Field(default=None, alias="merge-mode")

    @field_validator("pkg_filter", mode="before")
    @classmethod
    def _filter_list(cls, value: Any) -> Any:
        # A list names packages literally: gtk+ and libstdc++ must not become regex operators.
        if isinstance(value, list):
            return f"^({'|'.join(re.escape(str(v)) for v in value)})$"
        return value

    @field_validator("pkg_filter")
    @classmethod
    def _filter_regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value


class TagPackage(Model):
    name: str
    owner: str = ADMIN
    blocked: bool = False
    extra_arches: list[str] = Field(default=[], alias="extra-arches")

    _names = field_validator("extra_arches", mode="before")(_names)


class GroupPackage(Model):
    name: str
    blocked: bool = False


class TagGroup(Model):
    name: str
    description: str | None = None
    blocked: bool = False
    packages: list[GroupPackage] = []

    _named = field_validator("packages", mode="before")(_named)


class Tag(Obj):
    type: Literal["tag"]
    arches: list[str] = []
    lock: bool = False
    permission: str | None = None
    maven_support: bool = Field(default=False, alias="maven-support")
    maven_include_all: bool = Field(default=False, alias="maven-include-all")
    extras: dict[str, Any] = {}
    inheritance: list[InheritanceLink] = []
    packages: list[TagPackage] = []
    groups: list[TagGroup] = []

    _names = field_validator("arches", mode="before")(_names)
    _named = field_validator("packages", mode="before")(_named)

    @field_validator("inheritance", mode="before")
    @classmethod
    def _simple_inheritance(cls, value: Any) -> Any:
        # "parent" or ["a", "b"]: priorities 0, 10, 20... as in koji-habitude.
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            return [{"name": v, "priority": 10 * i} if isinstance(v, str) else v for i, v in enumerate(value)]
        return value

    @field_validator("groups", mode="before")
    @classmethod
    def _simple_groups(cls, value: Any) -> Any:
        if isinstance(value, dict):  # {name: [packages]} or {name: {...}}
            return [
                {"name": k, "packages": v} if isinstance(v, list) else {"name": k, **(v or {})}
                for k, v in value.items()
            ]
        return _named(value)


class Target(Obj):
    type: Literal["target"]
    build_tag: str = Field(alias="build-tag")
    dest_tag: str | None = Field(default=None, alias="dest-tag")


class ContentGenerator(Obj):
    type: Literal["content-generator"]
    users: list[str] = []

    _names = field_validator("users", mode="before")(_names)


class BType(Obj):
    type: Literal["btype"]


class ArchiveType(Obj):
    type: Literal["archive-type"]
    extensions: list[str] = Field(min_length=1)
    description: str = ""
    compression_type: Literal["zip", "tar"] | None = Field(default=None, alias="compression-type")

    _names = field_validator("extensions", mode="before")(_names)


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

    _names = field_validator("plugins", "plugin_path", mode="before")(_names)


MODELS: dict[str, type[Obj]] = {
    m.model_fields["type"].annotation.__args__[0]: m  # type: ignore[union-attr]
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
