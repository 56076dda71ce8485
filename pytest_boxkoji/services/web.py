"""kojiweb: Koji's own web interface from the configured Koji tree, under its own Apache (https),
with users logging in by Kerberos (mod_auth_gssapi) or by client certificate, and the web logging
them in to the hub as its proxy (the hub's ProxyPrincipals / ProxyDNs name it)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_boxkoji import box
from pytest_boxkoji.coverage.data import COVERAGE
from pytest_boxkoji.graph import Context, Part, Recording, Restoring
from pytest_boxkoji.inside import probes
from pytest_boxkoji.kojisrc import SOURCE
from pytest_boxkoji.orch import ORCH
from pytest_boxkoji.partkey import Key
from pytest_boxkoji.services import Check, Service, apache
from pytest_boxkoji.services.hub import HUB, HUB_CREDENTIALS, WEB_IDENTITY
from pytest_boxkoji.servicespy import PYTHON
from pytest_boxkoji.templates import render

DAEMON_NAME = "boxkoji-web"
READY_MARK = "Recent Builds"  # the index page's first list, filled from the hub (1.35 and master)


@dataclass(frozen=True)
class WebConfig(apache.Site):
    """Everything kojiweb's config files depend on: its Apache site (whose HTTP/ keys let
    browsers log in with Negotiate), and the web's own."""

    principal: str  # the web's own identity at the hub (a proxy principal)
    principal_keytab: Path
    client_cert: Path  # the same identity as a certificate (a proxy DN), cert and key in one PEM
    hub_url: str  # the web's view of the hub
    files_url: str  # the browser's view of /kojifiles
    secret: str
    threads: int = 8
    app: Path | None = None  # the WSGI script (default: Koji's wsgi_publisher.py; --cov-web wraps it)
    koji_version: str = ""  # of koji_src, as /health reports it

    @property
    def url(self) -> str:
        """The test process's (and a browser's) view of the web."""
        return f"https://localhost:{self.endpoint.client_port}/koji"


WEB: Key[WebConfig] = Key("web")  # its part's name, typed with this handle (graph.Key)


@dataclass(frozen=True)
class Group:
    """One of the web's two mod_wsgi daemons: who it serves and its web.conf."""

    name: str
    config: Path
    certificate: bool  # serves requests that show a verified client certificate

    def when(self, via_proxy: bool) -> str:
        """The Apache expression selecting this daemon (later matches win)."""
        if not self.certificate:
            return "true"
        verify = "%{ENV:SSL_CLIENT_VERIFY}" if via_proxy else "%{SSL_CLIENT_VERIFY}"
        return f"{verify} == 'SUCCESS'"


def web_settings(settings: WebConfig, certificate: bool, run: Path) -> dict[str, str]:
    values = {
        "SiteName": "boxkoji",
        "KojiHubURL": settings.hub_url,
        "KojiFilesURL": settings.files_url,
        "KojiHubCA": str(settings.ca),
        "LibPath": str(settings.koji_src / "www" / "lib"),
        "Secret": settings.secret,
        "LoginTimeout": "72",
        "LiteralFooter": "True",
        "PythonDebug": "True",  # tracebacks in the page: a failing web test says why
        "LogLevel": "WARNING",
    }
    if certificate:
        values.update(WebAuthType="ssl", WebCert=str(settings.client_cert))
    else:
        values.update(
            WebAuthType="gssapi",
            WebPrincipal=settings.principal,
            WebKeytab=str(settings.principal_keytab),
            WebCCache=str(run / "kojiweb.ccache"),
        )
    return values


def configure(settings: WebConfig) -> Path:
    """Write the web's two web.conf files and httpd.conf; return httpd.conf's path."""
    conf = settings.directory / "conf"
    values = settings.template_values(
        "Apache serving kojiweb over HTTPS",
        settings.app or settings.koji_src / "www" / "kojiweb" / "wsgi_publisher.py",
        DAEMON_NAME,
        threads=settings.threads,
        config_dir=conf / "web.conf.d",
        web_url=settings.url,
    )
    (conf / "web.conf.d").mkdir(exist_ok=True)
    groups = [Group("kojiweb", conf / "web.conf", False), Group("kojiweb-ssl", conf / "web-ssl.conf", True)]
    for group in groups:
        how = "users log in by certificate" if group.certificate else "users log in by Kerberos"
        values_ = web_settings(settings, group.certificate, values["run_dir"])
        group.config.write_text(render("web.conf", how=how, settings=values_))
        group.config.chmod(0o600)  # the cookie secret
    httpd_conf = conf / "httpd.conf"
    httpd_conf.write_text(render("web-httpd.conf", groups=groups, **values))
    return httpd_conf


