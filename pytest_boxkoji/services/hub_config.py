"""The hub's configuration: hub.conf and httpd.conf (Apache with mod_wsgi, mod_ssl and
mod_auth_gssapi running Koji's own kojihub), its service, readiness and in-place reload."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import koji

from pytest_boxkoji.services import Check, Service, apache, hub_plugins
from pytest_boxkoji.templates import render

TOPDIR_PARTS = ("packages", "repos", "repos-dist", "work", "scratch", "images", "vol")
HOSTNAMES = ("localhost", "127.0.0.1", "hub.koji.box")
DAEMON_NAME = "boxkoji-hub"


@dataclass(frozen=True)
class HubConfig(apache.Site):
    """Everything the hub's config files depend on: its Apache site, and the hub's own."""

    realm: str
    db_host: str
    db_port: int
    topdir: Path
    db_name: str = "koji"  # one per pytest-xdist worker when they share a cluster (shared.py)
    proxy_principals: str = ""
    proxy_dns: str = ""
    processes: int = 1
    threads: int = 8
    extra_settings: tuple[tuple[str, str], ...] = ()  # scenario hub settings, they win
    policy: str = ""
    plugin_files: tuple[tuple[str, str], ...] = ()  # the plugins' own files: name -> text (hub_plugins.py)
    app: Path | None = None  # the WSGI script (default: Koji's kojiapp.py; --cov-hub wraps it)

    @property
    def port(self) -> int:
        return self.endpoint.client_port

    @property
    def url(self) -> str:
        """The test process's view of the hub."""
        return f"https://localhost:{self.endpoint.client_port}/kojihub"

    @property
    def service_url(self) -> str:
        """The other services' view (builders, web)."""
        return f"https://{self.endpoint.host}:{self.endpoint.port}/kojihub"

    @property
    def files_url(self) -> str:
        return f"https://localhost:{self.endpoint.client_port}/kojifiles"

    @property
    def service_files_url(self) -> str:
        return f"https://{self.endpoint.host}:{self.endpoint.port}/kojifiles"


def configure(settings: HubConfig) -> Path:
    """Write hub.conf and httpd.conf under settings.directory; return httpd.conf's path."""
    conf = settings.directory / "conf"
    values = settings.template_values(
        "Apache serving the Koji hub over HTTPS",
        settings.app or settings.koji_src / "kojihub" / "app" / "kojiapp.py",
        DAEMON_NAME,
        processes=settings.processes,
        threads=settings.threads,
        hub_conf=conf / "hub.conf",
        hub_conf_d=conf / "hub.conf.d",
        topdir=settings.topdir,
        plugin_loader=conf / hub_plugins.LOADER.name,
    )
    for path in (conf / "hub.conf.d", settings.topdir):
        path.mkdir(parents=True, exist_ok=True)
    shutil.copy(hub_plugins.LOADER, conf / hub_plugins.LOADER.name)  # where the hub's user reads it
    for part in TOPDIR_PARTS:
        (settings.topdir / part).mkdir(exist_ok=True)
    write_hub_conf(settings)
    httpd_conf = conf / "httpd.conf"
    httpd_conf.write_text(render("hub-httpd.conf", **values))
    return httpd_conf


def hub_settings(settings: HubConfig) -> dict[str, str]:
    """hub.conf's [hub] section: our defaults, then whatever a scenario sets."""
    values = {
        "DBName": settings.db_name,
        "DBUser": "koji",
        "DBHost": settings.db_host,
        "DBPort": str(settings.db_port),
        "KojiDir": str(settings.topdir),
        "LoginCreatesUser": "On",
        "DNUsernameComponent": "CN",
        "AllowedKrbRealms": settings.realm,
        # Web and workers log in through these (their users and credentials come with them).
        "ProxyPrincipals": settings.proxy_principals,
        "ProxyDNs": settings.proxy_dns,
        # Users log in to the web by Kerberos or certificate, whichever way the web logs in itself.
        "AllowProxyAuthType": "On",
        "HostPrincipalFormat": f"compile/%s@{settings.realm}",
        "KojiWebURL": f"https://localhost:{settings.endpoint.client_port}/koji",
        "DisableNotifications": "True",
        # Debug logging grows the log by hundreds of thousands of lines.
        "LogLevel": "WARNING",
        "KojiTraceback": "extended",
        # The scheduler's default of 60 s leaves tasks free for a minute.
        "RunInterval": "1",
        "PluginPath": str(settings.koji_src / "plugins" / "hub"),
    }
    values.update(dict(settings.extra_settings))
    return values


def write_hub_conf(settings: HubConfig) -> bool:
    """(Re)write hub.conf and the plugins' files; True when any content changed."""
    path = settings.directory / "conf" / "hub.conf"
    plugins = hub_plugins.write_files(settings.directory / "conf" / "plugins", settings.plugin_files)
    text = render("hub.conf", settings=hub_settings(settings), policy=settings.policy)
    if path.exists() and path.read_text() == text:
        return plugins
    path.write_text(text)
    path.chmod(0o644)
    return True


def answers(settings: HubConfig) -> bool:
    """The hub answers getAPIVersion over HTTPS, its certificate checked against our CA."""
    session = koji.ClientSession(settings.url, {"serverca": str(settings.ca), "max_retries": 0, "timeout": 5})
    try:
        return isinstance(session.getAPIVersion(), int)
    finally:
        session.rsession.close() if session.rsession else None


def service(settings: HubConfig, env: dict[str, str], name: str = "hub") -> Service:
    httpd_conf = configure(settings)
    run = settings.directory / "run"
    return Service(
        name=name,
        command=apache.command(settings.tools, httpd_conf),
        ready=Check("getAPIVersion over HTTPS, the certificate checked", lambda: answers(settings)),
        log=settings.directory / "logs" / "httpd.stdout.log",
        extra_logs=(settings.directory / "logs" / "httpd-error.log",),
        env={**env, "KRB5RCACHEDIR": str(run), "LANG": "C.UTF-8", "HOME": str(run)},
        deadline=60,
        image="hub",
        reload=lambda pid: apache.restart_daemons(pid, DAEMON_NAME, lambda: answers(settings)),
    )
