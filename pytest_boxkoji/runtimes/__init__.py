"""How services run: local processes (processes.py) or containers (containers.py).

`Runtime` is everything the rest of the plugin may ask of a runtime. Nothing outside this
package asks which runtime it has: what differs is a method here or a declared trait.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pytest_boxkoji import hostprogs
from pytest_boxkoji.errors import BoxKojiError
from pytest_boxkoji.runtimes import containers, processes
from pytest_boxkoji.runtimes.processes import ProcessesRuntime
from pytest_boxkoji.runtimes.tools import Endpoint, Tools
from pytest_boxkoji.services import Service

if TYPE_CHECKING:
    from pytest_boxkoji.config import BoxKojiConfig
    from pytest_boxkoji.findings import Finding
    from pytest_boxkoji.servicelogs import LogSource
    from pytest_boxkoji.servicespy import ServicesPython


class Lifecycle(Protocol):
    """Starting and stopping services."""

    def start(self, service: Service) -> None:
        """Start the service and return once its readiness check passes (runtimes/wait.py)."""

    def stop(self, service: Service) -> None:
        """Stop the service (its stop signal first); never raises for a service already gone."""

    def restart(self, service: Service) -> None:
        """Make a running service read its configuration again, and wait until it is ready."""

    def kill(self, service: Service) -> None:
        """Kill the service abruptly (to test what happens when one dies)."""

    def alive(self, service: Service) -> bool:
        """The service's process (or container) is still running."""

    def dead(self, services: Sequence[Service]) -> list[Service]:
        """Those of `services` no longer running, in one look where the runtime can (it runs
        before every test that has builders: the restore's critical path)."""


class Inspection(Protocol):
    """What a service is doing and wrote."""

    def logs(self, service: Service) -> str:
        """The last lines of what the service wrote, for error messages."""

    def where(self, service: Service) -> str:
        """Where the service runs, for people: "pid 1234", "container boxkoji-...-hub"."""

    def memory_used(self, service: Service) -> int | None:
        """Bytes of memory the service uses now (its processes together); None when not running."""

    def output(self, service: Service, follow: bool = False) -> Iterator[str]:
        """What the service wrote to its stdout and stderr; with `follow`, then what it writes
        next, until it stops or the caller stops reading."""

    def log_sources(self, service: Service) -> list[LogSource]:
        """Everywhere the service writes, to read what it wrote during a test (servicelogs.py)."""

    def pids(self) -> list[int]:
        """Host process ids of everything this runtime started and is still running."""


class Placement(Protocol):
    """Where a service's ports, programs, files and Python are."""

    def endpoint(self, service: str, port: int, client_port: int | None = None) -> Endpoint:
        """An address for the service's port, as it binds it and as the test process reaches it
        (on `client_port` when given, else on a free one)."""

    def on_this_host(self) -> Endpoint:
        """An address for a program the test process runs on this host (a test's git server)
        that the services reach: where it binds, and the name they use."""

    def tools(self, image: str, *programs: hostprogs.Program) -> Tools:
        """The service's programs where it runs; missing ones are an error that says how to fix it."""

    def mount(self, path: Path) -> None:
        """Make a host directory visible to the services at the same path."""

    def services_python(self, config: BoxKojiConfig, koji_version: str) -> ServicesPython:
        """The Python the hub, kojid and kojira run in."""


class Keeping(Protocol):
    """Services that outlive this process: the record's refs, taking them over, letting go."""

    def refs(self) -> dict[str, str]:
        """What identifies each running service outside this process (pid, container id)."""

    def adopt(self, service: Service, ref: str, endpoints: Sequence[Endpoint] = ()) -> None:
        """Take over a service another process started and detached, by its ref (refs() there)."""

    def detach(self) -> None:
        """Forget every service without stopping it (--boxkoji-keep)."""

    def stop_hint(self, directories: Sequence[Path]) -> str:
        """A shell command that stops what `detach` left running and removes `directories`."""

    def close(self) -> None:
        """Release what the runtime itself holds (a network); after every service has stopped."""


class Sharing(Protocol):
    """pytest-xdist: a service of one session reachable by another's."""

    def share(self, service: Service, other: Runtime) -> list[str]:
        """Make `service` (this runtime's) reachable by the services `other` starts, under its
        usual address (pytest-xdist workers sharing a KDC); what `unshare` undoes, once the
        service has stopped."""

    def unshare(self, names: Sequence[str]) -> None:
        """Remove what `share` made for runtimes that have ended (a worker's network)."""


class Runtime(Lifecycle, Inspection, Placement, Keeping, Sharing, Protocol):
    """Everything the rest of the plugin may ask of a runtime, by concern; a caller that needs one
    concern only can ask for that protocol."""

    name: str
    # Traits: the services see their own filesystem (an image), not this host's programs.
    own_filesystem: bool
    mounts: list[Path]  # host directories made visible to the services (mount()), in order


def choose_runtime(config: BoxKojiConfig, marker: str, directory: Path, attach: bool = False) -> Runtime:
    """The one place a runtime is chosen: processes when asked for, or (auto) when every host
    program is here; else containers. `attach`: to a detached session of that marker."""
    import os

    user = config.service_user if os.geteuid() == 0 else None
    if config.runtime == "processes":
        return ProcessesRuntime(user, marker, keep=config.keep)
    missing = [p for p in hostprogs.PROCESSES_RUNTIME if hostprogs.locate(p) is None]
    if config.runtime == "auto" and not missing:
        return ProcessesRuntime(user, marker, keep=config.keep)

    client, problem = containers.probe()
    if client is None:
        if config.runtime == "containers":
            raise BoxKojiError(problem)
        raise BoxKojiError(
            "--boxkoji-runtime=auto found neither runtime usable.\n"
            f"processes: {hostprogs.describe_missing(missing)}\ncontainers: {problem}"
        )
    return containers.ContainersRuntime(
        client,
        marker,
        config.cache_dir,
        [directory],
        keep=config.keep,
        memory=config.container_memory,
        base_image=config.base_image or containers.DEFAULT_BASE,
        attach=attach,
    )


def sweep_marker(runtime: str, marker: str) -> None:
    """Remove everything carrying `marker` that a recorded environment of `runtime` left, when
    it can no longer be taken over (its directory or network is gone): each runtime its own way."""

    processes.sweep(marker)  # a containers box's helpers (a foreground `up`) are processes too
    if runtime == "containers":
        client, problem = containers.probe()
        if client is None:
            raise BoxKojiError(problem)
        containers.sweep_marker(client, marker)


def builds_services_python(runtime: str) -> bool:
    """The runtime builds the services' Python on this host from --boxkoji-services-python
    (containers bake it into their image)."""
    return runtime == "processes"


def runs_host_programs(runtime: str) -> bool:
    """The services may run as this host's programs (processes, or auto's first choice)."""
    return runtime in ("auto", "processes")


def considered(runtime: str) -> tuple[str, ...]:
    """The runtimes a --boxkoji-runtime setting may end up with (auto: either)."""
    return ("processes", "containers") if runtime == "auto" else (runtime,)


def doctor_checks(runtime: str, config: BoxKojiConfig) -> list[Finding]:
    """`boxkoji doctor`'s checks of one runtime, by that runtime."""
    if runtime == "containers":
        return containers.doctor_checks(config)

    return processes.doctor_checks(config)
