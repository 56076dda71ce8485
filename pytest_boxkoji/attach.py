"""Taking over an environment that another process started and left running (`boxkoji up`,
--boxkoji-keep): the parts' handles rebuilt from its record (box.py), its services rebuilt from
the same service descriptions and adopted by the runtime by ref. Nothing is started. The
`boxkoji` verbs and --boxkoji-reuse work on the result as on any Environment.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from filelock import FileLock, Timeout

from pytest_boxkoji import attach_web, box, hostprogs, kojisrc
from pytest_boxkoji.box import BoxRecord, NoBox
from pytest_boxkoji.config import BoxKojiConfig
from pytest_boxkoji.coverage.data import KojiCoverage
from pytest_boxkoji.environment import Environment
from pytest_boxkoji.kojisrc import KojiSource
from pytest_boxkoji.orch import Credential, Orch
from pytest_boxkoji.runtimes import choose_runtime
from pytest_boxkoji.runtimes.tools import Endpoint
from pytest_boxkoji.services import Service, apache, hub_config, hub_plugins
from pytest_boxkoji.services.hub import Hub
from pytest_boxkoji.services.hub_config import HubConfig
from pytest_boxkoji.services.kdc import Realm
from pytest_boxkoji.services.kdc import service as kdc_service
from pytest_boxkoji.services.postgres import Cluster
from pytest_boxkoji.servicespy import ServicesPython
from pytest_boxkoji.workers import Builder
from pytest_boxkoji.workspace import Workspace

log = logging.getLogger(__name__)
PATH_FIELDS = {f.name for f in dataclasses.fields(HubConfig)} - {
    "endpoint",
    "proxied",
    "proxy_token",
    "tools",
    "realm",
    "db_host",
    "db_port",
    "db_name",
    "proxy_principals",
    "proxy_dns",
    "processes",
    "threads",
    "extra_settings",
    "policy",
    "plugin_files",
}


# -- handles to the record ---------------------------------------------------------------------


def parts_of(env: Environment) -> dict[str, Any]:
    """What each started part's handle is made of, as JSON."""
    handles = env.graph.handles
    parts: dict[str, Any] = {}
    source = cast(KojiSource | None, handles.get("source"))
    if source:
        parts["source"] = {"path": str(source.path), "version": source.version, "origin": source.origin}
    python = cast(ServicesPython | None, handles.get("python"))
    if python:
        parts["python"] = {"root": str(python.root), "mod_wsgi": str(python.mod_wsgi)}
    realm = cast(Realm | None, handles.get("kdc"))
    if realm:
        endpoint = dataclasses.asdict(realm.endpoint)
        parts["kdc"] = {"directory": str(realm.directory), "endpoint": endpoint, "realm": realm.realm}
    orch = cast(Orch | None, handles.get("orch"))
    if orch:
        parts["orch"] = {"directory": str(orch.directory)}
    cluster = cast(Cluster | None, handles.get("postgres"))
    if cluster:
        parts["postgres"] = {
            "directory": str(cluster.directory),
            "endpoint": dataclasses.asdict(cluster.endpoint),
        }
    coverage = cast(KojiCoverage | None, handles.get("coverage"))
    if "coverage" in handles:
        parts["coverage"] = (
            {"services": list(coverage.services), "branch": coverage.branch} if coverage else None
        )
    hub = cast(Hub | None, handles.get("hub"))
    if hub:
        # The service's env as the hub part made it (coverage, the hub-call log...): a restart
        # in a new container needs all of it.
        hubs = [
            {"name": service.name, "settings": _settings(settings), "env": dict(service.env)}
            for settings, service in hub.hubs
        ]
        parts["hub"] = {"hubs": hubs, "settings": hubs[0]["settings"], "koji_config": str(hub.koji_config)}
    parts.update(attach_web.parts_of(env))
    return parts


def _settings(settings: HubConfig) -> dict[str, Any]:
    values = {f.name: getattr(settings, f.name) for f in dataclasses.fields(HubConfig) if f.name != "tools"}
    values["endpoint"] = dataclasses.asdict(settings.endpoint)
    values["proxied"] = dataclasses.asdict(settings.proxied)
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in values.items()}


def credentials_of(env: Environment) -> list[dict[str, Any]]:
    orch = cast(Orch | None, env.graph.handles.get("orch"))
    if orch is None:
        return []
    found = []
    for cred in orch.inventory():
        data = dataclasses.asdict(cred)
        found.append({k: (str(v) if isinstance(v, Path) else v) for k, v in data.items()})
    return found


