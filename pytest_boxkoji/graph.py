"""The service graph: parts that say what they require, started when asked for, in dependency
order and in parallel where nothing orders them, and stopped in reverse.

A part is one piece of the environment (Koji's source, the KDC, PostgreSQL, the hub...): its
module under services/ (or parts.py) declares `PART = Part(KEY, requires, start, ...)`;
`start(context)` builds it and returns its handle (a Realm, a Cluster, ...). Services it runs go
through `context.start_service`, so that the graph can stop them in reverse. A part's facets
(record, restore, urls, health) let the environment, the record and the proxy loop over parts
instead of naming them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from pytest_boxkoji import progress
from pytest_boxkoji.errors import BoxKojiError
from pytest_boxkoji.partkey import Key
from pytest_boxkoji.services import Service

if TYPE_CHECKING:
    from pytest_boxkoji.config import BoxKojiConfig
    from pytest_boxkoji.runtimes import Runtime
    from pytest_boxkoji.runtimes.tools import Endpoint
    from pytest_boxkoji.workspace import Workspace


H = TypeVar("H")


@dataclass(frozen=True)
class Part(Generic[H]):
    """One piece of the environment and everything about it, written beside its start function:
    what it requires (started first) and uses (read when already running, never started for it),
    how its handle is recorded for another process and restored there (box.py, attach.py), the
    URLs it adds to `boxkoji.urls`, and what /health probes of it."""

    key: Key[H]
    requires: tuple[Key[Any], ...]
    start: Callable[[Context], H]
    uses: tuple[Key[Any], ...] = ()
    record: Callable[[H, Recording], Any] | None = None  # -> JSON
    restore: Callable[[Restoring, Any], H] | None = None
    urls: Callable[[H], dict[str, str]] | None = None
    health: Callable[[H], list[dict[str, object]]] | None = None

    @property
    def name(self) -> str:
        return self.key.name


class _Reads:
    """What a part may read of the others: what it declared, nothing else (a part that reads an
    undeclared part works only by the luck of what else was started, so it is an error)."""

    part: Part[Any]
    handles: Mapping[str, Any]

    def get(self, key: Key[H]) -> H:
        """A required part's handle."""
        if key not in self.part.requires:
            how = "only uses it (read it with running()), or" if key in self.part.uses else "reads it"
            raise BoxKojiError(
                f"part {self.part.name!r} reads part {key.name!r} as a requirement without declaring "
                f"it: it {how} add it to the part's requires"
            )
        return cast(H, self.handles[key.name])

    def running(self, key: Key[H]) -> H | None:
        """A used part's handle when it runs, else None."""
        if key not in self.part.uses and key not in self.part.requires:
            raise BoxKojiError(
                f"part {self.part.name!r} reads part {key.name!r} without declaring it: add it to "
                "the part's uses"
            )
        return cast(H | None, self.handles.get(key.name))


class _Watches:
    """What the proxy's /health needs of every part, through their facets only."""

    graph: Graph

    def started(self) -> list[tuple[Part[Any], Any]]:
        """Every started part and its handle (to loop over their facets)."""
        return self.graph.started()

    def when_started(self, hook: Callable[[Part[Any], Any], None]) -> None:
        """`hook(part, handle)` for every part that starts from now on."""
        self.graph.when_started(hook)


@dataclass(frozen=True)
class Context(_Reads, _Watches):
    """What a part's start function gets: the environment's settings and the handles it declared."""

    config: BoxKojiConfig
    runtime: Runtime
    workspace: Workspace
    part: Part[Any]
    handles: Mapping[str, Any]
    graph: Graph

    def start_service(self, service: Service) -> None:
        """Start one of the part's services; the graph stops it with the others, in reverse."""
        self.graph.start_service(service)


@dataclass(frozen=True)
class Recording:
    """What a part's record function gets besides its handle: the services that run for it."""

    services: Mapping[str, Service]

    def env_of(self, name: str) -> dict[str, str]:
        """The environment the part gave its service `name` (a restart in a new container needs
        all of it)."""
        service = self.services.get(name)
        return dict(service.env) if service is not None else {}


