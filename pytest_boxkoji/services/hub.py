"""The Koji hub: Koji's own kojihub under Apache httpd (mod_wsgi, mod_ssl, mod_auth_gssapi)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import koji

from pytest_boxkoji import hostprogs
from pytest_boxkoji.services import Service
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


@dataclass(frozen=True)
class HubSettings:
    """Everything the hub's config files depend on."""

    directory: Path
    port: int
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

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}/kojihub"

    @property
    def files_url(self) -> str:
        return f"https://localhost:{self.port}/kojifiles"


def apache_binary() -> Path:
    return hostprogs.find_one_of(hostprogs.APACHE, hostprogs.APACHE_FEDORA)


def modules_dir() -> Path:
    (ssl, _gss) = hostprogs.find(hostprogs.MOD_SSL, hostprogs.MOD_AUTH_GSSAPI)
    return ssl.parent


def configure(settings: HubSettings) -> Path:
    """Write hub.conf and httpd.conf under settings.directory; return httpd.conf's path."""
    conf, run, logs = (settings.directory / part for part in ("conf", "run", "logs"))
    for path in (conf, conf / "hub.conf.d", run, logs, settings.topdir):
        path.mkdir(parents=True, exist_ok=True)
    for part in TOPDIR_PARTS:
        (settings.topdir / part).mkdir(exist_ok=True)
    mods = modules_dir()
    (conf / "hub.conf").write_text(
        render(
            "hub.conf",
            db_name="koji",
            db_user="koji",
            db_host=settings.db_host,
            db_port=settings.db_port,
            topdir=settings.topdir,
            realm=settings.realm,
            proxy_principals=settings.proxy_principals,
            proxy_dns=settings.proxy_dns,
            web_url=f"https://localhost:{settings.port}/koji",
        )
    )
    httpd_conf = conf / "httpd.conf"
    httpd_conf.write_text(
        render(
            "httpd.conf",
            run_dir=run,
            log_dir=logs,
            port=settings.port,
            user=None,
            group=None,
            modules=[(name, file) for name, file in MODULES if (mods / file).exists()],
            modules_dir=mods,
            mod_wsgi=settings.mod_wsgi,
            python_home=settings.python_home,
            koji_src=settings.koji_src,
            processes=settings.processes,
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


def answers(settings: HubSettings) -> bool:
    """The hub answers getAPIVersion over HTTPS, its certificate checked against our CA."""
    session = koji.ClientSession(settings.url, {"serverca": str(settings.ca), "max_retries": 0, "timeout": 5})
    try:
        return isinstance(session.getAPIVersion(), int)
    finally:
        session.rsession.close() if session.rsession else None


def service(settings: HubSettings, env: dict[str, str]) -> Service:
    httpd_conf = configure(settings)
    run = settings.directory / "run"
    return Service(
        name="hub",
        command=[str(apache_binary()), "-f", str(httpd_conf), "-DFOREGROUND"],
        ready=lambda: answers(settings),
        log=settings.directory / "logs" / "httpd.stdout.log",
        extra_logs=(settings.directory / "logs" / "httpd-error.log",),
        env={**env, "KRB5RCACHEDIR": str(run), "LANG": "C.UTF-8", "HOME": str(run)},
        deadline=60,
        ports={"https": settings.port},
        depends_on=("kdc", "postgres"),
    )


def chown_tree(root: Path, owner: tuple[int, int]) -> None:
    """Give the service user what Apache writes to (only matters when pytest runs as root)."""
    if os.geteuid() != 0:
        return
    for directory, _dirs, files in os.walk(root):
        os.chown(directory, *owner)
        for name in files:
            os.chown(os.path.join(directory, name), *owner)