def builders_of(env: Environment) -> list[dict[str, Any]]:
    """The kojid builders that run (their services' refs are in the record's refs)."""
    crew = env._workers
    if crew is None:
        return []
    return [
        {"name": b.name, "arches": list(b.arches), "channels": list(b.channels), "capacity": b.capacity}
        for b in crew.builders.values()
        if b.service is not None and env.runtime.alive(b.service)
    ]


# -- the record to handles ---------------------------------------------------------------------


class AttachedEnvironment(Environment):
    """An environment that outlives this process: stopping it leaves it running as it was."""

    record: BoxRecord
    service_of: dict[str, Service]  # the recorded services of the graph's parts, by name
    _reuse_lock: FileLock | None = None  # --boxkoji-reuse: one pytest run at a time

    def stop(self, keep: bool | None = None) -> None:
        """Give the hub's state back as it was when this process attached (a pytest session's
        snapshots dropped), stop what this process started (a session's extra builders), bring
        the record up to date, and forget the rest without stopping it."""
        try:
            if self._state is not None:
                self._state.give_back()
            hub = cast(Hub | None, self.graph.handles.get("hub"))
            recorded = self.record.parts.get("hub", {}).get("settings", {})
            if hub is not None and recorded:  # scenarios' hub settings and policies undone
                plugin_files = hub_plugins.parse_files(recorded.get("plugin_files", ()))
                hub.reconfigure(dict(recorded["extra_settings"]), recorded["policy"], plugin_files)
        except Exception as exc:  # the hub keeps running; say why its state may differ
            log.warning("could not give the hub's state back: %s", exc)
        self.release()
        for name, problem in self.graph.stop():
            log.warning("could not stop %s: %s", name, problem)
        self.save()
        self.runtime.detach()
        self.workspace.restore_environ()
        if self._reuse_lock is not None:
            self._reuse_lock.release()

    def save(self) -> None:
        """Write the record again: refs change with restarts, credentials with new users."""
        if box.path_of(self.config.cache_dir, self.record.name).exists():
            box.write(self.config.cache_dir, box.describe(self, self.record.name, self.record.owner))

    def dead(self) -> list[str]:
        """The recorded services that no longer run."""
        return [s.name for s in self.runtime.dead(self.services())]

    def services(self) -> list[Service]:
        """Every recorded service, in start order (the KDC, PostgreSQL, the hub, kojira, kojid)."""
        found = list(self.service_of.values())
        if self._workers is not None:
            crew = self._workers
            found += [s for s in [crew.kojira] if s is not None]
            found += [b.service for b in crew.builders.values() if b.service is not None]
        return found


def attach(record: BoxRecord, config: BoxKojiConfig) -> AttachedEnvironment:
    """The environment of `record`, its handles rebuilt and its services adopted."""
    directories = [Path(d) for d in record.directories]
    if not directories[0].is_dir():
        raise NoBox(
            f"environment {record.name!r}: its directory {directories[0]} is gone (removed, or the "
            f"machine restarted); `boxkoji down --name {record.name}` removes what is left of it"
        )
    # keep: processes this process starts (a restart) must outlive it, as the recorded ones do.
    config = replace(
        config,
        enabled=True,
        runtime=record.runtime,
        keep=True,
        cov_hub=False,
        cov_web=False,
        cov_workers=False,
    )
    workspace = Workspace.reopen(directories, record.marker, config.service_user)
    runtime = choose_runtime(config, record.marker, workspace.directory, attach=True)
    for mount in record.mounts:
        runtime.mount(Path(mount))
    env = AttachedEnvironment(config, workspace, runtime)
    env.record = record
    env.service_of = {}
    handles = env.graph.handles
    parts = record.parts
    if "source" in parts:
        p = parts["source"]
        handles["source"] = KojiSource(Path(p["path"]), p["version"], p["origin"])
    if "python" in parts:
        handles["python"] = ServicesPython(Path(parts["python"]["root"]), Path(parts["python"]["mod_wsgi"]))
    if "kdc" in parts:
        p = parts["kdc"]
        tools = runtime.tools("kdc", hostprogs.KRB5KDC, hostprogs.KDB5_UTIL, hostprogs.KADMIN_LOCAL)
        realm = Realm(Path(p["directory"]), Endpoint(**p["endpoint"]), tools, p["realm"])
        handles["kdc"] = realm
        workspace.set_environ(realm.env | {"KRB5CCNAME": f"FILE:{realm.directory}/krb5cc_default"})
        env.service_of["kdc"] = kdc_service(realm)
        runtime.adopt(env.service_of["kdc"], record.refs.get("kdc", "0/0"), [realm.endpoint])
    if "orch" in parts:
        held = [credential(c) for c in record.credentials]
        handles["orch"] = Orch.reopen(Path(parts["orch"]["directory"]), handles["kdc"], held)
    if "postgres" in parts:
        p = parts["postgres"]
        tools = runtime.tools("postgres", hostprogs.INITDB, hostprogs.POSTGRES)
        cluster = Cluster(Path(p["directory"]), Endpoint(**p["endpoint"]), tools)
        handles["postgres"] = cluster
        env.service_of["postgres"] = cluster.service()
        runtime.adopt(env.service_of["postgres"], record.refs.get("postgres", "0/0"), [cluster.endpoint])
    if "coverage" in parts:
        measured = parts["coverage"]
        handles["coverage"] = (
            KojiCoverage(
                workspace.directory / "coverage",
                handles["source"].path,
                tuple(measured["services"]),
                measured.get("branch", False),
            )
            if measured
            else None
        )
    if "hub" in parts:
        handles["hub"] = hub = _hub(parts["hub"], env)
        for settings, service in hub.hubs:
            env.service_of[service.name] = service
            runtime.adopt(
                service, record.refs.get(service.name, "0/0"), [settings.endpoint, settings.proxied]
            )
    attach_web.adopt(env, parts, record.refs, env.service_of)
    if record.builders or "kojira" in record.refs:
        builders = [Builder(b["name"], b["arches"], b["channels"], b["capacity"]) for b in record.builders]
        env.workers.adopt(builders, record.refs)
    return env


