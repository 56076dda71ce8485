"""nginx as the box's one entry point: TLS with an orch certificate; /kojihub to the hubs (spread
across them), /koji to kojiweb, /kojifiles from the topdir, /health from a small health service
that probes every service live. Client certificates are checked by nginx and passed on as
headers it always overwrites; the Apaches behind trust those only from requests carrying the
proxy's token (templates/apache-macros.j2)."""

from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_boxkoji import box, clients, hostprogs, inside
from pytest_boxkoji.graph import Context, Part, Recording, Restoring
from pytest_boxkoji.inside import probes
from pytest_boxkoji.kojisrc import SOURCE
from pytest_boxkoji.orch import ORCH
from pytest_boxkoji.partkey import Key
from pytest_boxkoji.runtimes.tools import Endpoint, Tools
from pytest_boxkoji.services import Check, Service
from pytest_boxkoji.services.apache import PROXY_TOKEN
from pytest_boxkoji.services.hub import HUB
from pytest_boxkoji.services.web import WEB
from pytest_boxkoji.servicespy import PYTHON
from pytest_boxkoji.templates import render

MANIFEST = "manifest.json"  # in the health service's directory
HEALTH_SCRIPT = inside.DIRECTORY / "health.py"
PROBES_SCRIPT = inside.DIRECTORY / "probes.py"  # health.py imports it


@dataclass(frozen=True)
class Proxy:
    """The running proxy: its URLs as the test process (and a browser) reaches them."""

    endpoint: Endpoint
    ca: Path
    koji_config: Path  # the koji config file: its profile boxkoji-proxy goes through the proxy
    health_endpoint: Endpoint  # the health service behind /health
    health_manifest: Path  # what /health probes, read again on each request

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


PROXY: Key[Proxy] = Key("proxy")  # its part's name, typed with this handle (graph.Key)


class Manifest:
    """What /health probes: an entry per service, from the health facet of every part that runs
    (graph.py); written whole on every change, and read again by the health service on every
    request, so that a part started after the proxy (the broker) appears."""

    def __init__(self, path: Path, token: str) -> None:
        self.path, self.token = path, token
        self._entries: dict[str, dict[str, object]] = {}
        self._lock = threading.Lock()  # parts start in the graph's threads

    @classmethod
    def read(cls, path: Path) -> Manifest:
        data = json.loads(path.read_text())
        manifest = cls(path, data["token"])
        manifest._entries = {str(entry["name"]): entry for entry in data["services"]}
        return manifest

    def add(self, entries: list[dict[str, object]]) -> None:
        if not entries:
            return
        with self._lock:
            self._entries.update({str(entry["name"]): entry for entry in entries})
            write_manifest(self.path, {"token": self.token, "services": list(self._entries.values())})

    def follow(self, watching: Context | Restoring) -> None:
        """Every running part's entries now, and those of each part that starts later."""
        watching.when_started(lambda part, handle: self.add(part.health(handle)) if part.health else None)
        for part, handle in watching.started():
            if part.health:
                self.add(part.health(handle))


def health_service(context: Context, directory: Path, token: str) -> tuple[Service, Endpoint]:
    python = context.get(PYTHON)
    endpoint = context.runtime.endpoint("health", 8081)
    directory.mkdir(parents=True, exist_ok=True)
    for source in (HEALTH_SCRIPT, PROBES_SCRIPT):  # where the service's user can read them
        shutil.copy(source, directory / source.name)
        (directory / source.name).chmod(0o644)
    Manifest(directory / MANIFEST, token).follow(context)
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
        ready=Check("the health service accepts connections", lambda: _accepts(endpoint)),
        log=directory / "health.log",
        image="hub",
    )


def configure(
    directory: Path,
    endpoint: Endpoint,
    tools: Tools,
    upstreams: dict[str, object],
    credentials: dict[str, Path],
) -> Path:

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


def _accepts(endpoint: Endpoint) -> bool:
    probes.tcp(endpoint.client_host, endpoint.client_port)
    return True


def answers(endpoint: Endpoint, ca: Path) -> bool:
    status, _ = probes.http(f"https://localhost:{endpoint.client_port}/kojihub", cafile=str(ca), timeout=5)
    return status in (200, 405)  # the hub's answer to a GET, through nginx


def start(context: Context) -> Proxy:
    orch, hub, site = context.get(ORCH), context.get(HUB), context.get(WEB)
    runtime, workspace = context.runtime, context.workspace
    directory = workspace.directory / "proxy"
    token = orch.checkout(PROXY_TOKEN, "password", holder="proxy").password
    health_, health_endpoint = health_service(context, directory / "health", token)
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
    assert cert.path is not None and cert.key_path is not None  # a server_cert has both
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
        clients.cli_plugin_paths(context.get(SOURCE).path, context.config.cli_plugins),
    )
    return Proxy(endpoint, orch.ca_file, koji_config, health_endpoint, directory / "health" / MANIFEST)


def record(handle: Proxy, recording: Recording) -> dict[str, Any]:
    return {
        "endpoint": box.plain(handle.endpoint),
        "health_endpoint": box.plain(handle.health_endpoint),
        "ca": str(handle.ca),
        "koji_config": str(handle.koji_config),
        "directory": str(handle.health_manifest.parent.parent),
    }


def restore(restoring: Restoring, data: dict[str, Any]) -> Proxy:
    """The proxy's services rebuilt from the files `start` wrote, and adopted."""
    runtime, directory = restoring.runtime, Path(data["directory"])
    endpoint = box.rebuilt(Endpoint, data["endpoint"])
    health_endpoint = box.rebuilt(Endpoint, data["health_endpoint"])
    python = restoring.get(PYTHON).python
    restoring.adopt(health(python, directory / "health", health_endpoint), [health_endpoint])
    tools = runtime.tools("proxy", hostprogs.NGINX)
    restoring.adopt(nginx(directory, tools, endpoint, Path(data["ca"])), [endpoint])
    manifest = directory / "health" / MANIFEST
    Manifest.read(manifest).follow(restoring)  # a part started from now on: /health probes it
    return Proxy(endpoint, Path(data["ca"]), Path(data["koji_config"]), health_endpoint, manifest)


PART = Part(
    PROXY,
    (SOURCE, PYTHON, ORCH, HUB, WEB),
    start,
    record=record,
    restore=restore,
    urls=lambda proxy: proxy.urls(),
)
