"""The Koji hub part: Koji's kojihub under Apache, with its credentials, optionally under
coverage, and `Hub`, which owns its configuration once it runs (scenarios reconfigure it)."""

from __future__ import annotations

import dataclasses
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pytest_boxkoji import box, clients, progress
from pytest_boxkoji.coverage.data import COVERAGE, KojiCoverage
from pytest_boxkoji.graph import Context, Part, Recording, Restoring
from pytest_boxkoji.hubcalls.stats import APP as CALLS_APP
from pytest_boxkoji.kojisrc import SOURCE
from pytest_boxkoji.orch import ORCH, Credential
from pytest_boxkoji.partkey import Key
from pytest_boxkoji.runtimes import Lifecycle
from pytest_boxkoji.services import Service, apache, hub_config, hub_plugins
from pytest_boxkoji.services.hub_config import HubConfig
from pytest_boxkoji.services.postgres import POSTGRES
from pytest_boxkoji.servicespy import PYTHON

WEB_IDENTITY = "kojiweb"  # kojiweb's user name, principal and certificate CN at the hub


class Hub:
    """The running hub (or hubs, --boxkoji-hubs, sharing one database and topdir): their
    configuration and services, coverage, and the test process's koji profile."""

    def __init__(
        self,
        hubs: list[tuple[HubConfig, Service]],
        runtime: Lifecycle,  # it restarts its services to reload them
        koji_config: Path,
        coverage: KojiCoverage | None,
        calls_log: Path | None = None,
    ) -> None:
        self.hubs = hubs
        self.runtime = runtime
        self.koji_config = koji_config
        self.coverage = coverage
        self.calls_log = calls_log  # every call the hub served, one line each (hubcalls/)
        # Plugins the box runs in every state from the time a part enables them (protonmsg, for
        # the broker), with their files' defaults: module -> file name -> sections.
        self.box_plugins: dict[str, dict[str, hub_plugins.Sections]] = {}
        self._wanted: tuple[dict[str, str], str, dict[str, hub_plugins.Sections]] = ({}, "", {})

    @property
    def settings(self) -> HubConfig:
        """The first hub's: the one clients reach directly (the proxy reaches them all)."""
        return self.hubs[0][0]

    @property
    def service(self) -> Service:
        return self.hubs[0][1]

    def named_settings(self) -> list[tuple[str, HubConfig]]:
        return [(service.name, settings) for settings, service in self.hubs]

    def reconfigure(
        self,
        extra_settings: dict[str, str],
        policy: str,
        plugin_config: dict[str, hub_plugins.Sections] | None = None,
    ) -> bool:
        """Rewrite hub.conf with these settings and policy, and the plugins' files (name ->
        sections) over the box's plugins' defaults; reload the hubs when anything changed."""
        self._wanted = (dict(extra_settings), policy, dict(plugin_config or {}))
        combined, files = hub_plugins.combine(extra_settings, plugin_config or {}, self.box_plugins)
        changed = False
        for index, (settings, service) in enumerate(self.hubs):
            new = dataclasses.replace(
                settings,
                extra_settings=tuple(combined.items()),
                policy=policy,
                plugin_files=tuple(files.items()),
            )
            self.hubs[index] = (new, service)
            changed = hub_config.write_hub_conf(new) or changed
        if changed:
            with progress.phase("reloading the hub"):
                for _, service in self.hubs:
                    self.runtime.restart(service)
        return changed

    def adopt_settings(self) -> None:
        """What the running hub was configured with becomes what a later reconfigure starts
        from (a hub restored from a record)."""
        settings = self.settings
        self._wanted = (
            dict(settings.extra_settings),
            settings.policy,
            hub_plugins.parse_files(settings.plugin_files),
        )

    def enable_plugin(self, name: str, files: dict[str, hub_plugins.Sections]) -> None:
        """Run plugin `name` in every state from now on, with these defaults for its files,
        which a scenario's plugin-config extends; the hubs reload."""
        self.box_plugins[name] = files
        self.reconfigure(*self._wanted)


HUB: Key[Hub] = Key("hub")  # its part's name, typed with this handle (graph.Key)


HUB_CREDENTIALS: Key[tuple[Credential, Credential]] = Key(
    "hub-credentials"
)  # its part's name, typed with this handle (graph.Key)


def credentials(context: Context) -> tuple[Credential, Credential]:
    """The hub's certificate and HTTP keytab: made while PostgreSQL starts (kadmin takes a while)."""
    orch, owner, hosts = context.get(ORCH), context.workspace.owner, hub_config.HOSTNAMES
    cert = orch.checkout("hub", "server_cert", holder="hub", hosts=hosts, owner=owner)
    keytab = orch.checkout("HTTP", "keytab", holder="hub", hosts=hosts, owner=owner)
    return cert, keytab


