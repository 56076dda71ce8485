"""A service's programs inside its image: paths, files, and one-off commands run by exec."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from pytest_boxkoji import hostprogs
from pytest_boxkoji.runtimes.containers.images import IMAGE_BUILTIN_MODULES, IMAGE_PATHS, Images


class Runs(Protocol):
    """What the tools need of the containers runtime (runtime.py): its images, its service
    containers, and a container for one command."""

    images: Images
    containers: dict[str, Any]

    def run_once(
        self, image: str, command: list[str], env: dict[str, str], user: str = "0:0"
    ) -> subprocess.CompletedProcess[str]: ...


class ContainerTools:
    """A service's programs inside its image: exec in its running container, or a one-off one."""

    def __init__(self, runtime: Runs, image: str, service: str) -> None:
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
