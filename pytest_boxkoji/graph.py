"""The service graph: parts that say what they require, started when asked for, in dependency
order and in parallel where nothing orders them, and stopped in reverse.

A part is one piece of the environment (Koji's source, the KDC, PostgreSQL, the hub...): its
module under services/ (or kojisrc, servicespy, orch) declares `PART = Part(name, requires,
start)`; `start(context)` builds it and returns its handle (a Realm, a Cluster, ...). Services
it runs go through `context.start_service`, so that the graph can stop them in reverse.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_boxkoji import progress
from pytest_boxkoji.errors import BoxKojiError
from pytest_boxkoji.services import Service

if TYPE_CHECKING:
    from pytest_boxkoji.config import BoxKojiConfig
    from pytest_boxkoji.runtimes import Runtime
    from pytest_boxkoji.workspace import Workspace


@dataclass(frozen=True)
class Part:
    name: str
    requires: tuple[str, ...]
    start: Callable[[Context], Any]


@dataclass(frozen=True)
class Context:
    """What a part's start function gets: the environment's settings and its requirements."""

    config: BoxKojiConfig
    runtime: Runtime
    workspace: Workspace
    parts: Mapping[str, Any]  # the handles of started parts: every requirement is there
    start_service: Callable[[Service], None]


class Graph:
    def __init__(self, parts: Iterable[Part], config: BoxKojiConfig, runtime: Runtime, workspace: Workspace):
        self.parts = {part.name: part for part in parts}
        for part in self.parts.values():
            unknown = [r for r in part.requires if r not in self.parts]
            if unknown:
                raise BoxKojiError(f"part {part.name!r} requires {unknown}, which no part provides")
        self.config, self.runtime, self.workspace = config, runtime, workspace
        self.handles: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self.services: list[Service] = []  # in the order they became ready
        self.parallel = True  # False: one part at a time (benchmarks/startup.py --sequential)
        self._lock = threading.RLock()  # one start-up at a time
        self._services_lock = threading.Lock()

    def get(self, name: str) -> Any:
        """The part's handle, starting it and whatever it requires first."""
        with self._lock:
            if name not in self.handles:
                self._start(self.closure(name))
            return self.handles[name]

    def closure(self, name: str) -> list[str]:
        """`name` and everything it requires, requirements first (a cycle is an error)."""
        order: list[str] = []
        visiting: list[str] = []

        def visit(current: str) -> None:
            if current in order:
                return
            if current in visiting:
                cycle = " -> ".join([*visiting[visiting.index(current) :], current])
                raise BoxKojiError(f"the parts require each other in a cycle: {cycle}")
            if current not in self.parts:
                raise BoxKojiError(f"no part is called {current!r}; there are {', '.join(self.parts)}")
            visiting.append(current)
            for requirement in self.parts[current].requires:
                visit(requirement)
            visiting.pop()
            order.append(current)

        visit(name)
        return order

    def _start(self, names: list[str]) -> None:
        todo = [n for n in names if n not in self.handles]
        running: dict[Future[Any], str] = {}
        failures: list[BaseException] = []
        workers = max(1, len(todo)) if self.parallel else 1
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="boxkoji") as pool:
            while todo or running:
                for name in [n for n in todo if all(r in self.handles for r in self.parts[n].requires)]:
                    todo.remove(name)
                    running[pool.submit(self._start_one, name)] = name
                if not running:  # what is left requires something that failed
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    name = running.pop(future)
                    error = future.exception()
                    if error is not None:
                        failures.append(error)
                    else:
                        self.handles[name] = future.result()
                if failures:
                    todo.clear()  # start nothing new; let what runs finish, so it can be stopped
        if failures:
            raise failures[0]

    def _start_one(self, name: str) -> Any:
        context = Context(self.config, self.runtime, self.workspace, dict(self.handles), self.start_service)
        started = time.perf_counter()
        with progress.phase(f"starting {name}"):
            handle = self.parts[name].start(context)
        self.timings[name] = time.perf_counter() - started
        return handle

    def start_service(self, service: Service) -> None:
        """Start one more service; it is stopped with the graph (or by stop_service)."""
        self.runtime.start(service)
        with self._services_lock:
            self.services.append(service)

    def stop_service(self, service: Service) -> None:
        self.runtime.stop(service)
        with self._services_lock:
            if service in self.services:
                self.services.remove(service)

    def stop(self) -> list[tuple[str, Exception]]:
        """Stop every service in reverse order; the problems, without stopping at the first."""
        problems = []
        with self._lock, self._services_lock:
            for service in reversed(self.services):
                try:
                    self.runtime.stop(service)
                except Exception as exc:
                    problems.append((service.name, exc))
            self.services.clear()
        return problems
