"""Many nested pytest sessions started at the same moment on one machine (the crash-proof at scale
test, test_scale.py, and benchmarks/sessions.py).

Each session is a real `pytest --boxkoji` process in one directory: its conftest holds it at a
barrier (a file the parent creates once every session is waiting), so that all of them create
their workspaces, claim ports and start their KDC, PostgreSQL and orch at once. Its test then
checks that the services it reaches are its own and writes a record (pid, marker, directories,
ports, processes or containers) for the parent to compare and to sweep after.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

BARRIER = """
import os
import time
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _all_at_once():
    # Before any boxkoji fixture (autouse comes first): the workspace, the ports and the services
    # of every session are made at the same moment.
    barrier = Path(os.environ["CROWD_BARRIER"])
    (barrier / f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + 900
    while not (barrier / "go").exists():
        assert time.monotonic() < deadline, "the crowd never started"
        time.sleep(0.01)
"""

SESSION = """
import json
import os
import time
from pathlib import Path

import gssapi
import psutil


def test_my_own_services(boxkoji_environment, kdc, postgres, orch):
    env = boxkoji_environment
    ready = time.time()
    mine = [Path(d) for d in env.workspace.directories]
    # The KDC: a keytab this session's orch made logs in at this session's KDC only (every realm
    # is created with keys of its own), through this session's krb5.conf and port.
    assert kdc.kinit_works()
    credential = orch.checkout("crowd", "keytab", holder="crowd")
    name = gssapi.Name(credential.principal, gssapi.NameType.kerberos_principal)
    store = {"client_keytab": str(credential.path), "ccache": "MEMORY:crowd"}
    assert gssapi.Credentials(name=name, usage="initiate", store=store).lifetime > 0
    # PostgreSQL: the server on this session's port serves this session's data directory.
    with postgres.connect() as conn, conn.cursor() as cur:
        cur.execute("SHOW data_directory")
        data = Path(cur.fetchone()[0])
        cur.execute("SELECT name FROM users")
        assert cur.fetchall() == [("kojiadmin",)]
    assert any(directory in data.parents for directory in mine), (data, mine)
    ports = [kdc.port, postgres.port]
    if env.runtime.name == "processes":  # who listens on the ports: this session's processes
        pids = set(env.runtime.pids())
        listening = {
            c.laddr.port: c.pid
            for c in psutil.net_connections("tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port in ports
        }
        assert set(listening) == set(ports) and set(listening.values()) <= pids, (listening, pids)
    record = {
        "pid": os.getpid(),
        "marker": env.workspace.marker,
        "directories": [str(d) for d in mine],
        "ports": ports,
        "pids": env.runtime.pids(),
        "resources": env.runtime.resources() if env.runtime.name == "containers" else [],
        "ready": ready,
    }
    path = Path(os.environ["CROWD_RECORDS"]) / f"{os.getpid()}.json"
    path.with_suffix(".tmp").write_text(json.dumps(record))
    path.with_suffix(".tmp").rename(path)
    time.sleep(float(os.environ.get("CROWD_LINGER", "0")))
"""


@dataclass
class Crowd:
    """`size` sessions of `command` in `directory`; `linger[i]`: seconds session i waits after
    its record (to be killed meanwhile)."""

    directory: Path
    size: int
    command: Sequence[str]
    env: dict[str, str]
    linger: dict[int, float] = field(default_factory=dict)
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    went: float = 0.0  # time.time() at the barrier's release

    @property
    def barrier(self) -> Path:
        return self.directory / "barrier"

    @property
    def records_dir(self) -> Path:
        return self.directory / "records"

    def start(self, timeout: float = 600) -> None:
        """Launch every session, wait until all wait at the barrier, release them together."""
        for path in (self.barrier, self.records_dir):
            path.mkdir(parents=True)
        (self.directory / "conftest.py").write_text(BARRIER)
        (self.directory / "test_crowd.py").write_text(SESSION)
        for index in range(self.size):
            env = {
                **self.env,
                "CROWD_BARRIER": str(self.barrier),
                "CROWD_RECORDS": str(self.records_dir),
                "CROWD_LINGER": str(self.linger.get(index, 0)),
            }
            log = open(self.directory / f"session-{index}.log", "wb")  # noqa: SIM115 - the child's
            with log:
                self.children.append(
                    subprocess.Popen(
                        self.command, cwd=self.directory, env=env, stdout=log, stderr=subprocess.STDOUT
                    )
                )
        deadline = time.monotonic() + timeout
        while len(list(self.barrier.glob("ready-*"))) < self.size:
            dead = [c.pid for c in self.children if c.poll() is not None]
            if dead or time.monotonic() > deadline:
                self.kill_all()
                raise AssertionError(f"sessions {dead} ended before the barrier:\n{self.outputs()}")
            time.sleep(0.05)
        self.went = time.time()
        (self.barrier / "go").touch()

    def record(self, index: int) -> dict[str, Any] | None:
        path = self.records_dir / f"{self.children[index].pid}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def wait_recorded(self, indexes: Sequence[int], timeout: float = 900) -> None:
        deadline = time.monotonic() + timeout
        while any(self.record(i) is None for i in indexes):
            failed = [i for i in indexes if self.children[i].poll() is not None and self.record(i) is None]
            if failed or time.monotonic() > deadline:
                raise AssertionError(f"sessions {failed} did not get ready:\n{self.outputs(failed)}")
            time.sleep(0.1)

    def kill(self, index: int) -> None:
        """SIGKILL the session's pytest process: no teardown at all, its services left behind."""
        self.children[index].send_signal(signal.SIGKILL)
        self.children[index].wait()

    def wait_all(self, timeout: float = 900) -> list[int | None]:
        deadline = time.monotonic() + timeout
        for child in self.children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(max(1.0, deadline - time.monotonic()))
        return [child.returncode for child in self.children]

    def kill_all(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.kill()
                child.wait()

    def output(self, index: int) -> str:
        return (self.directory / f"session-{index}.log").read_text(errors="replace")

    def outputs(self, indexes: Sequence[int] | None = None) -> str:
        chosen = range(self.size) if indexes is None else indexes
        return "\n".join(f"--- session {i} ---\n{self.output(i)[-3000:]}" for i in chosen)


def owned_directories(pid: int) -> list[Path]:
    """Workspace directories (in /tmp and /dev/shm) whose owner.pid names `pid`."""
    found = []
    for base in (Path("/tmp"), Path("/dev/shm")):
        for directory in base.glob("boxkoji-*"):
            with contextlib.suppress(OSError):
                if (directory / "owner.pid").read_text().strip() == str(pid):
                    found.append(directory)
    return found


def processes_of(pid: int, directories: Sequence[Path]) -> list[int]:
    """Live processes of the session whose pytest had `pid`: carrying its marker (`pid-id`) or
    naming one of its directories (PostgreSQL rewrites its environment, not its -D)."""
    from pytest_boxkoji.runtimes.processes import SESSION_MARKER

    names = [str(d) for d in directories]
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            environ = proc.environ()
            text = " ".join(proc.cmdline()) + " " + " ".join(environ.values())
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if environ.get(SESSION_MARKER, "").startswith(f"{pid}-") or any(n in text for n in names):
            found.append(proc.pid)
    return found


def containers_of(pid: int) -> list[str]:
    """Containers and networks whose session label starts with the session's pid."""
    from pytest_boxkoji.runtimes.containers import LABEL, listed, probe

    client, problem = probe()
    assert client is not None, problem
    mine = f"{pid}-"
    found = [c.name for c in listed(client, LABEL) if c.labels.get(LABEL, "").startswith(mine)]
    found += [
        n.name
        for n in client.networks.list(filters={"label": LABEL})
        if (n.attrs.get("Labels") or {}).get(LABEL, "").startswith(mine)
    ]
    return found


def port_claims(pid: int) -> list[int]:
    """Ports the machine's port registry (ports.py) still reserves for `pid`."""
    from pytest_boxkoji import ports

    try:
        claims: dict[str, int] = json.loads(ports._registry().read_text())
    except (OSError, ValueError):
        return []
    return sorted(int(port) for port, owner in claims.items() if owner == pid)


def leftovers(pid: int, directories: Sequence[Path], runtime: str) -> dict[str, list[Any]]:
    """Everything of a session that is still there: the test asserts this empties."""
    left: dict[str, list[Any]] = {
        "port claims": port_claims(pid),
        "directories": [str(d) for d in directories if d.exists()] + [str(d) for d in owned_directories(pid)],
        "processes": processes_of(pid, directories),
    }
    if runtime == "containers":
        left["containers and networks"] = containers_of(pid)
    return {kind: sorted(set(found)) for kind, found in left.items() if found}


def standing(record: dict[str, Any]) -> dict[str, list[Any]]:
    """What of a session's record still stands: its processes, directories and containers (by
    name, one listing)."""
    found: dict[str, list[Any]] = {
        "processes": [pid for pid in record["pids"] if psutil.pid_exists(pid)],
        "directories": [d for d in record["directories"] if Path(d).exists()],
        "containers": [],
    }
    if record["resources"]:
        from pytest_boxkoji.runtimes.containers import LABEL, probe

        client, problem = probe()
        assert client is not None, problem
        names = {c["Names"][0].lstrip("/") for c in client.api.containers(all=True, filters={"label": LABEL})}
        found["containers"] = [name for name in record["resources"] if name in names]
    return found


def tree_memory(pids: Sequence[int]) -> int:
    """Bytes the processes and their descendants use: PSS where the kernel gives it (shared pages
    split between their users, so PostgreSQL's shared buffers count once), else RSS."""
    seen: set[int] = set()
    total = 0
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                if proc.pid in seen:
                    continue
                seen.add(proc.pid)
                with contextlib.suppress(psutil.Error):
                    try:
                        total += proc.memory_full_info().pss
                    except (AttributeError, psutil.AccessDenied):
                        total += proc.memory_info().rss
    return total


def kill_later(crowd: Crowd, index: int, delay: float) -> None:
    """SIGKILL session `index` `delay` seconds after the barrier (mid start-up)."""
    time.sleep(max(0.0, crowd.went + delay - time.time()))
    with contextlib.suppress(ProcessLookupError):
        os.kill(crowd.children[index].pid, signal.SIGKILL)
