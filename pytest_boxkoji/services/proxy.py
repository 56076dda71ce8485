"""nginx as the box's one entry point: TLS with an orch certificate; /kojihub to the hubs (spread
across them), /koji to kojiweb, /kojifiles from the topdir, /health from a small health service
that probes every service live. Client certificates are checked by nginx and passed on as
headers it always overwrites; the Apaches behind trust those only from requests carrying the
proxy's token (templates/apache-macros.j2)."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from pytest_boxkoji import clients, hostprogs
from pytest_boxkoji.graph import Context, Part
from pytest_boxkoji.runtimes.tools import Endpoint, Tools
from pytest_boxkoji.services import Check, Service, broker, web
from pytest_boxkoji.services.apache import PROXY_TOKEN
from pytest_boxkoji.services.hub import Hub

MANIFEST = "manifest.json"  # in the health service's directory
HEALTH_SCRIPT = Path(__file__).resolve().parent.parent / "health.py"


@dataclass(frozen=True)
class Proxy:
    """The running proxy: its URLs as the test process (and a browser) reaches them."""

    endpoint: Endpoint
    ca: Path
    koji_config: Path  # the koji config file: its profile boxkoji-proxy goes through the proxy
    health_endpoint: Endpoint  # the health service behind /health
    health_manifest: Path  # what /health probes, read again on each request

    def probe_also(self, service: dict[str, object]) -> None:
        """/health probes this service too from now on (one started after the proxy)."""
        manifest = json.loads(self.health_manifest.read_text())
        manifest["services"] = [s for s in manifest["services"] if s["name"] != service["name"]] + [service]
        write_manifest(self.health_manifest, manifest)

    @property
    def url(self) -> str:
        return f"https://localhost:{self.endpoint.client_port}"

    @property
    def hub_url(self) -> str:
        return f"{self.url}/kojihub"

    @property
    def web_url(self) -> str:
        return f"{self.url}/koji"

    @property
    def files_url(self) -> str:
        return f"{self.url}/kojifiles"

    @property
    def health_url(self) -> str:
        return f"{self.url}/health"

    def urls(self) -> dict[str, str]:
        """For `boxkoji.urls`: each entry point through the proxy."""
        return {
            "proxy": self.url,
            "proxy-hub": self.hub_url,
            "proxy-web": self.web_url,
            "proxy-files": self.files_url,
            "health": self.health_url,
        }


def health_manifest(context: Context, token: str, hub: Hub, site: web.WebConfig) -> dict[str, object]:
    """What /health probes: every service with a port, as the health service reaches it."""
    realm, cluster, source = (context.parts[p] for p in ("kdc", "postgres", "source"))
    services: list[dict[str, object]] = [
        {
            "name": "kdc",
            "probe": "kdc",
            "host": realm.endpoint.host,
            "port": realm.endpoint.port,
            "check": "a TCP connection to the KDC",
        },
        {
            "name": "postgres",
            "probe": "postgres",
            "host": cluster.endpoint.host,
            "port": cluster.endpoint.port,
            "dbname": cluster.database,
            "check": "SELECT server_version as the hub's database user",
        },
    ]
    for name, settings in hub.named_settings():
        url = f"http://{settings.proxied.host}:{settings.proxied.port}/kojihub"
        services.append(
            {
                "name": name,
                "probe": "hub",
                "url": url,
                "token": token,
                "check": "getKojiVersion through the proxy's port",
            }
        )
    first_hub = hub.settings.proxied
    services.append(
        {
            "name": "builders",
            "probe": "builders",
            "url": f"http://{first_hub.host}:{first_hub.port}/kojihub",
            "token": token,
            "check": "every enabled kojid host updated itself at the hub within 30 s",
        }
    )
    services.append(
        {
            "name": "web",
            "probe": "web",
            "token": token,
            "mark": web.READY_MARK,
            "version": f"Koji {source.version}",
            "url": f"http://{site.proxied.host}:{site.proxied.port}/koji/index",
            "check": "kojiweb's index page with the hub's data",
        }
    )
    if "broker" in context.parts:  # started before the proxy; a later one adds itself
        services.append(broker.health_entry(context.parts["broker"]))
    return {"token": token, "services": services}


def health_service(
    context: Context, directory: Path, manifest: dict[str, object]
) -> tuple[Service, Endpoint]:
    python = context.parts["python"]
    endpoint = context.runtime.endpoint("health", 8081)
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / HEALTH_SCRIPT.name
    shutil.copy(HEALTH_SCRIPT, script)  # where the service's user can read it
    script.chmod(0o644)
    write_manifest(directory / MANIFEST, manifest)
    return health(python.python, directory, endpoint), endpoint


def write_manifest(path: Path, manifest: dict[str, object]) -> None:
    """Written whole (the health service reads it on every request), readable by its owner only
    (the proxy's token); a rewrite keeps the owner, the health service's user."""
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(manifest, indent=2))
    partial.chmod(0o600)
    if path.exists():
        owner = path.stat()
        os.chown(partial, owner.st_uid, owner.st_gid)
    partial.replace(path)


def health(python: Path, directory: Path, endpoint: Endpoint) -> Service:
    """The health service on the files health_service wrote (attach.py rebuilds it from them)."""
    manifest_path = directory / MANIFEST
    return Service(
        name="health",
        command=[
            str(python),
            str(directory / HEALTH_SCRIPT.name),
            str(manifest_path),
            endpoint.bind,
            str(endpoint.port),
        ],
        ready=Check("the health service accepts connections", lambda: _listens(endpoint)),
        log=directory / "health.log",
        image="hub",
    )


def _listens(endpoint: Endpoint) -> bool:
    import socket

    with socket.create_connection((endpoint.client_host, endpoint.client_port), timeout=2):
        return True


def configure(
    directory: Path,
    endpoint: Endpoint,
    tools: Tools,
    upstreams: dict[str, object],
    credentials: dict[str, Path],
) -> Path:
    from pytest_boxkoji.templates import render

    conf, run, logs = (directory / part for part in ("conf", "run", "logs"))
    for path in (conf, run, logs):
        path.mkdir(parents=True, exist_ok=True)
    nginx_conf = conf / "nginx.conf"
    nginx_conf.write_text(
        render(
            "nginx.conf",
            run_dir=run,
            log_dir=logs,
            bind=endpoint.bind,
            port=endpoint.port,
            **upstreams,
            **credentials,
        )
    )
    nginx_conf.chmod(0o600)  # the token
    return nginx_conf


def nginx(directory: Path, tools: Tools, endpoint: Endpoint, ca: Path) -> Service:
    """nginx on the configuration `configure` wrote in `directory` (attach.py rebuilds it)."""
    logs = directory / "logs"
    return Service(
        name="proxy",
        command=[
            tools.path(hostprogs.NGINX),
            "-e",
            str(logs / "error.log"),
            "-c",
            str(directory / "conf" / "nginx.conf"),
        ],
        ready=Check("the hub's URL answers through nginx over HTTPS", lambda: answers(endpoint, ca)),
        log=logs / "nginx.stdout.log",
        extra_logs=(logs / "error.log",),
        image="proxy",
    )


def answers(endpoint: Endpoint, ca: Path) -> bool:
    import requests

    response = requests.get(f"https://localhost:{endpoint.client_port}/kojihub", verify=str(ca), timeout=5)
    return response.status_code in (200, 405)  # the hub's answer to a GET, through nginx


def start(context: Context) -> Proxy:
    orch, hub, site = context.parts["orch"], context.parts["hub"], context.parts["web"]
    runtime, workspace = context.runtime, context.workspace
    directory = workspace.directory / "proxy"
    token = orch.checkout(PROXY_TOKEN, "password", holder="proxy").password
    health_, health_endpoint = health_service(
        context, directory / "health", health_manifest(context, token, hub, site)
    )
    endpoint = runtime.endpoint("proxy", 8443)
    cert = orch.checkout(
        "proxy",
        "server_cert",
        holder="proxy",
        hosts=("localhost", "127.0.0.1", endpoint.host),
        owner=workspace.owner,
    )
    tools = runtime.tools("proxy", hostprogs.NGINX)
    upstreams = {
        "hubs": [f"{s.proxied.host}:{s.proxied.port}" for _, s in hub.named_settings()],
        "web": f"{site.proxied.host}:{site.proxied.port}",
        "health": health_endpoint.address,
        "token": token,
        "topdir": hub.settings.topdir,
    }
    configure(
        directory, endpoint, tools, upstreams, {"cert": cert.path, "key": cert.key_path, "ca": orch.ca_file}
    )
    workspace.chown(directory)
    context.start_service(health_)
    context.start_service(nginx(directory, tools, endpoint, orch.ca_file))
    proxy_url = f"https://localhost:{endpoint.client_port}"
    koji_config = clients.write_profile(  # beside the direct profile, in the same file
        hub.koji_config,
        f"{proxy_url}/kojihub",
        f"{proxy_url}/kojifiles",
        f"{proxy_url}/koji",
        hub.settings.topdir,
        orch.ca_file,
        clients.PROXY_PROFILE,
        clients.cli_plugin_paths(context.parts["source"].path, context.config.cli_plugins),
    )
    return Proxy(endpoint, orch.ca_file, koji_config, health_endpoint, directory / "health" / MANIFEST)


PART = Part("proxy", ("source", "python", "kdc", "orch", "postgres", "hub", "web"), start)
