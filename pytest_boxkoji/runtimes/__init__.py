"""How services are started: local processes (mirakuru) or, later, containers."""

from __future__ import annotations

from typing import Protocol

from pytest_boxkoji.services import Service


class Runtime(Protocol):
    """The small interface both runtimes implement."""

    name: str

    def start(self, service: Service) -> None:
        """Start the service and return once its readiness check passes."""

    def stop(self, service: Service) -> None:
        """Stop the service (SIGTERM first); never raises for a service already gone."""

    def alive(self, service: Service) -> bool:
        """The service's process (or container) is still running."""

    def kill(self, service: Service) -> None:
        """Kill the service abruptly (to test what happens when one dies)."""

    def logs(self, service: Service) -> str:
        """The last lines of what the service wrote, for error messages."""

    def pids(self) -> list[int]:
        """Process ids of everything this runtime started and is still running."""
