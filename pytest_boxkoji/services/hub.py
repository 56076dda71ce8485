"""The Koji hub part: Koji's kojihub under Apache, with its credentials, optionally under
coverage, and `Hub`, which owns its configuration once it runs (scenarios reconfigure it)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from pytest_boxkoji import clients, hostprogs, progress
from pytest_boxkoji.coverage.data import APP as COVERAGE_APP
from pytest_boxkoji.coverage.data import HubCoverage
from pytest_boxkoji.graph import Context, Part
from pytest_boxkoji.hubcalls.stats import APP as CALLS_APP
from pytest_boxkoji.orch import Credential
from pytest_boxkoji.runtimes import Runtime
from pytest_boxkoji.services import Service, hub_config
from pytest_boxkoji.services.hub_config import HubConfig


class Hub:
    """The running hub: its configuration, service, coverage and the test process's koji profile."""

    def __init__(
        self,
        settings: HubConfig,
        service: Service,
        runtime: Runtime,
        koji_config: Path,
        coverage: HubCoverage | None,
        calls_log: Path | None = None,
    ) -> None:
        self.settings = settings
        self.service = service
        self.runtime = runtime
        self.koji_config = koji_config
        self.coverage = coverage
        self.calls_log = calls_log  # every call the hub served, one line each (hubcalls/)

    def reconfigure(self, extra_settings: dict[str, str], policy: str) -> bool:
        """Rewrite hub.conf with these settings and policy; reload the hub when it changed."""
        new = dataclasses.replace(self.settings, extra_settings=tuple(extra_settings.items()), policy=policy)
        self.settings = new
        if not hub_config.write_hub_conf(new):
            return False
        with progress.phase("reloading the hub"):
            self.runtime.restart(self.service)
        return True


def credentials(context: Context) -> tuple[Credential, Credential]:
    """The hub's certificate and HTTP keytab: made while PostgreSQL starts (kadmin takes a while)."""
    orch, owner, hosts = context.parts["orch"], context.workspace.owner, hub_config.HOSTNAMES
    cert = orch.checkout("hub", "server_cert", holder="hub", hosts=hosts, owner=owner)
    keytab = orch.checkout("HTTP", "keytab", holder="hub", hosts=hosts, owner=owner)
    return cert, keytab


def start(context: Context) -> Hub:
    source, orch, cluster, python = (context.parts[p] for p in ("source", "orch", "postgres", "python"))
    cert, keytab = context.parts["hub-credentials"]
    runtime, workspace = context.runtime, context.workspace
    endpoint = runtime.endpoint("hub", 8443)
    tools = runtime.tools("hub", hostprogs.APACHE, hostprogs.MOD_SSL, hostprogs.MOD_AUTH_GSSAPI)
    runtime.mount(source.path)
    settings = HubConfig(
        directory=workspace.directory / "hub",
        endpoint=endpoint,
        tools=tools,
        koji_src=source.path,
        python_home=python.root,
        mod_wsgi=python.mod_wsgi,
        cert=cert.path,
        key=cert.key_path,
        ca=orch.ca_file,
        keytab=keytab.path,
        realm=orch.realm.realm,
        db_host=cluster.endpoint.host,
        db_port=cluster.endpoint.port,
        topdir=workspace.directory / "topdir",
        proxy_principals=f"HTTP/localhost@{orch.realm.realm}",
        proxy_dns=orch.ca.subject_dn("kojiweb"),
    )
    env = dict(orch.realm.env)
    coverage = None
    if context.config.cov_hub:
        # Our wrapper app around Koji's, copied where the hub's user can read it.
        coverage = HubCoverage(workspace.directory / "coverage", source.path)
        app = _copy_app(COVERAGE_APP, settings.directory / "app")
        settings = dataclasses.replace(settings, app=app)
        env.update(coverage.prepare(workspace.owner))
    calls_log = None
    if context.config.record_hub_calls:
        # Records every call, then serves the app chosen so far (Koji's, or coverage's).
        calls_log = settings.directory / "logs" / "calls.tsv"
        if settings.app is not None:
            env["BOXKOJI_HUB_INNER_APP"] = str(settings.app)
        env["BOXKOJI_HUB_CALLS"] = str(calls_log)
        app = _copy_app(CALLS_APP, settings.directory / "app")
        settings = dataclasses.replace(settings, app=app)
    service = hub_config.service(settings, env)
    workspace.chown(settings.directory)
    workspace.chown(settings.topdir)
    context.start_service(service)
    koji_config = clients.write_profile(
        workspace.directory / "koji.conf",
        settings.url,
        settings.files_url,
        f"https://localhost:{endpoint.client_port}/koji",
        settings.topdir,
        orch.ca_file,
    )
    return Hub(settings, service, runtime, koji_config, coverage, calls_log)


def _copy_app(app: Path, directory: Path) -> Path:
    """A WSGI script of ours, copied where the hub's user can read it."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / app.name
    shutil.copy(app, target)
    target.chmod(0o644)
    return target


CREDENTIALS = Part("hub-credentials", ("orch",), credentials)
PART = Part("hub", ("source", "orch", "hub-credentials", "postgres", "python"), start)
