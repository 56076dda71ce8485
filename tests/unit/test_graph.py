"""The service graph against a fake runtime: order, parallel start, failure half-way, reverse stop."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from pytest_boxkoji.config import BoxKojiConfig
from pytest_boxkoji.errors import BoxKojiError
from pytest_boxkoji.graph import Context, Graph, Key, Part
from pytest_boxkoji.services import Check, Service


class FakeRuntime:
    """Records what it is asked to do; starts nothing."""

    name = "fake"
    own_filesystem = False

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.running: set[str] = set()
        self._lock = threading.Lock()

    def start(self, service: Service) -> None:
        with self._lock:
            self.events.append(("start", service.name))
            self.running.add(service.name)

    def stop(self, service: Service) -> None:
        with self._lock:
            self.events.append(("stop", service.name))
            self.running.discard(service.name)


def service(name: str) -> Service:
    return Service(name, ["true"], Check("always", lambda: True), Path("/dev/null"))


def part(name: str, requires: tuple[str, ...] = (), before=None, uses: tuple[str, ...] = ()) -> Part:
    """A part that runs `before(context)` (if given), then its one service."""

    def start(context: Context) -> str:
        for requirement in requires:  # every requirement's handle is there
            assert context.get(Key(requirement)) == f"{requirement}-handle"
        if before is not None:
            before(context)
        context.start_service(service(name))
        return f"{name}-handle"

    return Part(Key(name), tuple(Key(r) for r in requires), start, uses=tuple(Key(u) for u in uses))


def graph(*parts: Part) -> tuple[Graph, FakeRuntime]:
    runtime = FakeRuntime()
    return Graph(parts, BoxKojiConfig(), runtime, workspace=None), runtime  # type: ignore[arg-type]


def starts(runtime: FakeRuntime) -> list[str]:
    return [name for event, name in runtime.events if event == "start"]


def test_requirements_start_first_and_handles_come_back():
    g, runtime = graph(part("hub", ("db", "kdc")), part("db"), part("kdc"), part("web", ("hub",)))
    assert g.get(Key("hub")) == "hub-handle"
    order = starts(runtime)
    assert set(order) == {"db", "kdc", "hub"}  # not web: nobody asked for it
    assert order[-1] == "hub"
    assert g.handles == {"db": "db-handle", "kdc": "kdc-handle", "hub": "hub-handle"}
    assert set(g.timings) == {"db", "kdc", "hub"}


def test_a_part_starts_once():
    g, runtime = graph(part("db"), part("hub", ("db",)))
    g.get(Key("db"))
    g.get(Key("hub"))
    g.get(Key("hub"))
    assert starts(runtime) == ["db", "hub"]


def test_parts_that_do_not_require_each_other_start_in_parallel():
    # Both must be inside their start at the same time, or the barrier breaks.
    together = threading.Barrier(2, timeout=10)
    g, runtime = graph(
        part("kdc", before=lambda _: together.wait()),
        part("db", before=lambda _: together.wait()),
        part("hub", ("kdc", "db")),
    )
    g.get(Key("hub"))
    assert starts(runtime)[-1] == "hub"


def test_a_failure_half_way_starts_nothing_that_needs_it_and_stop_stops_what_started():
    db_started = threading.Event()

    def broken(_: Context) -> None:
        assert db_started.wait(10)  # fail only once the other branch has started its service
        raise BoxKojiError("kdc: broken on purpose")

    g, runtime = graph(
        part("kdc", before=broken),
        part("db", before=lambda _: None),
        part("orch", ("kdc",)),
        part("hub", ("orch", "db")),
    )
    original = runtime.start

    def start(svc: Service) -> None:
        original(svc)
        if svc.name == "db":
            db_started.set()

    runtime.start = start  # type: ignore[method-assign]
    with pytest.raises(BoxKojiError, match="kdc: broken on purpose"):
        g.get(Key("hub"))
    assert starts(runtime) == ["db"]
    assert "hub" not in g.handles and "orch" not in g.handles
    assert g.stop() == []
    assert runtime.running == set()


def test_stop_is_the_reverse_of_start():
    g, runtime = graph(part("kdc"), part("orch", ("kdc",)), part("db"), part("hub", ("orch", "db")))
    g.get(Key("hub"))
    extra = service("builder1")
    g.start_service(extra)  # started later, outside the graph: stopped first
    started = starts(runtime)
    g.stop()
    stopped = [name for event, name in runtime.events if event == "stop"]
    assert stopped == list(reversed(started))
    assert stopped[0] == "builder1"


def test_stop_goes_on_after_a_service_that_will_not_stop():
    g, runtime = graph(part("kdc"), part("db", ("kdc",)))
    g.get(Key("db"))

    def stop(svc: Service) -> None:
        runtime.events.append(("stop", svc.name))
        if svc.name == "db":
            raise OSError("db will not stop")

    runtime.stop = stop  # type: ignore[method-assign]
    problems = g.stop()
    assert [(name, str(exc)) for name, exc in problems] == [("db", "db will not stop")]
    assert [n for e, n in runtime.events if e == "stop"] == ["db", "kdc"]


def test_unknown_requirement_and_cycles_are_errors_that_name_them():
    with pytest.raises(BoxKojiError, match=r"part 'hub' requires \['db'\], which no part provides"):
        graph(part("hub", ("db",)))
    g, _ = graph(part("a", ("b",)), part("b", ("c",)), part("c", ("a",)))
    with pytest.raises(BoxKojiError, match="in a cycle: a -> b -> c -> a"):
        g.get(Key("a"))
    with pytest.raises(BoxKojiError, match="no part is called 'nginx'; there are a, b, c"):
        g.get(Key("nginx"))


def test_the_plugins_parts_form_a_graph():
    from pytest_boxkoji import parts

    g, _ = graph(*parts.PARTS)
    assert g.closure("hub")[-1] == "hub"
    assert set(g.closure("hub")) == {
        "source",
        "python",
        "coverage",
        "kdc",
        "orch",
        "postgres",
        "hub-credentials",
        "hub",
    }
    assert g.closure("proxy")[-3:] == ["hub", "web", "proxy"]
    assert g.closure("kdc") == ["kdc"]  # the KDC waits for nothing


def test_a_part_that_reads_a_part_it_did_not_declare_fails():
    # The web reads the proxy it does not declare: it would work only when something else had
    # started the proxy first. The graph refuses it whatever else runs.
    def reads_proxy(context: Context) -> None:
        context.get(Key("proxy"))

    g, _ = graph(part("proxy"), part("web", before=reads_proxy))
    g.get(Key("proxy"))  # running, but not declared
    with pytest.raises(BoxKojiError, match="part .web. reads part .proxy. .*without declaring it.*requires"):
        g.get(Key("web"))


def test_a_used_part_is_read_when_it_runs_and_never_started_for_it():
    seen = []
    g, runtime = graph(
        part("proxy"), part("broker", before=lambda c: seen.append(c.running(Key("proxy"))), uses=("proxy",))
    )
    g.get(Key("broker"))
    assert seen == [None] and "proxy" not in starts(runtime)
    # A used part is no requirement: reading it as one says so.
    g2, _ = graph(part("proxy"), part("broker", before=lambda c: c.get(Key("proxy")), uses=("proxy",)))
    with pytest.raises(BoxKojiError, match="add it to the part's requires"):
        g2.get(Key("broker"))


def test_record_and_restore_go_through_each_parts_facets():
    from pytest_boxkoji.graph import Restoring

    def restore(restoring: Restoring, data):
        restoring.adopt(service(data["name"]))
        return f"{data['name']}-restored"

    recorded_part = Part(
        Key("db"),
        (),
        lambda c: (c.start_service(service("db")), "db-handle")[1],
        record=lambda handle, recording: {"name": "db", "env": recording.env_of("db")},
        restore=restore,
    )
    g, _ = graph(recorded_part, part("kdc"))
    g.get(Key("db"))
    g.get(Key("kdc"))
    record = g.record({s.name: s for s in g.services})
    assert record == {"db": {"name": "db", "env": {}}}  # kdc has no record facet

    class Adopting(FakeRuntime):
        def adopt(self, svc, ref, endpoints=()):
            self.events.append(("adopt", f"{svc.name}@{ref}"))

    runtime = Adopting()
    other = Graph([recorded_part, part("kdc")], BoxKojiConfig(), runtime, workspace=None)  # type: ignore[arg-type]
    adopted = other.restore(record, {"db": "1234/5"})
    assert other.running(Key("db")) == "db-restored" and other.running(Key("kdc")) is None
    assert runtime.events == [("adopt", "db@1234/5")] and list(adopted) == ["db"]
