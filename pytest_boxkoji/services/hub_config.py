"""The hub's configuration: hub.conf and httpd.conf (Apache with mod_wsgi, mod_ssl and
mod_auth_gssapi running Koji's own kojihub), its service, readiness and in-place reload."""

from __future__ import annotations

import contextlib
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import koji
import psutil

from pytest_boxkoji import hostprogs
from pytest_boxkoji.errors import ServiceStartError
from pytest_boxkoji.runtimes.tools import Endpoint, Tools
from pytest_boxkoji.services import Check, Service
from pytest_boxkoji.templates import render

# (module name, file): loaded when the file exists (Debian compiles some in, Fedora does not).
MODULES = (
    ("mpm_event_module", "mod_mpm_event.so"),
    ("unixd_module", "mod_unixd.so"),
    ("log_config_module", "mod_log_config.so"),
    ("authn_core_module", "mod_authn_core.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("authz_user_module", "mod_authz_user.so"),
    ("alias_module", "mod_alias.so"),
    ("env_module", "mod_env.so"),
    ("autoindex_module", "mod_autoindex.so"),
    ("socache_shmcb_module", "mod_socache_shmcb.so"),
    ("ssl_module", "mod_ssl.so"),
    ("auth_gssapi_module", "mod_auth_gssapi.so"),
)
TOPDIR_PARTS = ("packages", "repos", "repos-dist", "work", "scratch", "images", "vol")
HOSTNAMES = ("localhost", "127.0.0.1", "hub.koji.box")
DAEMON_NAME = "boxkoji-hub"


@dataclass(frozen=True)
class HubConfig:
    """Everything the hub's config files depend on."""

    directory: Path
    endpoint: Endpoint
    tools: Tools
    koji_src: Path
    python_home: Path
    mod_wsgi: Path
    cert: Path
    key: Path
    ca: Path
    keytab: Path
    realm: str
    db_host: str
    db_port: int
    topdir: Path
    proxy_principals: str = ""
    proxy_dns: str = ""
    processes: int = 1
    threads: int = 8
    extra_settings: tuple[tuple[str, str], ...] = ()  # scenario hub settings, they win
    policy: str = ""
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


def modules_dir(tools: Tools) -> Path:
    return Path(tools.path(hostprogs.MOD_SSL)).parent


def configure(settings: HubConfig) -> Path:
    """Write hub.conf and httpd.conf under settings.directory; return httpd.conf's path."""
    conf, run, logs = (settings.directory / part for part in ("conf", "run", "logs"))
    for path in (conf, conf / "hub.conf.d", run, logs, settings.topdir):
        path.mkdir(parents=True, exist_ok=True)
    for part in TOPDIR_PARTS:
        (settings.topdir / part).mkdir(exist_ok=True)
    mods = modules_dir(settings.tools)
    tools = settings.tools
    write_hub_conf(settings)
    httpd_conf = conf / "httpd.conf"
    httpd_conf.write_text(
        render(
            "httpd.conf",
            run_dir=run,
            log_dir=logs,
            bind=settings.endpoint.bind,
            port=settings.endpoint.port,
            user=None,
            group=None,
            modules=[(name, file) for name, file in MODULES if tools.has_file(mods / file)],
            modules_dir=mods,
            mod_wsgi=settings.mod_wsgi,
            python_home=settings.python_home,
            koji_src=settings.koji_src,
            app=settings.app or settings.koji_src / "kojihub" / "app" / "kojiapp.py",
            processes=settings.processes,
            daemon_name=DAEMON_NAME,
            threads=settings.threads,
            cert=settings.cert,
            key=settings.key,
            ca=settings.ca,
            keytab=settings.keytab,
            hub_conf=conf / "hub.conf",
            hub_conf_d=conf / "hub.conf.d",
            topdir=settings.topdir,
        )
    )
    return httpd_conf


def hub_settings(settings: HubConfig) -> dict[str, str]:
    """hub.conf's [hub] section: our defaults, then whatever a scenario sets."""
    values = {
        "DBName": "koji",
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
    """(Re)write hub.conf; True when its content changed."""
    path = settings.directory / "conf" / "hub.conf"
    text = render("hub.conf", settings=hub_settings(settings), policy=settings.policy)
    if path.exists() and path.read_text() == text:
        return False
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


def service(settings: HubConfig, env: dict[str, str]) -> Service:
    httpd_conf = configure(settings)
    run = settings.directory / "run"
    return Service(
        name="hub",
        command=[settings.tools.path(hostprogs.APACHE), "-f", str(httpd_conf), "-DFOREGROUND"],
        ready=Check("getAPIVersion over HTTPS, the certificate checked", lambda: answers(settings)),
        log=settings.directory / "logs" / "httpd.stdout.log",
        extra_logs=(settings.directory / "logs" / "httpd-error.log",),
        env={**env, "KRB5RCACHEDIR": str(run), "LANG": "C.UTF-8", "HOME": str(run)},
        deadline=60,
        image="hub",
        reload=lambda pid: restart_application(pid, settings),
    )


def restart_application(apache_pid: int, settings: HubConfig, deadline: float = 30) -> None:
    """Restart the hub's mod_wsgi daemon so that it reads hub.conf again (Apache stays up)."""
    parent = psutil.Process(apache_pid)
    old = set(_daemons(parent))
    for pid in old:
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(pid).send_signal(signal.SIGINT)
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        fresh = [pid for pid in _daemons(parent) if pid not in old]
        if fresh:
            with contextlib.suppress(Exception):
                if answers(settings):
                    return
        time.sleep(0.05)
    raise ServiceStartError(
        f"the hub did not come back within {deadline:.0f} s after reloading its configuration"
    )


def _daemons(apache: psutil.Process) -> list[int]:
    """Process ids of the hub's live mod_wsgi daemons (display-name marks them)."""
    found = []
    for child in apache.children():
        with contextlib.suppress(psutil.Error):  # exiting or zombie: not a live daemon
            if child.status() != psutil.STATUS_ZOMBIE and DAEMON_NAME in " ".join(child.cmdline()):
                found.append(child.pid)
    return found
