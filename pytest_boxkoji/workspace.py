"""One environment's workspace on this machine: its directory, its marker, who its services run
as, and the environment variables it sets in the test process (restored when it stops)."""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import secrets
import shutil
import tempfile
from pathlib import Path

import psutil

from pytest_boxkoji.errors import BoxKojiError

log = logging.getLogger(__name__)
# Memory-backed, where throwaway data that is written a lot goes when there is room: a
# PostgreSQL cluster is a thousand small files, and creating files is what costs on some disks
# (measured here: copying the 49 MB template took 1.5 s on ext4, 0.18 s in /dev/shm).
MEMORY = Path("/dev/shm")
MEMORY_ROOM = 1 << 30  # a container's 64 MB /dev/shm is not enough


class Workspace:
    def __init__(self, service_user: str) -> None:
        self.id = secrets.token_hex(4)
        self.marker = f"{os.getpid()}-{self.id}"  # on every process and container it starts
        swept = sweep_stale()
        if swept:
            log.warning("stopped what crashed sessions left in %s", ", ".join(map(str, swept)))
        self.owner = service_owner(service_user)
        # Under /tmp, not pytest's 0700 basetemp: the service user must reach it.
        self.directory = Path(tempfile.mkdtemp(prefix=f"boxkoji-{self.id}-"))
        self.directory.chmod(0o711)
        # The next session sweeps this directory's processes if this pytest dies without teardown.
        (self.directory / OWNER_FILE).write_text(str(os.getpid()))
        self._saved_environ: dict[str, str | None] = {}
        self._scratch: list[Path] = []

    @classmethod
    def reopen(cls, directories: list[Path], marker: str, service_user: str) -> Workspace:
        """The workspace a detached environment left (`boxkoji up --detach`, --boxkoji-keep),
        taken over by another process: nothing is created, its directories stay when it stops."""
        workspace = cls.__new__(cls)
        workspace.directory, *workspace._scratch = directories
        workspace.id = workspace.directory.name.split("-")[1]
        workspace.marker = marker
        workspace.owner = service_owner(service_user)
        workspace._saved_environ = {}
        return workspace

    def scratch(self, name: str) -> Path:
        """A directory for throwaway data written a lot (PostgreSQL's cluster): in memory when
        /dev/shm has room, else in the workspace. Removed (and swept) with the workspace."""
        if not _roomy(MEMORY):
            path = self.directory / name
            path.mkdir()
            return path
        path = Path(tempfile.mkdtemp(prefix=f"boxkoji-{self.id}-{name}-", dir=MEMORY))
        path.chmod(0o711)
        (path / OWNER_FILE).write_text(str(os.getpid()))
        self._scratch.append(path)
        return path

    def set_environ(self, values: dict[str, str]) -> None:
        """Set variables in the test process (libraries read KRB5_CONFIG from there)."""
        for key, value in values.items():
            self._saved_environ.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def restore_environ(self) -> None:
        for key, value in self._saved_environ.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_environ.clear()

    def chown(self, path: Path) -> None:
        """Hand a tree to the service user (only matters when pytest runs as root)."""
        if os.geteuid() != 0:
            return
        for directory, _dirs, files in os.walk(path):
            os.chown(directory, *self.owner)
            for name in files:
                os.chown(os.path.join(directory, name), *self.owner)

    def keep(self) -> None:
        """Kept on purpose: not a crash for the next session to sweep."""
        for directory in (self.directory, *self._scratch):
            (directory / OWNER_FILE).unlink(missing_ok=True)

    def remove(self) -> None:
        for directory in (self.directory, *self._scratch):
            shutil.rmtree(directory, ignore_errors=True)

    @property
    def directories(self) -> list[Path]:
        """Every directory of this workspace (the main one and the scratch ones)."""
        return [self.directory, *self._scratch]


def _roomy(base: Path) -> bool:
    try:
        usage = shutil.disk_usage(base)
    except OSError:
        return False
    return os.access(base, os.W_OK) and usage.free >= MEMORY_ROOM


def service_owner(user: str) -> tuple[int, int]:
    """(uid, gid) the services run as: the service user under root, else whoever runs pytest."""
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise BoxKojiError(
            f"--boxkoji-service-user={user!r}: no such user on this host. PostgreSQL refuses to "
            "run as root, so under root the services need an unprivileged user; create one or "
            "name an existing one (nobody, www-data)."
        ) from None
    return entry.pw_uid, entry.pw_gid


OWNER_FILE = "owner.pid"


def sweep_stale() -> list[Path]:
    """What crashed sessions left, wherever workspaces put directories."""
    bases = [Path(tempfile.gettempdir()), *([MEMORY] if MEMORY.is_dir() else [])]
    return [path for base in bases for path in sweep_stale_sessions(base)]


def sweep_stale_sessions(base: Path) -> list[Path]:
    """Stop what sessions killed without teardown (SIGKILL, power loss) left under `base`.

    Each session's directory holds its pytest's pid; when that process is gone, every process
    naming the directory (command line or environment: PostgreSQL rewrites its own environment,
    not its -D argument) is killed and the directory removed.
    """
    stale = []
    for directory in base.glob("boxkoji-*"):
        try:
            owner = int((directory / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if psutil.pid_exists(owner):
            continue
        stale.append(directory)
    if not stale:
        return []
    names = [str(d) for d in stale]
    for proc in psutil.process_iter(["pid"]):
        try:
            text = " ".join(proc.cmdline()) + " " + " ".join(proc.environ().values())
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if any(name in text for name in names):
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
    for directory in stale:
        shutil.rmtree(directory, ignore_errors=True)
    return stale
