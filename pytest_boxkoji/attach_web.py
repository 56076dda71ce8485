"""kojiweb and the proxy in an environment's record (box.py): what their handles are made of,
and taking them over in another process (attach.py), so that `boxkoji status`, `logs`,
`restart`, `down` and --boxkoji-reuse work on an environment started with `boxkoji up --web`
(or kept by --boxkoji-keep with them running).

The web's settings are its `WebConfig` as fields (paths and endpoints as JSON); the proxy's are
its endpoints and files. Their services are rebuilt by the functions that made them
(`web.service`, `proxy.health`, `proxy.nginx`) and handed to the runtime by ref.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pytest_boxkoji import hostprogs
from pytest_boxkoji.runtimes.tools import Endpoint
from pytest_boxkoji.services import Service, apache, proxy, web
from pytest_boxkoji.services.proxy import Proxy
from pytest_boxkoji.services.web import WebConfig

if TYPE_CHECKING:
    from pytest_boxkoji.environment import Environment

SERVICES = ("web", "health", "proxy")  # in start order


def _service(env: Environment, name: str) -> Service | None:
    """The running service `name`: started by this process, or adopted from the record."""
    for service in env.graph.services:
        if service.name == name:
            return service
    return cast(dict[str, Service], getattr(env, "service_of", {})).get(name)


def parts_of(env: Environment) -> dict[str, Any]:
    """The `web` and `proxy` entries of the record's parts (none when they do not run)."""
    parts: dict[str, Any] = {}
    site = cast(WebConfig | None, env.graph.handles.get("web"))
    service = _service(env, "web")
    if site is not None and service is not None:
        values = {f.name: getattr(site, f.name) for f in dataclasses.fields(WebConfig) if f.name != "tools"}
        # The env as the web part made it (coverage with --cov-web): a new container needs it.
        parts["web"] = {"settings": _to_json(values), "env": dict(service.env)}
    handle = cast(Proxy | None, env.graph.handles.get("proxy"))
    if handle is not None:
        parts["proxy"] = {
            "endpoint": dataclasses.asdict(handle.endpoint),
            "health_endpoint": dataclasses.asdict(handle.health_endpoint),
            "ca": str(handle.ca),
            "koji_config": str(handle.koji_config),
            "directory": str(env.workspace.directory / "proxy"),
        }
    return parts


def _to_json(values: dict[str, Any]) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, Endpoint):
            return dataclasses.asdict(value)
        return str(value) if isinstance(value, Path) else value

    return {key: plain(value) for key, value in values.items()}


def _web_config(values: dict[str, Any], env: Environment) -> WebConfig:
    """The WebConfig back from its fields: each field's type says what its JSON value was."""
    hints = typing.get_type_hints(WebConfig)
    fields: dict[str, Any] = {}
    for name, value in values.items():
        kind = hints[name]
        if value is None:
            fields[name] = None
        elif kind is Endpoint:
            fields[name] = Endpoint(**value)
        elif kind is Path or kind == (Path | None):
            fields[name] = Path(value)
        else:
            fields[name] = value
    return WebConfig(tools=env.runtime.tools("hub", *apache.PROGRAMS), **fields)


def adopt(
    env: Environment, parts: dict[str, Any], refs: dict[str, str], service_of: dict[str, Service]
) -> None:
    """Rebuild the web's and the proxy's handles and services from the record and adopt them."""
    runtime, handles = env.runtime, env.graph.handles
    if "web" in parts:
        site = _web_config(parts["web"]["settings"], env)
        handles["web"] = site
        service_of["web"] = web.service(site, parts["web"]["env"])
        runtime.adopt(service_of["web"], refs.get("web", "0/0"), [site.endpoint, site.proxied])
    if "proxy" in parts:
        p = parts["proxy"]
        directory = Path(p["directory"])
        endpoint, health_endpoint = Endpoint(**p["endpoint"]), Endpoint(**p["health_endpoint"])
        python = handles["python"].python
        service_of["health"] = proxy.health(python, directory / "health", health_endpoint)
        runtime.adopt(service_of["health"], refs.get("health", "0/0"), [health_endpoint])
        tools = runtime.tools("proxy", hostprogs.NGINX)
        service_of["proxy"] = proxy.nginx(directory, tools, endpoint, Path(p["ca"]))
        runtime.adopt(service_of["proxy"], refs.get("proxy", "0/0"), [endpoint])
        handles["proxy"] = Proxy(
            endpoint,
            Path(p["ca"]),
            Path(p["koji_config"]),
            health_endpoint,
            directory / "health" / proxy.MANIFEST,
        )
