"""The containers runtime: every service in its own container, through testcontainers.

Docker or Podman, reached through DOCKER_HOST or the default socket. One private network per
session with aliases (kdc.koji.box, ...), which each container also finds in its /etc/hosts (see
`start`); only what the test process needs is published, on
127.0.0.1. The session's directory, Koji's tree and the cache are mounted at the same paths as on
the host, so the config files the service descriptions render work unchanged in the containers.
Everything made carries the session label; a sweep removes what crashed sessions left.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from pytest_boxkoji import hostprogs, ports, progress, servicespy
from pytest_boxkoji.config import BoxKojiConfig
from pytest_boxkoji.errors import BoxKojiError
from pytest_boxkoji.findings import Finding
from pytest_boxkoji.runtimes.tools import Endpoint
from pytest_boxkoji.runtimes.wait import wait_ready
from pytest_boxkoji.servicelogs import FileLog, LogSource
from pytest_boxkoji.services import Service
from pytest_boxkoji.workspace import OWNER_FILE

log = logging.getLogger(__name__)

LABEL = "io.pytest-boxkoji.session"
PID_LABEL = "io.pytest-boxkoji.pid"
DIR_LABEL = "io.pytest-boxkoji.directory"  # the session's workspace: kept on purpose without owner.pid
# Shipped inside the package: an installed (non-editable) plugin builds its images from here.
DOCKERFILES = Path(__file__).resolve().parent.parent / "images"
DEFAULT_BASE = "docker.io/library/debian:bookworm-slim"
# Where Debian's packages put the programs the service descriptions name.
IMAGE_PATHS = {
    "postgres": "/usr/lib/postgresql/15/bin/postgres",
    "initdb": "/usr/lib/postgresql/15/bin/initdb",
    "apache2": "/usr/sbin/apache2",
    "mod_ssl.so": "/usr/lib/apache2/modules/mod_ssl.so",
    "mod_auth_gssapi.so": "/usr/lib/apache2/modules/mod_auth_gssapi.so",
    "rabbitmq-server": "/usr/lib/rabbitmq/bin/rabbitmq-server",
}
# Debian's apache2 has these compiled in (a LoadModule for them would fail).
IMAGE_BUILTIN_MODULES = {"mod_unixd.so", "mod_log_config.so"}
SERVICES_VENV = Path("/opt/boxkoji/venv")


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


class Images:
    """Service images built from containers/, tagged by a hash of their inputs, kept as a cache."""

    def __init__(self, client: Any, cache_dir: Path, base_image: str = DEFAULT_BASE) -> None:
        self.client = client
        self.cache_dir = cache_dir
        self.base_image = base_image
        self.built: dict[str, str] = {}
        self._lock = threading.RLock()

    def wheelhouse(self) -> Path:
        """Python packages for the services' virtualenv, downloaded on the host once."""
        wheels = servicespy.wheel_specs()
        key = hashlib.sha256("\n".join((*wheels, servicespy.MOD_WSGI)).encode()).hexdigest()[:12]
        target = self.cache_dir / "wheelhouse" / key
        if not (target / ".complete").exists():
            progress.say(f"downloading the services' Python packages into {target} (once)")
            target.mkdir(parents=True, exist_ok=True)
            linux = [
                "--python-version",
                "3.11",
                "--implementation",
                "cp",
                "--platform",
                "manylinux2014_x86_64",
                "--platform",
                "manylinux_2_28_x86_64",
            ]
            done = _pip_download(target, "--only-binary", ":all:", *linux, *wheels)
            if done.returncode == 0:
                # mod_wsgi is built in the hub image, against the services' Python.
                done = _pip_download(target, "--no-binary", "mod_wsgi", servicespy.MOD_WSGI)
            if done.returncode != 0:
                raise BoxKojiError(
                    f"Downloading the services' Python packages failed:\n{done.stderr[-2000:]}"
                )
            (target / ".complete").touch()
        return target

    def ensure(self, name: str) -> str:
        """The tag of image `name` (base, kdc, ...), built now if its inputs changed."""
        # Services start in parallel: one build of each image, the others wait for it.
        with self._lock:
            return self._ensure(name)

    def _ensure(self, name: str) -> str:
        if name in self.built:
            return self.built[name]
        dockerfile = DOCKERFILES / name / "Dockerfile"
        args: dict[str, str] = {}
        digest = hashlib.sha256(dockerfile.read_bytes())
        context = Path(tempfile.mkdtemp(prefix="boxkoji-image-"))
        try:
            shutil.copy(dockerfile, context / "Dockerfile")
            if name == "base":
                args["BASE_IMAGE"] = self.base_image
                args["DEBIAN_PYTHON"] = " ".join(servicespy.debian_packages())
                digest.update(self.base_image.encode())
                digest.update(args["DEBIAN_PYTHON"].encode())
                wheels = self.wheelhouse()
                shutil.copytree(wheels, context / "wheelhouse")
                digest.update("\n".join(sorted(p.name for p in wheels.iterdir())).encode())
            else:
                args["BOXKOJI_BASE"] = self._ensure("base")
                digest.update(args["BOXKOJI_BASE"].encode())
            tag = f"localhost/boxkoji-{name}:{digest.hexdigest()[:16]}"
            if not self.client.images.list(name=tag):
                self._build(context, tag, args, name)
        finally:
            shutil.rmtree(context, ignore_errors=True)
        self.built[name] = tag
        return tag

    def _build(self, context: Path, tag: str, args: dict[str, str], name: str) -> None:
        # Progress on the terminal: a cold build takes minutes.
        progress.say(f"building image {tag}")
        start = time.monotonic()
        last = ""
        for chunk in self.client.api.build(
            path=str(context),
            tag=tag,
            buildargs=args,
            rm=True,
            decode=True,
            labels={"io.pytest-boxkoji.image": name},
        ):
            if "error" in chunk:
                raise BoxKojiError(f"Building image {name} ({tag}) failed: {chunk['error'].strip()}\n{last}")
            line = str(chunk.get("stream", "")).strip()
            if line:
                last = line
                if line.startswith("STEP") or line.startswith("Step"):
                    progress.say(f"  {line[:120]}")
        progress.say(f"built {tag} in {time.monotonic() - start:.0f} s")


