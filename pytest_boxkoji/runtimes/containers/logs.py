"""A container's log, read from a position (the engine's timestamps) for a test's report."""

from __future__ import annotations

import re
import shutil
import time
from datetime import datetime
from typing import Any


class ContainerLog:
    """A container's log: positions are times. The engine runs on this machine (a local socket),
    so its timestamps and this process's clock agree."""

    label = "container log"

    def __init__(self, container: Any) -> None:
        self.container = container

    @property
    def key(self) -> str:
        return str(self.container.id)

    @property
    def where(self) -> str:
        cli = "docker" if shutil.which("docker") else "podman"
        return f"`{cli} logs {self.container.name}`"

    def position(self) -> float:
        return time.time()

    def since(self, position: float | None) -> str:
        options: dict[str, Any] = {"timestamps": True}
        if position:
            options["since"] = max(1, int(position) - 1)  # whole seconds; the timestamps say the rest
        try:
            raw = self.container.logs(**options).decode(errors="replace")
        except Exception:  # removed meanwhile (a restart makes a new container)
            return ""
        lines = []
        for line in raw.splitlines():
            stamp, _, text = line.partition(" ")
            when = _written(stamp)
            if when is None:  # not a timestamp after all: keep the line whole
                lines.append(line)
            elif position is None or when >= position:
                lines.append(text)
        return "\n".join(lines)


_STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$")


def _written(stamp: str) -> float | None:
    """The latest moment a line stamped `stamp` (RFC 3339: Z or an offset, nanoseconds from
    Docker, whole seconds from Podman) may have been written, in seconds since the epoch."""
    found = _STAMP.match(stamp)
    if found is None:
        return None
    main, fraction, zone = found.groups()
    zone = "+00:00" if zone in (None, "Z") else zone
    whole = datetime.fromisoformat(main + zone).timestamp()
    return whole + float(f"0{fraction}") if fraction else whole + 0.999999