@dataclass(frozen=True)
class Restoring(_Reads, _Watches):
    """What a part's restore function gets: the handles restored before it, and `adopt` for each
    of its services, which another process started and left running."""

    config: BoxKojiConfig
    runtime: Runtime
    workspace: Workspace
    part: Part[Any]
    handles: Mapping[str, Any]
    refs: Mapping[str, str]  # service name -> its ref in the runtime (box.BoxRecord.refs)
    credentials: Sequence[Mapping[str, Any]]  # the orch's inventory as recorded
    adopted: dict[str, Service]
    graph: Graph

    def adopt(self, service: Service, endpoints: Sequence[Endpoint] = ()) -> Service:
        self.runtime.adopt(service, self.refs.get(service.name, "0/0"), endpoints)
        self.adopted[service.name] = service
        return service


class Graph:
    def __init__(
        self, parts: Iterable[Part[Any]], config: BoxKojiConfig, runtime: Runtime, workspace: Workspace
    ):
        self.parts = {part.name: part for part in parts}
        for part in self.parts.values():
            unknown = [r.name for r in (*part.requires, *part.uses) if r.name not in self.parts]
            if unknown:
                raise BoxKojiError(f"part {part.name!r} requires {unknown}, which no part provides")
        self.config, self.runtime, self.workspace = config, runtime, workspace
        self.handles: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self.services: list[Service] = []  # in the order they became ready
        self.parallel = True  # False: one part at a time (benchmarks/startup.py --sequential)
        self._lock = threading.RLock()  # one start-up at a time
        self._services_lock = threading.Lock()
        self._started_hooks: list[Callable[[Part[Any], Any], None]] = []

    def get(self, key: Key[H]) -> H:
        """The part's handle, starting it and whatever it requires first."""
        with self._lock:
            if key.name not in self.handles:
                self._start(self.closure(key.name))
            return cast(H, self.handles[key.name])

    def running(self, key: Key[H]) -> H | None:
        """The part's handle if it has started, else None (nothing is started)."""
        return cast(H | None, self.handles.get(key.name))

    def when_started(self, hook: Callable[[Part[Any], Any], None]) -> None:
        """Call `hook(part, handle)` for every part that starts from now on (the proxy's /health
        learns of a service started after it)."""
        self._started_hooks.append(hook)

    def started(self) -> list[tuple[Part[Any], Any]]:
        """The started parts and their handles, in the order the parts are declared."""
        return [(part, self.handles[name]) for name, part in self.parts.items() if name in self.handles]

    def record(self, services: Mapping[str, Service]) -> dict[str, Any]:
        """What each started part that can be recorded is made of, as JSON (box.py)."""
        recording = Recording(services)
        return {part.name: part.record(handle, recording) for part, handle in self.started() if part.record}

    def restore(
        self,
        recorded: Mapping[str, Any],
        refs: Mapping[str, str],
        credentials: Sequence[Mapping[str, Any]] = (),
    ) -> dict[str, Service]:
        """The handles of another process's parts back from their record (attach.py), in the
        order the parts are declared; their services adopted, not started. The services, by name."""
        adopted: dict[str, Service] = {}
        for name, part in self.parts.items():
            if name not in recorded or part.restore is None:
                continue
            restoring = Restoring(
                self.config,
                self.runtime,
                self.workspace,
                part,
                self.handles,
                refs,
                credentials,
                adopted,
                self,
            )
            self.handles[name] = part.restore(restoring, recorded[name])
        return adopted

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
                visit(requirement.name)
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
                ready = [n for n in todo if all(r.name in self.handles for r in self.parts[n].requires)]
                for name in ready:
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
                        for hook in self._started_hooks:
                            hook(self.parts[name], self.handles[name])
                if failures:
                    todo.clear()  # start nothing new; let what runs finish, so it can be stopped
        if failures:
            raise failures[0]

    def _start_one(self, name: str) -> Any:
        part = self.parts[name]
        context = Context(self.config, self.runtime, self.workspace, part, dict(self.handles), self)
        started = time.perf_counter()
        with progress.phase(f"starting {name}"):
            handle = part.start(context)
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
