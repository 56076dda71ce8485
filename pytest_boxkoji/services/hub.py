"""The Koji hub part: Koji's kojihub under Apache, with its credentials, optionally under
coverage, and `Hub`, which owns its configuration once it runs (scenarios reconfigure it)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from pytest_boxkoji import clients, progress
from pytest_boxkoji.coverage.data import APP as COVERAGE_APP
from pytest_boxkoji.coverage.data import HubCoverage
from pytest_boxkoji.graph import Context, Part
from pytest_boxkoji.orch import Credential
from pytest_boxkoji.runtimes import Runtime
from pytest_boxkoji.services import Service, apache, hub_config
from pytest_boxkoji.services.hub_config import HubConfig

WEB_IDENTITY = "kojiweb"  # kojiweb's user name, principal and certificate CN at the hub
PROXY_TOKEN = "proxy-token"  # orch's name for the secret nginx proves itself with


class Hub:
    """The running hub: its configuration, service, coverage and the test process's koji profile."""

    def __init__(
        self,
        settings: HubConfig,
        service: Service,
        runtime: Runtime,
        koji_config: Path,
        coverage: HubCoverage | None,
    ) -> None:
        self.settings = settings
        self.service = service
        self.runtime = runtime
        self.koji_config = koji_config
        self.coverage = coverage

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
    endpoint, proxied = runtime.endpoint("hub", 8443), runtime.endpoint("hub", 8080)
    tools = runtime.tools("hub", *apache.PROGRAMS)
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
        proxied=proxied,
        proxy_token=orch.checkout(PROXY_TOKEN, "password", holder="proxy").password,
        # kojiweb logs its users in (services/web.py): by keytab, or by certificate.
        proxy_principals=f"{WEB_IDENTITY}@{orch.realm.realm}",
        proxy_dns=orch.ca.subject_dn(WEB_IDENTITY),
    )
    env = dict(orch.realm.env)
    coverage = None
    if context.config.cov_hub:
        # Our wrapper app around Koji's, copied where the hub's user can read it.
        coverage = HubCoverage(workspace.directory / "coverage", source.path)
        app = settings.directory / "app" / COVERAGE_APP.name
        app.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(COVERAGE_APP, app)
        app.chmod(0o644)
        settings = dataclasses.replace(settings, app=app)
        env.update(coverage.prepare(workspace.owner))
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
    return Hub(settings, service, runtime, koji_config, coverage)


CREDENTIALS = Part("hub-credentials", ("orch",), credentials)
PART = Part("hub", ("source", "orch", "hub-credentials", "postgres", "python"), start)
