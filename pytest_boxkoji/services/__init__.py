"""What each service is: its config files, command, ports, readiness and dependencies.

Nothing here knows how a service is started; that is the runtimes' business.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Service:
    """One long-running program and the check that says it is ready to serve."""

    name: str
    command: list[str]
    ready: Callable[[], bool]
    log: Path  # the process's own stdout and stderr
    env: dict[str, str] = field(default_factory=dict)
    deadline: float = 30.0
    ports: dict[str, int] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    cwd: Path | None = None
    stop_signal: int = signal.SIGTERM
    # PostgreSQL refuses root and Apache would drop to another user anyway; the KDC does not care.
    unprivileged: bool = True
    extra_logs: tuple[Path, ...] = ()  # logs the program writes itself, shown when it fails
    image: str = ""  # the containers runtime's image for it (pytest_boxkoji/images/<image>/Dockerfile)
