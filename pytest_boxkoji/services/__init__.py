"""What each service is: its config files, command, ports, readiness and how it reloads.

Nothing here knows how a service is started; that is the runtimes' business.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_boxkoji.runtimes.tools import Endpoint


@dataclass(frozen=True)
class Check:
    """A readiness check that says what it checks: a timeout names it, not a function's repr."""

    what: str
    probe: Callable[[], bool]

    def __call__(self) -> bool:
        return self.probe()

    def __str__(self) -> str:
        return self.what


def probed_at(
    name: str, probe: str, endpoint: Endpoint, check: str, **extra: object
) -> list[dict[str, object]]:
    """A part's /health entry for a service probed at its port, as the other services reach it
    (inside/health.py: `probe` names the probe, `check` says what it proves)."""
    return [
        {"name": name, "probe": probe, "host": endpoint.host, "port": endpoint.port, "check": check, **extra}
    ]


@dataclass
class Service:
    """One long-running program and the check that says it is ready to serve."""

    name: str
    command: list[str]
    ready: Check
    log: Path  # the process's own stdout and stderr
    env: dict[str, str] = field(default_factory=dict)
    deadline: float = 30.0
    cwd: Path | None = None
    stop_signal: int = signal.SIGTERM
    # PostgreSQL refuses root and Apache would drop to another user anyway; the KDC does not care.
    unprivileged: bool = True
    extra_logs: tuple[Path, ...] = ()  # logs the program writes itself, shown when it fails
    image: str = ""  # the containers runtime's image for it (pytest_boxkoji/images/<image>/Dockerfile)
    # Files the image is built with besides its Dockerfile (name in the build context: path on
    # this host), part of the image's tag; and build arguments (the builder's mock).
    image_files: dict[str, Path] = field(default_factory=dict)
    image_args: dict[str, str] = field(default_factory=dict)
    # Containers: everything a privileged container may do (mock mounts /proc and /dev in its
    # chroots). Processes: nothing (unprivileged=False already runs it as root).
    privileged: bool = False
    # Re-reading the configuration in place, given the main process's pid (Apache restarts the
    # hub's daemons); without it, or where its processes are not ours to signal, a restart.
    reload: Callable[[int], None] | None = None
