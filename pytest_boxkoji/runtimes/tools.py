"""Running a service's programs: on this host, or inside the service's image.

Service descriptions name programs (hostprogs.Program); where the program is and how a one-off
command (kdb5_util, kadmin.local, initdb) runs is the runtime's business.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pytest_boxkoji import hostprogs


@dataclass(frozen=True)
class Endpoint:
    """One port of a service, as the service binds it and as the test process reaches it."""

    bind: str  # the address the service listens on
    host: str  # the name other services use
    port: int  # the port the service listens on
    client_host: str  # how the test process reaches it
    client_port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def client_address(self) -> str:
        return f"{self.client_host}:{self.client_port}"


class Tools(Protocol):
    def path(self, program: hostprogs.Program) -> str:
        """How a command line names the program where the service runs."""

    def has_file(self, path: Path) -> bool:
        """The file exists where the service runs."""

    def identity(self, program: hostprogs.Program) -> str:
        """What identifies this build of the program, for cache keys, without running it."""

    def run(
        self,
        program: hostprogs.Program,
        args: Sequence[str],
        env: dict[str, str],
        user: tuple[int, int] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run it once, as `user` (uid, gid) when given; output captured, whatever its exit code."""


class HostTools:
    """Programs installed on this host (the processes runtime)."""

    def __init__(self, *required: hostprogs.Program) -> None:
        # Look everything up at once: one error lists all that is missing.
        self._paths = dict(zip(required, hostprogs.find(*required), strict=True))

    def path(self, program: hostprogs.Program) -> str:
        if program not in self._paths:
            self._paths[program] = hostprogs.find(program)[0]
        return str(self._paths[program])

    def has_file(self, path: Path) -> bool:
        return path.exists()

    def identity(self, program: hostprogs.Program) -> str:
        real = Path(self.path(program)).resolve()
        stat = real.stat()
        return f"{real}:{stat.st_size}:{stat.st_mtime_ns}"

    def run(
        self,
        program: hostprogs.Program,
        args: Sequence[str],
        env: dict[str, str],
        user: tuple[int, int] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        switch = user is not None and os.geteuid() == 0 and user[0] != 0
        return subprocess.run(
            [self.path(program), *args],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
            user=user[0] if switch and user else None,
            group=user[1] if switch and user else None,
            extra_groups=[] if switch else None,
        )
