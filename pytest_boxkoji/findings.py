"""What `boxkoji doctor` reports: one finding per check, with the packages or the command that
fix it. Each runtime checks its own needs with these (runtimes/*.py: `doctor_checks`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_boxkoji import hostprogs
from pytest_boxkoji.servicespy import interpreter_says


@dataclass(frozen=True)
class Finding:
    what: str
    ok: bool
    detail: str
    debian: tuple[str, ...] = ()  # packages that fix it
    fedora: tuple[str, ...] = ()
    fix: str = ""  # a command, when no package does


def program(program: hostprogs.Program) -> Finding:
    path = hostprogs.locate(program)
    return Finding(
        program.name,
        path is not None,
        str(path) if path else f"not found (needed for {program.purpose})",
        (program.debian,),
        (program.fedora,),
    )


def imports(python: str, modules: str) -> tuple[bool, str]:
    done = interpreter_says(Path(python), f"import {modules}")
    return done.returncode == 0, (done.stderr.strip().splitlines() or [""])[-1]
