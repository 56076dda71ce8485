"""Free TCP ports on 127.0.0.1 that no other boxkoji session on this machine has claimed.

Two races, two guards:
- Two sessions asking at the same moment could both find the same port free: a small registry
  under a file lock, keyed by the claiming process, hands each port to one session only.
- Between the claim and the service binding it, any program's outgoing connection may take the
  port, when it is in the kernel's ephemeral range (ip_local_port_range, where `connect()` and
  `bind(port 0)` pick from): with many sessions each making connections at once this happens. So
  ports are drawn at random from below that range, where the kernel never hands a port out by
  itself, and checked free by binding them.
A port can be free to bind and still not ours: a firewall rule may send 127.0.0.1:PORT elsewhere
(a container engine's port forward, or one it leaked for a container long gone). So a claimed port
is also one that refuses a connection, as a port nobody listens on does.
"""

from __future__ import annotations

import json
import os
import random
import socket
from pathlib import Path

import psutil
from filelock import FileLock

EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = 20000  # below: ports people give their own services (5432, 8080, 9090, ...)
_random = random.SystemRandom()


def _registry() -> Path:
    # One registry per machine, in /tmp so that every user's sessions see it.
    return Path("/tmp") / f"pytest-boxkoji-ports-{os.getuid()}.json"


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range for ports it picks itself (Linux's default 32768-60999)."""
    try:
        low, high = (int(n) for n in EPHEMERAL.read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _refused(port: int) -> bool:
    """A connection to the port is refused at once: nothing listens and nothing redirects it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        try:
            sock.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
        except OSError:  # unreachable, timed out: a forward to an address nobody has
            return False
    return False  # something answered


def _usable(port: int) -> bool:
    return _bindable(port) and _refused(port)


def _bind_free() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _free(taken: set[int]) -> int:
    """A port nobody listens on and the kernel does not hand out by itself, not in `taken`."""
    low, _ = ephemeral_range()
    if low - LOWEST >= 1000:
        for _attempt in range(1000):
            port = _random.randrange(LOWEST, low)
            if port not in taken and _usable(port):
                return port
    # A machine whose ephemeral range leaves no room below it: the kernel's choice, as before.
    while True:
        port = _bind_free()
        if port not in taken and _refused(port):
            return port


def claim(count: int = 1) -> list[int]:
    """Claim `count` free ports for this process; claims end when the process does."""
    path = _registry()
    with FileLock(str(path) + ".lock"):
        try:
            claims: dict[str, int] = json.loads(path.read_text())
        except (OSError, ValueError):
            claims = {}
        claims = {port: pid for port, pid in claims.items() if psutil.pid_exists(pid)}
        taken = {int(port) for port in claims}
        ports: list[int] = []
        while len(ports) < count:
            port = _free(taken)
            taken.add(port)
            ports.append(port)
        claims.update({str(port): os.getpid() for port in ports})
        # Replaced whole: a claimer killed while writing (SIGKILL mid start-up) must not leave a
        # cut file, which the next claimer would read as "no claims" and hand live ports out again.
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(claims))
        temporary.replace(path)
    return ports
