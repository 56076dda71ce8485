"""The containers runtime: every service in its own container, through testcontainers.

Docker or Podman, reached through DOCKER_HOST or the default socket. One private network per
session with aliases (kdc.koji.box, ...), which each container also finds in its /etc/hosts (see
`start`); only what the test process needs is published, on
127.0.0.1. The session's directory, Koji's tree and the cache are mounted at the same paths as on
the host, so the config files the service descriptions render work unchanged in the containers.
Everything made carries the session label; a sweep removes what crashed sessions left."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psutil

from pytest_boxkoji import hostprogs, ports, servicespy
from pytest_boxkoji.config import BoxKojiConfig
from pytest_boxkoji.errors import BoxKojiError
from pytest_boxkoji.runtimes.containers.engine import (
    DIR_LABEL,
    LABEL,
    PID_LABEL,
    gone,
    host_alias,
    listed,
    remove_network,
    sweep_stale,
)
from pytest_boxkoji.runtimes.containers.images import DEFAULT_BASE, SERVICES_VENV, Images
from pytest_boxkoji.runtimes.containers.logs import ContainerLog
from pytest_boxkoji.runtimes.containers.tools import ContainerTools
from pytest_boxkoji.runtimes.tools import Endpoint
from pytest_boxkoji.runtimes.wait import wait_ready
from pytest_boxkoji.servicelogs import FileLog, LogSource
from pytest_boxkoji.services import Service

log = logging.getLogger(__name__)


HOST_GATEWAY = "host.containers.internal"  # Podman's name for this host, in every container


class ContainersRuntime:
    """Starts services as containers on one private network."""

    name = "containers"
    own_filesystem = True

    def __init__(
        self,
        client: Any,
        marker: str,
        cache_dir: Path,
        mounts: Sequence[Path],
        keep: bool = False,
        memory: str | None = None,
        base_image: str = DEFAULT_BASE,
        attach: bool = False,
    ) -> None:
        self.client = client
        self.marker = marker
        self.mounts = [Path(m) for m in mounts]
        # A kept environment has no owning process; pid 1 keeps older versions' sweeps (which
        # read only this label) away from it. This version's sweep reads the workspace.
        owner = "1" if keep else str(os.getpid())
        self.labels = {LABEL: marker, PID_LABEL: owner, DIR_LABEL: str(self.mounts[0])}
        self.keep = keep
        self.memory = memory
        self.images = Images(client, cache_dir, base_image)
        self.containers: dict[str, Any] = {}
        self.endpoints: dict[str, list[Endpoint]] = {}
        self._processes: dict[str, psutil.Process | None] = {}  # container id -> its first process
        self.addresses: dict[str, tuple[str, str | None]] = {}  # service -> IP and MAC on the network
        sweep_stale(client)
        name = f"boxkoji-{marker}"
        if attach:  # a detached session's network; what is made from now on carries its labels
            found = client.networks.list(names=[name])
            if not found:
                raise BoxKojiError(f"the environment's network {name} is gone")
            self.network = found[0]
            self.labels = dict(self.network.attrs.get("Labels") or self.labels)
        else:
            self.network = client.networks.create(name, labels=self.labels)

    def mount(self, path: Path) -> None:
        if all(path != m and m not in path.parents for m in self.mounts):
            self.mounts.append(path)

    def endpoint(self, service: str, port: int, client_port: int | None = None) -> Endpoint:
        (published,) = [client_port] if client_port else ports.claim(1)
        end = Endpoint(
            bind="0.0.0.0",
            host=host_alias(service),
            port=port,
            client_host="127.0.0.1",
            client_port=published,
        )
        self.endpoints.setdefault(service, []).append(end)
        return end

    def on_this_host(self) -> Endpoint:
        # Podman names the network's gateway host.containers.internal in every container; a
        # program listening there on every address is reached (the engine's NAT does not apply).
        (free,) = ports.claim(1)
        return Endpoint(
            bind="0.0.0.0", host=HOST_GATEWAY, port=free, client_host="127.0.0.1", client_port=free
        )

    def services_python(self, config: BoxKojiConfig, koji_version: str) -> servicespy.ServicesPython:
        """The virtualenv baked into the base image (mod_wsgi built in the hub image)."""
        site = SERVICES_VENV / "lib" / "python3.11" / "site-packages"
        return servicespy.ServicesPython(
            SERVICES_VENV,
            site / "mod_wsgi" / "server" / "mod_wsgi-py311.cpython-311-x86_64-linux-gnu.so",
            baked=True,
        )

    def tools(self, image: str, *programs: hostprogs.Program) -> ContainerTools:
        return ContainerTools(self, image, image)

    def _container(
        self,
        image: str,
        command: list[str],
        env: dict[str, str],
        name: str,
        image_files: dict[str, Path] | None = None,
        image_args: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """The one way this runtime makes a container: the session's labels, mounts and network."""
        from testcontainers.core.config import testcontainers_config
        from testcontainers.core.container import DockerContainer

        # No reaper container: it needs an image pull, and the session labels and sweep already
        # remove what a session made, crashed or not.
        testcontainers_config.ryuk_disabled = True
        container = (
            DockerContainer(self.images.ensure(image, image_files, image_args))
            .with_command(command)
            .with_name(f"boxkoji-{self.marker}-{name.replace(':', '-')}")
            .with_network(self.network)
        )
        for key, value in env.items():
            container.with_env(key, value)
        for mount in self.mounts:
            container.with_volume_mapping(str(mount), str(mount), "rw")
        if self.memory:
            kwargs["mem_limit"] = self.memory
        # One with_kwargs call: testcontainers replaces, not merges, earlier kwargs.
        container.with_kwargs(labels=self.labels, **kwargs)
        return container

    def run_once(
        self, image: str, command: list[str], env: dict[str, str], user: str = "0:0"
    ) -> subprocess.CompletedProcess[str]:
        name = f"{image}-once-{secrets.token_hex(3)}"
        started = self._container(image, command, env, name, user=user)
        started.start()
        container = started.get_wrapped_container()
        try:
            code = container.wait(timeout=120)["StatusCode"]
            out = container.logs(stdout=True, stderr=False).decode(errors="replace")
            err = container.logs(stdout=False, stderr=True).decode(errors="replace")
        finally:
            container.remove(force=True)
        return subprocess.CompletedProcess(command, code, out, err)

    def start(self, service: Service) -> None:
        name = service.name
        alias = host_alias(name)
        # The service's own stop signal (PostgreSQL's SIGINT: its SIGTERM waits for the hub's
        # connections to end, until the engine's SIGKILL after 10 s).
        kwargs: dict[str, Any] = {"hostname": alias, "stop_signal": signal.Signals(service.stop_signal).name}
        if service.unprivileged:
            kwargs["user"] = "65534:65534"
        if service.privileged:
            kwargs["privileged"] = True
        if service.cwd is not None:
            kwargs["working_dir"] = str(service.cwd)
        # The services started before this one are in its /etc/hosts: aardvark-dns (Podman's
        # network DNS) drops queries while it reloads, which it does whenever any container on the
        # machine starts or stops, and a hub that could not resolve its database for one query
        # answered "database outage" in CI. A restarted service keeps its address, so the entries
        # others hold stay true, and its MAC address, so the neighbour caches (the host's, the
        # other containers') do not send its packets to the removed container's interface for
        # seconds. Services started later are still found through the DNS.
        ip, mac = self.addresses.get(name, (None, None))
        kwargs["extra_hosts"] = {
            host_alias(other): address for other, (address, _) in self.addresses.items() if other != name
        }
        kwargs["networking_config"] = {
            self.network.name: self.client.api.create_endpoint_config(
                aliases=[alias], ipv4_address=ip, mac_address=mac
            )
        }
        container = self._container(
            service.image,
            service.command,
            service.env,
            name,
            image_files=service.image_files,
            image_args=service.image_args,
            **kwargs,
        )
        for end in self.endpoints.get(name, []):
            # Published on 127.0.0.1 only: testcontainers' port helpers bind every address.
            container.ports[f"{end.port}/tcp"] = (end.client_host, end.client_port)
        container.start()
        wrapped = container.get_wrapped_container()
        self.containers[name] = wrapped
        wrapped.reload()
        self.remember_address(name, wrapped)
        try:
            wait_ready(service, lambda: self._exited(wrapped), lambda: self.log_tail(wrapped))
        except BaseException:
            # As with a process: a service that did not start is not left running.
            self.containers.pop(name, None)
            wrapped.remove(force=True)
            raise

    def remember_address(self, name: str, container: Any) -> None:
        networks = (container.attrs.get("NetworkSettings") or {}).get("Networks") or {}
        endpoint = networks.get(self.network.name) or {}
        if endpoint.get("IPAddress"):
            self.addresses[name] = (endpoint["IPAddress"], endpoint.get("MacAddress") or None)

    @staticmethod
    def _exited(container: Any) -> str | None:
        container.reload()
        if container.status in ("running", "created"):
            return None
        return f"(container {container.name}) exited with status {container.status}"

    @staticmethod
    def log_tail(container: Any, lines: int = 30) -> str:
        text = container.logs(tail=lines).decode(errors="replace").rstrip()
        return f"Last lines of its container log:\n{text or '(empty)'}"

    def stop(self, service: Service) -> None:
        container = self.containers.pop(service.name, None)
        if container is None:
            return
        try:
            container.stop(timeout=10)  # SIGTERM first: coverage and PostgreSQL need it
        except Exception:
            pass
        container.remove(force=True)

    def kill(self, service: Service) -> None:
        container = self.containers.get(service.name)
        if container is not None:
            container.kill()

    def logs(self, service: Service) -> str:
        container = self.containers.get(service.name)
        return self.log_tail(container) if container is not None else f"(no container for {service.name})"

    def refs(self) -> dict[str, str]:
        """Each service's container id: what `adopt` takes over in another process."""
        return {name: container.id for name, container in self.containers.items()}

    def adopt(self, service: Service, ref: str, endpoints: Sequence[Endpoint] = ()) -> None:
        """Take over a service's container that another process started and detached; its ports
        are published again if it is restarted."""
        import docker.errors

        self.endpoints[service.name] = list(endpoints)
        try:
            self.containers[service.name] = self.client.containers.get(ref)
        except docker.errors.NotFound:
            return  # gone: alive() says so
        self.remember_address(service.name, self.containers[service.name])

    def log_sources(self, service: Service) -> list[LogSource]:
        """The container's log (the program's output) and the log files it writes on the mounted
        workspace, which the host reads at the same paths."""
        sources: list[LogSource] = [FileLog(path) for path in service.extra_logs]
        container = self.containers.get(service.name)
        if container is not None:
            sources.insert(0, ContainerLog(container))
        return sources

    def restart(self, service: Service) -> None:
        """A new container for the service (same ports; mounts added since included), ready again."""
        self.stop(service)
        self.start(service)

    def alive(self, service: Service) -> bool:
        container = self.containers.get(service.name)
        if container is None:
            return False
        container.reload()
        return bool(container.status == "running")

    def dead(self, services: Sequence[Service]) -> list[Service]:
        """The services whose containers have stopped. A restore asks before every test, so
        without asking the engine where it can: when the engine runs on this host, a container's
        first process is one of this host's processes, and a container stops when it ends. For
        the others, one query for the session's stopped containers."""
        found: set[str] = set()
        unknown = []
        for service in services:
            container = self.containers.get(service.name)
            if container is None:
                found.add(service.name)
                continue
            process = self._first_process(container)
            if process is None:
                unknown.append(container.id)
            elif not process.is_running() or process.status() == psutil.STATUS_ZOMBIE:
                found.add(service.name)
        if unknown:
            # The list's own summaries: no inspect of each (one may be removed meanwhile).
            stopped = self.client.api.containers(
                all=True, filters={"label": f"{LABEL}={self.labels[LABEL]}", "status": "exited"}
            )
            ids = {summary["Id"] for summary in stopped} & set(unknown)
            found |= {name for name, container in self.containers.items() if container.id in ids}
        return [service for service in services if service.name in found]

    def _first_process(self, container: Any) -> psutil.Process | None:
        """The container's first process as this host sees it; None when the engine runs
        elsewhere (a VM, another host): the pid it gives is then not ours to look at."""
        if container.id not in self._processes:
            pid = (container.attrs.get("State") or {}).get("Pid") or 0
            if not pid:  # not running when last inspected: the engine knows more
                return None
            process = None
            with contextlib.suppress(psutil.Error, OSError, ValueError):
                candidate = psutil.Process(int(pid))
                # The same number here could be another process: its cgroup names the container.
                if container.id in Path(f"/proc/{pid}/cgroup").read_text():
                    process = candidate
            self._processes[container.id] = process
        return self._processes[container.id]

    def where(self, service: Service) -> str:
        container = self.containers.get(service.name)
        return f"container {container.name}" if container is not None else "-"

    def memory_used(self, service: Service) -> int | None:
        container = self.containers.get(service.name)
        if container is None or not self.alive(service):
            return None
        usage = container.stats(stream=False).get("memory_stats", {}).get("usage")
        return int(usage) if usage is not None else None

    def output(self, service: Service, follow: bool = False) -> Iterator[str]:
        container = self.containers.get(service.name)
        if container is None:
            return
        if not follow:
            yield container.logs().decode(errors="replace")
            return
        for chunk in container.logs(stream=True, follow=True):
            yield chunk.decode(errors="replace")

    def pids(self) -> list[int]:
        return []  # the containers' processes are the engine's

    def share(self, service: Service, other: object) -> list[str]:
        """The service's container joins `other`'s network under its usual name: the other
        session's containers reach it as they would their own."""
        network = getattr(other, "network", None)
        container = self.containers.get(service.name)
        if network is None or container is None or network.id == self.network.id:
            return []
        network.connect(container, aliases=[host_alias(service.name)])
        container.reload()
        if isinstance(other, ContainersRuntime):  # in the /etc/hosts of the containers it starts
            other.remember_address(service.name, container)
        return [str(network.name)]

    def unshare(self, names: Sequence[str]) -> None:
        """Remove the networks that shared services had joined and that are still there (a worker
        removes its own at its end; one killed before it could does not)."""
        for name in names:
            for network in self.client.networks.list(names=[name]):
                remove_network(network)

    def detach(self) -> None:
        self.containers.clear()

    def stop_hint(self, directories: Sequence[Path]) -> str:
        names = self.resources()  # containers first, then the network
        cli = "docker" if shutil.which("docker") else "podman"
        removal = " ".join(map(str, directories))
        return f"{cli} rm -f {' '.join(names[:-1])}; {cli} network rm {names[-1]}; rm -rf {removal}"

    def resources(self) -> list[str]:
        """Names of everything this session still has in the engine."""
        found = [c.name for c in listed(self.client, f"{LABEL}={self.marker}")]
        found += [n.name for n in self.client.networks.list(filters={"label": f"{LABEL}={self.marker}"})]
        return found

    def close(self) -> None:
        for container in listed(self.client, f"{LABEL}={self.marker}"):
            try:
                container.remove(force=True)
            except Exception as exc:
                if not gone(exc):
                    raise
        self.containers.clear()
        try:
            remove_network(self.network)
        except Exception as exc:  # the containers are gone; the session's teardown goes on
            log.warning("could not remove the network %s: %s", self.network.name, exc)