def start(context: Context) -> Hub:
    source, orch, cluster = context.get(SOURCE), context.get(ORCH), context.get(POSTGRES)
    cert, keytab = context.get(HUB_CREDENTIALS)
    runtime, workspace = context.runtime, context.workspace
    endpoint = runtime.endpoint("hub", 8443, context.config.hub_port)
    runtime.mount(source.path)
    settings = HubConfig(
        **apache.site_fields(context, "hub", endpoint, cert, keytab),
        realm=orch.realm.realm,
        db_host=cluster.endpoint.host,
        db_port=cluster.endpoint.port,
        db_name=cluster.database,
        topdir=workspace.directory / "topdir",
        # kojiweb logs its users in (services/web.py): by keytab, or by certificate.
        proxy_principals=f"{WEB_IDENTITY}@{orch.realm.realm}",
        proxy_dns=orch.ca.subject_dn(WEB_IDENTITY),
    )
    env = dict(orch.realm.env)
    coverage = context.get(COVERAGE)
    if coverage is not None and coverage.measures("hub"):
        script = source.path / "kojihub" / "app" / "kojiapp.py"
        app, cov_env = coverage.prepare("hub", script, settings.directory / "app", workspace.owner)
        settings = dataclasses.replace(settings, app=app)
        env.update(cov_env)
    calls_log = None
    if context.config.record_hub_calls:
        # Records every call, then serves the app chosen so far (Koji's, or coverage's). Every
        # hub (--boxkoji-hubs) appends to the first one's file.
        calls_log = settings.directory / "logs" / "calls.tsv"
        if settings.app is not None:
            env["BOXKOJI_HUB_INNER_APP"] = str(settings.app)
        env["BOXKOJI_HUB_CALLS"] = str(calls_log)
        app = _copy_app(CALLS_APP, settings.directory / "app")
        settings = dataclasses.replace(settings, app=app)
    hubs = [(settings, hub_config.service(settings, env))]
    for number in range(2, context.config.hubs + 1):  # more hubs: the same but their ports and files
        name = f"hub-{number}"
        extra = dataclasses.replace(
            settings,
            directory=workspace.directory / name,
            endpoint=runtime.endpoint(name, 8443),
            proxied=runtime.endpoint(name, 8080),
        )
        hubs.append((extra, hub_config.service(extra, env, name)))
    workspace.chown(settings.topdir)
    for each, _ in hubs:
        workspace.chown(each.directory)
    with ThreadPoolExecutor(max_workers=len(hubs), thread_name_prefix="boxkoji-hub") as pool:
        list(pool.map(context.start_service, [service for _, service in hubs]))
    koji_config = clients.write_profile(
        workspace.directory / "koji.conf",
        settings.url,
        settings.files_url,
        f"https://localhost:{endpoint.client_port}/koji",
        settings.topdir,
        orch.ca_file,
        plugin_paths=clients.cli_plugin_paths(source.path, context.config.cli_plugins),
    )
    return Hub(hubs, runtime, koji_config, coverage, calls_log)


def _copy_app(app: Path, directory: Path) -> Path:
    """A WSGI script of ours, copied where the hub's user can read it."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / app.name
    shutil.copy(app, target)
    target.chmod(0o644)
    return target


def record(hub: Hub, recording: Recording) -> dict[str, Any]:
    """Each hub's settings and the env its service was given (coverage, the hub-call log...):
    a restart in a new container needs all of it."""
    hubs = [
        {"name": service.name, "settings": box.plain(settings, leave=("tools",)), "env": dict(service.env)}
        for settings, service in hub.hubs
    ]
    return {
        "hubs": hubs,
        "settings": hubs[0]["settings"],
        "koji_config": str(hub.koji_config),
        "calls_log": str(hub.calls_log) if hub.calls_log else None,
    }


def restore(restoring: Restoring, data: dict[str, Any]) -> Hub:
    tools = restoring.runtime.tools("hub", *apache.PROGRAMS)
    hubs = []
    for each in data["hubs"]:
        settings = box.rebuilt(HubConfig, each["settings"], tools=tools)
        service = restoring.adopt(
            hub_config.service(settings, each["env"], each["name"]), [settings.endpoint, settings.proxied]
        )
        hubs.append((settings, service))
    calls_log = Path(data["calls_log"]) if data.get("calls_log") else None
    hub = Hub(hubs, restoring.runtime, Path(data["koji_config"]), restoring.get(COVERAGE), calls_log)
    hub.adopt_settings()
    return hub


def urls(hub: Hub) -> dict[str, str]:
    return {"hub": hub.settings.url, "files": hub.settings.files_url}


def health(hub: Hub) -> list[dict[str, object]]:
    """Each hub through its plain port for the proxy, and the builders as the first hub sees them."""
    entries: list[dict[str, object]] = []
    for name, settings in hub.named_settings():
        entries.append(
            {
                "name": name,
                "probe": "hub",
                "url": f"http://{settings.proxied.host}:{settings.proxied.port}/kojihub",
                "token": settings.proxy_token,
                "check": "getKojiVersion through the proxy's port",
            }
        )
    first = hub.settings
    entries.append(
        {
            "name": "builders",
            "probe": "builders",
            "url": f"http://{first.proxied.host}:{first.proxied.port}/kojihub",
            "token": first.proxy_token,
            "check": "every enabled kojid host updated itself at the hub within 30 s",
        }
    )
    return entries


CREDENTIALS = Part(HUB_CREDENTIALS, (ORCH,), credentials)
PART = Part(
    HUB,
    (SOURCE, ORCH, HUB_CREDENTIALS, POSTGRES, PYTHON, COVERAGE),
    start,
    record=record,
    restore=restore,
    urls=urls,
    health=health,
)