def credential(data: dict[str, Any]) -> Credential:
    paths = {k: Path(data[k]) if data.get(k) else None for k in ("path", "key_path")}
    return Credential(**{**data, **paths, "principals": tuple(data["principals"])})


def _hub(data: dict[str, Any], env: Environment) -> Hub:
    tools = env.runtime.tools("hub", *apache.PROGRAMS)
    coverage = cast(KojiCoverage | None, env.graph.handles.get("coverage"))
    hubs = []
    for each in data["hubs"]:
        values = dict(each["settings"])
        values["endpoint"] = Endpoint(**values["endpoint"])
        values["proxied"] = Endpoint(**values["proxied"])
        values["extra_settings"] = tuple(tuple(pair) for pair in values["extra_settings"])
        values["plugin_files"] = tuple(tuple(pair) for pair in values.get("plugin_files", ()))
        for name in PATH_FIELDS:
            if values.get(name) is not None:
                values[name] = Path(values[name])
        settings = HubConfig(tools=tools, **values)
        hubs.append((settings, hub_config.service(settings, each["env"], each["name"])))
    return Hub(hubs, env.runtime, Path(data["koji_config"]), coverage)


def running(cache_dir: Path, name: str, config: BoxKojiConfig) -> AttachedEnvironment:
    """The recorded environment `name`, taken over; NoBox when a service of it has died."""
    env = attach(box.read(cache_dir, name), config)
    dead = env.dead()
    if dead:
        env.runtime.detach()
        env.workspace.restore_environ()
        raise NoBox(
            f"environment {name!r} is recorded but not running: {', '.join(dead)} "
            f"{'has' if len(dead) == 1 else 'have'} stopped. `boxkoji down --name {name}` removes what "
            f"is left of it; `boxkoji logs --name {name} SERVICE` shows why"
        )
    return env


def reuse(config: BoxKojiConfig) -> AttachedEnvironment:
    """--boxkoji-reuse: the recorded environment, when it was made from what this run would
    make it from; NoBox saying why not otherwise."""
    name = config.box
    record = box.read(config.cache_dir, name)
    runtime = record.runtime if config.runtime == "auto" else config.runtime
    source = kojisrc.resolve(config.koji_source, config.cache_dir, config.koji_source_explicit)
    wanted = box.identity_of(config, runtime, source)
    if box.digest(wanted) != record.digest:
        reasons = "\n  ".join(box.differences(record.identity, wanted))
        raise NoBox(
            f"--boxkoji-reuse: environment {name!r} was not made from what this run asks for:\n  {reasons}\n"
            f"Stop it (`boxkoji down --name {name}`) and start one that matches, or run without "
            "--boxkoji-reuse"
        )
    env = running(config.cache_dir, name, config)
    lock = FileLock(str(env.directory / "reuse.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        env.runtime.detach()
        env.workspace.restore_environ()
        raise NoBox(
            f"--boxkoji-reuse: environment {name!r} is in use by another pytest run; wait for it or "
            "start another environment (`boxkoji up --detach --name OTHER`, --boxkoji-box=OTHER)"
        ) from None
    env._reuse_lock = lock
    return env
