"""Free TCP ports on 127.0.0.1 that no other boxkoji session on this machine has claimed.

The kernel may hand the same just-released port to two sessions that ask at the same moment;
a small registry under a file lock, keyed by the claiming process, rules that out.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import psutil
from filelock import FileLock


def _registry() -> Path:
    # One registry per machine, in /tmp so that every user's sessions see it.
    return Path("/tmp") / f"pytest-boxkoji-ports-{os.getuid()}.json"


def _bind_free() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
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
        ports: list[int] = []
        while len(ports) < count:
            port = _bind_free()
            if str(port) not in claims and port not in ports:
                ports.append(port)
        claims.update({str(port): os.getpid() for port in ports})
        path.write_text(json.dumps(claims))
    return ports