def _pip_download(target: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps"]
    return subprocess.run([*command, "-d", str(target), *args], capture_output=True, text=True, check=False)


class ContainerTools:
    """A service's programs inside its image: exec in its running container, or a one-off one."""

    def __init__(self, runtime: ContainersRuntime, image: str, service: str) -> None:
        self.runtime = runtime
        self.image = image
        self.service = service

    def path(self, program: hostprogs.Program) -> str:
        return IMAGE_PATHS.get(program.name, program.name)

    def has_file(self, path: Path) -> bool:
        return path.name not in IMAGE_BUILTIN_MODULES

    def identity(self, program: hostprogs.Program) -> str:
        return f"{self.runtime.images.ensure(self.image)}:{self.path(program)}"  # the image's tag

    def run(
        self,
        program: hostprogs.Program,
        args: Sequence[str],
        env: dict[str, str],
        user: tuple[int, int] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        command = [self.path(program), *args]
        as_user = f"{user[0]}:{user[1]}" if user else "0:0"
        container = self.runtime.containers.get(self.service)
        if container is not None:
            result = container.exec_run(command, environment=env, demux=True, user=as_user)
            out, err = result.output
            return subprocess.CompletedProcess(
                command,
                result.exit_code,
                (out or b"").decode(errors="replace"),
                (err or b"").decode(errors="replace"),
            )
        return self.runtime.run_once(self.image, command, env, as_user)


class ContainerLog:
    """A container's log: positions are times. The engine runs on this machine (a local socket),
    so its timestamps and this process's clock agree."""

    label = "container log"

    def __init__(self, container: Any) -> None:
        self.container = container

    @property
    def key(self) -> str:
        return str(self.container.id)

    @property
    def where(self) -> str:
        cli = "docker" if shutil.which("docker") else "podman"
        return f"`{cli} logs {self.container.name}`"

    def position(self) -> float:
        return time.time()

    def since(self, position: float | None) -> str:
        options: dict[str, Any] = {"timestamps": True}
        if position:
            options["since"] = max(1, int(position) - 1)  # whole seconds; the timestamps say the rest
        try:
            raw = self.container.logs(**options).decode(errors="replace")
        except Exception:  # removed meanwhile (a restart makes a new container)
            return ""
        lines = []
        for line in raw.splitlines():
            stamp, _, text = line.partition(" ")
            when = _written(stamp)
            if when is None:  # not a timestamp after all: keep the line whole
                lines.append(line)
            elif position is None or when >= position:
                lines.append(text)
        return "\n".join(lines)


_STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$")


def _written(stamp: str) -> float | None:
    """The latest moment a line stamped `stamp` (RFC 3339: Z or an offset, nanoseconds from
    Docker, whole seconds from Podman) may have been written, in seconds since the epoch."""
    found = _STAMP.match(stamp)
    if found is None:
        return None
    main, fraction, zone = found.groups()
    zone = "+00:00" if zone in (None, "Z") else zone
    whole = datetime.fromisoformat(main + zone).timestamp()
    return whole + float(f"0{fraction}") if fraction else whole + 0.999999


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

    def services_python(self, config: BoxKojiConfig, koji_version: str) -> servicespy.ServicesPython:
        """The virtualenv baked into the base image (mod_wsgi built in the hub image)."""
        site = SERVICES_VENV / "lib" / "python3.11" / "site-packages"
        return servicespy.ServicesPython(
            SERVICES_VENV, site / "mod_wsgi" / "server" / "mod_wsgi-py311.cpython-311-x86_64-linux-gnu.so"
        )

    def tools(self, image: str, *programs: hostprogs.Program) -> ContainerTools:
        return ContainerTools(self, image, image)

    def _container(
        self, image: str, command: list[str], env: dict[str, str], name: str, **kwargs: Any
    ) -> Any:
        """The one way this runtime makes a container: the session's labels, mounts and network."""
        from testcontainers.core.config import testcontainers_config
        from testcontainers.core.container import DockerContainer

        # No reaper container: it needs an image pull, and the session labels and sweep already
        # remove what a session made, crashed or not.
        testcontainers_config.ryuk_disabled = True
        container = (
            DockerContainer(self.images.ensure(image))
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
        container = self._container(service.image, service.command, service.env, name, **kwargs)
        for end in self.endpoints.get(name, []):
            # Published on 127.0.0.1 only: testcontainers' port helpers bind every address.
            container.ports[f"{end.port}/tcp"] = (end.client_host, end.client_port)
        container.start()
        wrapped = container.get_wrapped_container()
        self.containers[name] = wrapped
        wrapped.reload()
        self._remember_address(name, wrapped)
        try:
            wait_ready(service, lambda: self._exited(wrapped), lambda: self.log_tail(wrapped))
        except BaseException:
            # As with a process: a service that did not start is not left running.
            self.containers.pop(name, None)
            wrapped.remove(force=True)
            raise

    def _remember_address(self, name: str, container: Any) -> None:
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
        self._remember_address(service.name, self.containers[service.name])

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
            other._remember_address(service.name, container)
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


def doctor_checks(settings: BoxKojiConfig) -> list[Finding]:
    """`boxkoji doctor`: the containers extra, an engine that answers, Podman's DNS between
    containers and its firewall, the base image."""
    extra = all(importlib.util.find_spec(m) is not None for m in ("docker", "testcontainers"))
    checks = [
        Finding(
            "containers extra",
            extra,
            "docker and testcontainers importable" if extra else "docker/testcontainers not installed",
            fix=EXTRA_HINT,
        )
    ]
    if not extra:
        return checks
    client, problem = probe()
    engine_installed = bool(shutil.which("podman") or shutil.which("docker"))
    checks.append(
        Finding(
            "container engine",
            client is not None,
            "answers" if client is not None else problem,
            () if engine_installed else ("podman", "runc"),
            () if engine_installed else ("podman",),
            fix="podman system service --time=0 unix:///run/podman/podman.sock & "
            "export DOCKER_HOST=unix:///run/podman/podman.sock",
        )
    )
    if shutil.which("podman"):
        checks.append(_podman_dns())
        # netavark sets up every network with iptables; without it no container starts
        # ("netavark: No such file or directory"), and Podman's packages only recommend it.
        iptables = shutil.which("iptables") or next(
            (p for p in ("/usr/sbin/iptables", "/sbin/iptables") if Path(p).exists()), None
        )
        checks.append(
            Finding(
                "iptables (netavark's firewall)",
                iptables is not None,
                iptables or "not found",
                ("iptables",),
                ("iptables",),
            )
        )
    if client is not None:
        base = DEFAULT_BASE
        present = bool(client.images.list(name=base))
        checks.append(
            Finding(
                "base image",
                present,
                base + (" present" if present else " not present; it is pulled at first use"),
                fix=f"docker pull {base} (or, offline: debootstrap --variant=minbase bookworm "
                f"/tmp/rootfs && tar -C /tmp/rootfs -c . | podman import - {base})",
            )
        )
    return checks


def _podman_dns() -> Finding:
    """Containers find each other by name only with netavark + aardvark-dns (CNI has no DNS here)."""
    backend = subprocess.run(
        ["podman", "info", "--format", "{{.Host.NetworkBackend}}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dns = any(
        Path(d, "aardvark-dns").exists()
        for d in ("/usr/lib/podman", "/usr/libexec/podman", "/usr/local/lib/podman")
    )
    ok = backend == "netavark" and dns
    detail = f"network backend {backend or 'unknown'}, aardvark-dns {'found' if dns else 'missing'}"
    return Finding(
        "Podman DNS between containers",
        ok,
        detail,
        ("netavark", "aardvark-dns"),
        ("netavark", "aardvark-dns"),
        fix='network_backend = "netavark" under [network] in /etc/containers/conf, then '
        "`podman system reset` (drops existing containers) or restart the Podman service",
    )
