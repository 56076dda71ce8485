"""What each service is: its config files, command, ports, readiness and how it reloads.

Nothing here knows how a service is started; that is the runtimes' business.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Check:
    """A readiness check that says what it checks: a timeout names it, not a function's repr."""

    what: str
    probe: Callable[[], bool]

    def __call__(self) -> bool:
        return self.probe()

    def __str__(self) -> str:
        return self.what


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
    # Re-reading the configuration in place, given the main process's pid (Apache restarts the
    # hub's daemons); without it, or where its processes are not ours to signal, a restart.
    reload: Callable[[int], None] | None = None
