"""The record of an environment that outlives the process that started it (`boxkoji up`,
--boxkoji-keep): a JSON file that lets another process find it and take it over (attach.py).

It holds what the parts' handles are made of (directories, endpoints, the hub's settings, the
credentials handed out), each service's ref in its runtime (pid and start time, or container id)
and the identity --boxkoji-reuse compares: Koji's source and the configuration that shaped the
environment. Records live under `<cache dir>/boxes/<name>.json`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
import types
import typing
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from filelock import FileLock

from pytest_boxkoji.config import BOX_NAME
from pytest_boxkoji.errors import BoxKojiError
from pytest_boxkoji.runtimes import builds_services_python

if TYPE_CHECKING:
    from pytest_boxkoji.config import BoxKojiConfig
    from pytest_boxkoji.kojisrc import KojiSource

T = TypeVar("T")
FORMAT = 3  # 2: each hub's service env; 3: each part records itself (graph.Part.record), the broker too


class NoBox(BoxKojiError):
    """No environment of that name is recorded, or it is not running."""


@dataclass
class BoxRecord:
    name: str
    runtime: str
    marker: str
    directories: list[str]
    identity: dict[str, str]  # what --boxkoji-reuse compares (identity_of)
    parts: dict[str, Any]  # what each part's handle is made of (attach.py)
    refs: dict[str, str]  # service name -> its ref in the runtime (pid/start time, container id)
    builders: list[dict[str, Any]] = field(default_factory=list)  # kojid hosts: name, arches...
    credentials: list[dict[str, Any]] = field(default_factory=list)  # the orch's inventory
    mounts: list[str] = field(default_factory=list)  # containers: host paths the services see
    urls: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # KRB5_* for a shell
    koji_config: str = ""
    owner: int | None = None  # `boxkoji up` in the foreground: its pid (down signals it)
    created: float = field(default_factory=time.time)
    format: int = FORMAT

    @property
    def directory(self) -> Path:
        return Path(self.directories[0])

    @property
    def digest(self) -> str:
        return digest(self.identity)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)


def store(cache_dir: Path) -> Path:
    return cache_dir / "boxes"


def check_name(name: str) -> str:
    if not BOX_NAME.match(name):
        raise BoxKojiError(f"environment name {name!r}: use letters, digits, '.', '_' and '-' only")
    return name


def path_of(cache_dir: Path, name: str) -> Path:
    return store(cache_dir) / f"{check_name(name)}.json"


def _lock(cache_dir: Path) -> FileLock:
    store(cache_dir).mkdir(parents=True, exist_ok=True)
    return FileLock(str(store(cache_dir) / ".lock"))


def read(cache_dir: Path, name: str, any_format: bool = False) -> BoxRecord:
    """The record of `name`; any_format: also one an older version wrote (enough to remove it)."""
    path = path_of(cache_dir, name)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        others = names(cache_dir)
        hint = f" Recorded: {', '.join(others)} (choose one with --name)." if others else ""
        raise NoBox(
            f"no environment named {name!r} is running (no record {path}). Start one with "
            f"`boxkoji up --detach --name {name}`.{hint}"
        ) from None
    except ValueError as exc:
        raise NoBox(f"the record {path} is not readable ({exc}); remove it") from None
    if data.get("format") != FORMAT and not any_format:
        raise NoBox(
            f"the record {path} was written by another version of pytest-boxkoji; "
            f"`boxkoji down --name {name}` stops what it names and removes it"
        )
    return BoxRecord(**data)


def names(cache_dir: Path) -> list[str]:
    return sorted(p.stem for p in store(cache_dir).glob("*.json"))


def write(cache_dir: Path, record: BoxRecord, replace: bool = True) -> Path:
    """Write the record (atomically); with replace=False, fail if the name is taken."""
    path = path_of(cache_dir, record.name)
    with _lock(cache_dir):
        if not replace and path.exists():
            raise BoxKojiError(
                f"an environment named {record.name!r} is already recorded ({path}); stop it with "
                f"`boxkoji down --name {record.name}` or choose another name with --name"
            )
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(record.to_json())
        temporary.replace(path)
    return path


def claim(cache_dir: Path, record: BoxRecord) -> str:
    """Write a new record under its name, or (taken) under the name with the workspace id
    added; the name used."""
    with _lock(cache_dir):
        if path_of(cache_dir, record.name).exists():
            record.name = f"{record.name}-{record.marker.rsplit('-', 1)[-1]}"
    write(cache_dir, record, replace=False)
    return record.name


def remove(cache_dir: Path, name: str) -> None:
    with _lock(cache_dir):
        path_of(cache_dir, name).unlink(missing_ok=True)


def identity_of(config: BoxKojiConfig, runtime: str, source: KojiSource) -> dict[str, str]:
    """What an environment was made from, as --boxkoji-reuse compares it: a run that would
    start a different environment must not use this one."""
    return {
        "pytest-boxkoji": version("pytest-boxkoji"),
        "runtime": runtime,
        "koji source": f"{source.origin} (Koji {source.version})",
        "services python": str(config.services_python) if builds_services_python(runtime) else "",
        "service user": config.service_user if os.geteuid() == 0 else "",
        "coverage": f"hub {config.cov_hub}, web {config.cov_web}, workers {config.cov_workers}"
        + (", branch" if config.cov_hub_branch else ""),
        "cli plugins": ":".join(str(p) for p in config.cli_plugins),  # in its koji profiles
        "hubs": str(config.hubs),
        "base image": config.base_image or "",
        "container memory": config.container_memory or "",
    }


def digest(identity: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def differences(recorded: dict[str, str], wanted: dict[str, str]) -> list[str]:
    """Why two identities differ, one line per key."""
    return [
        f"{key}: the environment has {recorded.get(key)!r}, this run asks for {wanted.get(key)!r}"
        for key in sorted(set(recorded) | set(wanted))
        if recorded.get(key) != wanted.get(key)
    ]


def plain(value: Any, leave: tuple[str, ...] = ()) -> Any:
    """A dataclass (or what it holds) as JSON values: paths as text, nested dataclasses as
    objects, tuples as lists; fields named in `leave` left out (a runtime's tools)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name not in leave
        }
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def rebuilt(cls: type[T], data: dict[str, Any], **given: Any) -> T:
    """`plain` undone: the dataclass back from its JSON, each field's type saying what its value
    was; `given` fills the fields `plain` left out."""
    hints = typing.get_type_hints(cls)
    values = {name: _typed(hints[name], value) for name, value in data.items()}
    return cls(**values, **given)


def _typed(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        kinds = [kind for kind in args if kind is not type(None)]
        return _typed(kinds[0], value) if len(kinds) == 1 else value
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_typed(args[0], item) for item in value)
        return tuple(_typed(kind, item) for kind, item in zip(args, value, strict=True))
    if origin is list:
        return [_typed(args[0], item) for item in value]
    if hint is Path:
        return Path(value)
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return rebuilt(hint, value)  # type: ignore[arg-type]
    return value