def answers(settings: WebConfig) -> bool:
    """The index page renders, with the hub's lists in it (the web reached the hub)."""
    probes.page_with(f"{settings.url}/index", READY_MARK, cafile=str(settings.ca))
    return True


def service(settings: WebConfig, env: dict[str, str]) -> Service:
    httpd_conf = configure(settings)
    run = settings.directory / "run"
    return Service(
        name="web",
        command=apache.command(settings.tools, httpd_conf),
        ready=Check("kojiweb's index page with the hub's data, over HTTPS", lambda: answers(settings)),
        log=settings.directory / "logs" / "httpd.stdout.log",
        extra_logs=(settings.directory / "logs" / "httpd-error.log",),
        env={**env, "KRB5RCACHEDIR": str(run), "LANG": "C.UTF-8", "HOME": str(run)},
        deadline=60,
        image="hub",  # the hub's image has Apache, mod_wsgi and the services' Python
        reload=lambda pid: apache.restart_daemons(pid, DAEMON_NAME, lambda: answers(settings)),
    )


def start(context: Context) -> WebConfig:
    source, orch, hub = context.get(SOURCE), context.get(ORCH), context.get(HUB)
    runtime, workspace = context.runtime, context.workspace
    owner = workspace.owner
    endpoint = runtime.endpoint("web", 8443)
    hosts = ("localhost", "127.0.0.1", endpoint.host)
    cert = orch.checkout("web", "server_cert", holder="web", hosts=hosts, owner=owner)
    _, http_keytab = context.get(HUB_CREDENTIALS)  # the same HTTP/ service keys as the hub's
    principal = orch.checkout(WEB_IDENTITY, "keytab", holder="web", owner=owner)
    client_cert = orch.checkout(WEB_IDENTITY, "cert", holder="web", owner=owner)
    env = dict(orch.realm.services_env)  # the web logs in to the hub: it reaches the KDC
    assert principal.path is not None and client_cert.path is not None  # a keytab, a client PEM
    settings = WebConfig(
        **apache.site_fields(context, "web", endpoint, cert, http_keytab),
        principal=principal.principal,
        principal_keytab=principal.path,
        client_cert=client_cert.path,
        hub_url=hub.settings.service_url,
        files_url=hub.settings.files_url,
        secret=orch.checkout("kojiweb-secret", "password", holder="web").password,
        koji_version=source.version,
    )
    coverage = context.get(COVERAGE)
    if coverage is not None and coverage.measures("web"):
        script = source.path / "www" / "kojiweb" / "wsgi_publisher.py"
        app, cov_env = coverage.prepare("web", script, settings.directory / "app", owner)
        settings = dataclasses.replace(settings, app=app)
        env.update(cov_env)
    service_ = service(settings, env)
    workspace.chown(settings.directory)
    context.start_service(service_)
    return settings


def record(site: WebConfig, recording: Recording) -> dict[str, Any]:
    # The env as the web part made it (coverage with --cov-web): a new container needs it.
    return {"settings": box.plain(site, leave=("tools",)), "env": recording.env_of("web")}


def restore(restoring: Restoring, data: dict[str, Any]) -> WebConfig:
    tools = restoring.runtime.tools("hub", *apache.PROGRAMS)
    site = box.rebuilt(WebConfig, data["settings"], tools=tools)
    restoring.adopt(service(site, data["env"]), [site.endpoint, site.proxied])
    return site


def urls(site: WebConfig) -> dict[str, str]:
    return {"web": site.url}


def health(site: WebConfig) -> list[dict[str, object]]:
    return [
        {
            "name": "web",
            "probe": "web",
            "token": site.proxy_token,
            "mark": READY_MARK,
            "version": f"Koji {site.koji_version}",
            "url": f"http://{site.proxied.host}:{site.proxied.port}/koji/index",
            "check": "kojiweb's index page with the hub's data",
        }
    ]


PART = Part(
    WEB,
    (SOURCE, PYTHON, ORCH, HUB_CREDENTIALS, HUB, COVERAGE),
    start,
    record=record,
    restore=restore,
    urls=urls,
    health=health,
)
