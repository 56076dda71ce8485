"""The engine the containers runtime talks to: reaching it (Docker or Podman, DOCKER_HOST), the
labels on everything a session makes, listing by label, and the sweep of what crashed sessions left."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import psutil

from pytest_boxkoji.workspace import OWNER_FILE

log = logging.getLogger(__name__)

LABEL = "io.pytest-boxkoji.session"
PID_LABEL = "io.pytest-boxkoji.pid"
DIR_LABEL = "io.pytest-boxkoji.directory"  # the session's workspace: kept on purpose without owner.pid
EXTRA_HINT = "pip install 'pytest-boxkoji[containers]'"


def probe() -> tuple[Any, str]:
    """(a docker client for the engine that answers, "") or (None, why there is none)."""
    try:
        import docker
        import testcontainers  # noqa: F401
    except ImportError as exc:
        return None, (
            f"The containers runtime needs the `containers` extra, which is not installed ({exc}). "
            f"Install it: {EXTRA_HINT}"
        )
    where = os.environ.get("DOCKER_HOST", "the default socket (/var/run/docker.sock)")
    try:
        client = docker.from_env(timeout=30)
        client.ping()
        return client, ""
    except Exception as exc:
        return None, (
            f"No container engine answered at {where} ({type(exc).__name__}: {exc}). Start Docker, "
            "or Podman's Docker-API socket (`podman system service --time=0 "
            "unix:///run/podman/podman.sock &` and DOCKER_HOST=unix:///run/podman/podman.sock), or "
            "use --boxkoji-runtime=processes. `boxkoji doctor --runtime containers` checks the rest."
        )


def _alive(pid: str) -> bool:
    try:
        return bool(psutil.pid_exists(int(pid)))
    except ValueError:
        return False


def _abandoned(labels: dict[str, str]) -> bool:
    """Its session ended without teardown, as the processes runtime's sweep reads it: the
    workspace's owner.pid names a process that is gone, or the workspace itself is gone. A kept
    environment (--boxkoji-keep, `boxkoji up --detach`) has no owner.pid: it stays."""

    directory = labels.get(DIR_LABEL)
    if not directory:  # made by an older version: its pid label is all there is
        return not _alive(labels.get(PID_LABEL, ""))
    try:
        return not _alive((Path(directory) / OWNER_FILE).read_text().strip())
    except FileNotFoundError:
        return not Path(directory).is_dir()
    except OSError:
        return False


def gone(exc: Exception) -> bool:
    """The engine says the container or network does not exist (any more). Docker answers 404;
    Podman answers 500 "no such container" for one removed between its listing and its inspection."""
    import docker.errors

    if isinstance(exc, docker.errors.NotFound):
        return True
    return isinstance(exc, docker.errors.APIError) and "no such " in str(exc).lower()


def listed(client: Any, label: str) -> list[Any]:
    """The containers carrying `label` (`key` or `key=value`), all states. Other sessions remove
    theirs while this one lists (teardown, sweeps): those are left out, not an error.
    (docker-py's `ignore_removed` only knows Docker's 404.)"""
    found = []
    for summary in client.api.containers(all=True, filters={"label": label}):
        try:
            found.append(client.containers.get(summary["Id"]))
        except Exception as exc:
            if not gone(exc):
                raise
    return found


def sweep_stale(client: Any) -> list[str]:
    """Remove containers and networks of sessions whose pytest process is gone."""
    removed = []
    # Other sessions sweep too: what one of them removed meanwhile is not an error.
    for container in listed(client, LABEL):
        if _abandoned(container.labels):
            try:
                container.remove(force=True)
                removed.append(container.name)
            except Exception as exc:
                if not gone(exc):
                    raise
    for network in client.networks.list(filters={"label": LABEL}):
        if _abandoned(network.attrs.get("Labels") or {}):
            remove_network(network)
            removed.append(network.name)
    return removed


def sweep_marker(client: Any, marker: str) -> None:
    """Remove the containers and networks of one session (its record says it is gone)."""
    for container in listed(client, f"{LABEL}={marker}"):
        try:
            container.remove(force=True)
        except Exception as exc:
            if not gone(exc):
                raise
    for network in client.networks.list(filters={"label": f"{LABEL}={marker}"}):
        remove_network(network)


def remove_network(network: Any) -> None:
    """Remove a network, disconnecting first the containers still on it (another session's
    shared services). Podman removes a network in use without a word when asked through the
    Docker API, and then cannot tear down those containers' port forwards when they stop: the
    firewall keeps sending 127.0.0.1:PORT to an address nobody has, so a later service given
    that port is unreachable ("No route to host")."""
    try:
        network.reload()
        for container in network.attrs.get("Containers") or {}:
            try:
                network.disconnect(container, force=True)
            except Exception as exc:
                if not gone(exc):
                    raise
        network.remove()
    except Exception as exc:
        if not gone(exc):  # other sessions sweep too
            raise


def host_alias(service: str) -> str:
    """The service's name on the network: kdc.koji.box, hub.koji.box, builder1.koji.box."""
    name = service.split(":")[-1]
    return name if "." in name else f"{name}.koji.box"
