"""The one wait loop of both runtimes: ready, exited, or out of time, with the logs."""

from __future__ import annotations

import time
from collections.abc import Callable

from pytest_boxkoji.errors import ServiceStartError
from pytest_boxkoji.services import Service

POLL = 0.05


def wait_ready(service: Service, exited: Callable[[], str | None], logs: Callable[[], str]) -> None:
    """Return once `service.ready` passes. `exited()` says how the service ended, or None while
    it runs: a service that ends while starting has failed, whatever its exit code."""
    deadline = time.monotonic() + service.deadline
    last = ""
    while True:
        ended = exited()
        if ended is not None:
            raise ServiceStartError(
                f"{service.name} {ended} while starting: {' '.join(service.command)}\n{logs()}"
            )
        try:
            if service.ready():
                return
            last = "not yet"
        except Exception as exc:  # probes fail in many ways until the service is up
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            raise ServiceStartError(
                f"{service.name} was not ready within {service.deadline:.0f} s "
                f"(check: {service.ready}; last answer: {last}).\n{logs()}"
            )
        time.sleep(POLL)
