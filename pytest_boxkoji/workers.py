"""Builders (kojid) and kojira for an environment: registration, scaling, readiness.

Every snapshot of the hub's state starts from the empty state, so the builders must be part of
it: their hosts and sessions are written into it ("rebase"). A builder added during a test is
registered at once; at the next restore the empty state is rebased and that builder restarted,
because its session only existed in the state the test left behind.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import koji

from pytest_boxkoji import hostprogs, progress
from pytest_boxkoji.accounts import ADMIN
from pytest_boxkoji.builds import capability
from pytest_boxkoji.coverage.data import COVERAGE
from pytest_boxkoji.errors import BoxKojiError, ServiceStartError
from pytest_boxkoji.kojisrc import SOURCE
from pytest_boxkoji.orch import ORCH
from pytest_boxkoji.services import Check, Service
from pytest_boxkoji.services import builders as builder_services
from pytest_boxkoji.services.hub import HUB
from pytest_boxkoji.services.kdc import KDC
from pytest_boxkoji.services.postgres import POSTGRES
from pytest_boxkoji.servicespy import PYTHON, interpreter_says

if TYPE_CHECKING:
    from pytest_boxkoji.accounts import Accounts
    from pytest_boxkoji.graph import Graph
    from pytest_boxkoji.scenario.hubstate import HubState

log = logging.getLogger(__name__)
KOJIRA = "kojira"
DEFAULT_CHANNELS = ("default", "createrepo")
# A task a host holds: assigned to it by Koji's scheduler (not taken yet), or running on it.
HELD = [koji.TASK_STATES["ASSIGNED"], koji.TASK_STATES["OPEN"]]


class Builder:
    """One kojid: its host name, arches, channels and service; `builds=False`: a host without
    mock even where the others have it (a farm's createrepo-only hosts)."""

    def __init__(
        self,
        name: str,
        arches: Sequence[str],
        channels: Sequence[str],
        capacity: float | None,
        builds: bool = True,
    ) -> None:
        self.name = name
        self.arches = tuple(arches)
        self.channels = tuple(channels)
        self.capacity = capacity
        self.builds = builds
        self.service: Service | None = None


class Workers:
    """The environment's kojid builders and kojira."""

    def __init__(
        self, graph: Graph, accounts: Accounts, change_empty_state: Callable[[Callable[[], None]], None]
    ) -> None:
        self.graph = graph  # the hub, orch, KDC and PostgreSQL, and where services start
        self.runtime = graph.runtime
        self.accounts = accounts
        self.change_empty_state = change_empty_state
        self.builders: dict[str, Builder] = {}
        self.removed: set[str] = set()  # hosts whose kojid stopped; disabled on the hub
        self.synced: set[str] = set()  # builders whose host and session the empty state has
        self.kojira: Service | None = None
        self._count = 0
        self._lock = threading.RLock()
        self._autoscaler: threading.Thread | None = None
        self._stop_autoscale = threading.Event()
        self._local = threading.local()  # the autoscaler's thread has its own hub session
        self._builds: capability.Builds | None = None

    @property
    def builds(self) -> capability.Builds:
        """Whether the builders build in mock (decided, and mock installed, once)."""
        if self._builds is None:
            self._builds = capability.decide(self.graph.config, self.runtime.own_filesystem, progress.say)
        return self._builds

    # -- what tests use --------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return list(self.builders)

    def __len__(self) -> int:
        return len(self.builders)

    def start(self, count: int) -> None:
        """The first `count` builders and kojira, made part of the empty state."""
        self.runtime.tools("builder", hostprogs.CREATEREPO)  # missing on this host: says how to fix
        if not self.runtime.own_filesystem:  # the builder image has them
            self._check_python()

        def change() -> None:
            self.ensure_kojira()
            self.scale(count)
            self.synced = set(self.builders)

        self.change_empty_state(change)

    def before_test(self, state: HubState) -> None:
        """Before each test's restore: a builder that died says so, with its log; builders
        that joined or left since are made part of the empty state."""
        self.check()
        if self.pending():
            state.rebase(self.settle)

    def scale(self, count: int, arches: Sequence[str] = ("x86_64",)) -> list[str]:
        """Run exactly `count` builders (new ones get `arches`); the names of all of them."""
        if count < 0:
            raise BoxKojiError(f"workers.scale({count}): the number of builders cannot be negative")
        with self._lock:
            while len(self.builders) < count:
                self.add(arches=arches)
            while len(self.builders) > count:
                self.remove(list(self.builders)[-1])
            return self.names

    def add(
        self,
        name: str | None = None,
        arches: Sequence[str] = ("x86_64",),
        channels: Sequence[str] = DEFAULT_CHANNELS,
        capacity: float | None = None,
        builds: bool = True,
    ) -> str:
        """Register a host on the hub, start its kojid, and return once the hub says it is ready.
        `builds=False`: this one has no mock, whatever the others have."""
        with self._lock:
            self.ensure_kojira()
            if name is None:
                self._count += 1
                name = f"worker{self._count}.koji.box"
                while name in self.builders:
                    self._count += 1
                    name = f"worker{self._count}.koji.box"
            if name in self.builders:
                raise BoxKojiError(f"workers.add({name!r}): a builder of that name is running")
            builder = Builder(name, arches, channels, capacity, builds)
            self._register(builder)
            self._start(builder)
            self.builders[name] = builder
            self.removed.discard(name)
            return name

    def remove(self, name: str) -> None:
        """Stop a builder's kojid and disable its host; its tasks go to the others."""
        with self._lock:
            builder = self.builders.pop(name)
            self._stop(builder)
            self.removed.add(name)
            self.synced.discard(name)
            session = self._session()
            session.disableHost(name)
            # Koji's scheduler would free them only after its AssignTimeout / HostTimeout (300 s
            # and more): a task assigned to the host just before it was stopped, or running on it.
            host = session.getHost(name)
            for task in session.listTasks(opts={"host_id": host["id"], "state": HELD}):
                session.freeTask(task["id"])

    def autoscale(
        self, maximum: int, minimum: int = 1, idle: float = 10.0, interval: float = 1.0
    ) -> Autoscaling:
        """Add builders while tasks wait (up to `maximum`), remove builders idle for `idle` s.

        Use it as a context manager (`with workers.autoscale(maximum=4): ...`) or call
        `stop_autoscale()`; it also stops with the environment.
        """
        self.stop_autoscale()
        self._stop_autoscale.clear()
        self._autoscaler = threading.Thread(
            target=self._autoscale,
            args=(maximum, minimum, idle, interval),
            name="boxkoji-autoscale",
            daemon=True,
        )
        self._autoscaler.start()
        return Autoscaling(self)

    def check(self) -> None:
        """Raise, with its log, for a builder (or kojira) whose process has died."""
        services = [b.service for b in self.builders.values() if b.service is not None]
        if self.kojira is not None:
            services.append(self.kojira)
        dead = self.runtime.dead(services)
        if dead:
            raise ServiceStartError(
                "\n".join(f"{service.name} has died.\n{self.runtime.logs(service)}" for service in dead)
            )

    def stop_autoscale(self) -> None:
        if self._autoscaler is not None:
            self._stop_autoscale.set()
            self._autoscaler.join(timeout=30)
            self._autoscaler = None

    # -- the hub and the processes ---------------------------------------------------------------

    def _session(self) -> koji.ClientSession:
        session: koji.ClientSession | None = getattr(self._local, "session", None)
        return session if session is not None else self.accounts.admin_session()

    def _register(self, builder: Builder) -> None:
        orch = self.graph.get(ORCH)
        principal = orch.realm.principal(f"compile/{builder.name}")
        s = self._session()
        info = s.getHost(builder.name)
        if info is None:
            s.addHost(builder.name, list(builder.arches), krb_principal=principal)
        else:
            s.editHost(builder.name, arches=" ".join(builder.arches))
            s.enableHost(builder.name)
        current = {c["name"] for c in s.listChannels(hostID=builder.name)}
        with s.multicall(strict=True) as m:
            for channel in set(builder.channels) - current:
                m.addHostToChannel(builder.name, channel, create=True)
            for channel in current - set(builder.channels):
                m.removeHostFromChannel(builder.name, channel)
            if builder.capacity is not None:
                m.editHost(builder.name, capacity=builder.capacity)

    def _daemon_settings(self, name: str, principal_name: str) -> builder_services.DaemonSettings:
        hub = self.graph.get(HUB).settings
        orch = self.graph.get(ORCH)
        cred = orch.checkout(principal_name, "keytab", holder=name, owner=self.graph.workspace.owner)
        assert cred.path is not None
        python = self.graph.get(PYTHON)
        directory = self.graph.workspace.directory / "builders" / name
        coverage = self.graph.get(COVERAGE)
        service = "kojira" if name == KOJIRA else "kojid"
        run_under: list[str] = []
        if coverage is not None and coverage.measures(service):  # --cov-workers
            directory.mkdir(parents=True, exist_ok=True)
            run_under = coverage.daemon_args(service, directory, self.graph.workspace.owner)
        return builder_services.DaemonSettings(
            name=name,
            directory=directory,
            hub_url=hub.service_url,
            files_url=hub.service_files_url,
            topdir=hub.topdir,
            ca=orch.ca_file,
            principal=cred.principal,
            keytab=cred.path,
            koji_src=hub.koji_src,
            koji_version=self.graph.get(SOURCE).version,
            python=python.python,
            run_under=tuple(run_under),
        )

    def _start(self, builder: Builder) -> None:
        # The box's buildroot repository (builds/buildroot.py), which a scenario may link later:
        # kojid reads it for the build tag's repo, mock's dnf for the buildroot, and a container
        # sees only what it was started with. Every builder, building or not (createrepo reads it).
        repos = self.graph.config.cache_dir / "buildroot"
        repos.mkdir(parents=True, exist_ok=True)
        self.runtime.mount(repos)
        service = self._service(builder)
        self.graph.start_service(service)
        builder.service = service

    def _service(self, builder: Builder, write: bool = True) -> Service:
        settings = self._daemon_settings(builder.name, f"compile/{builder.name}")
        service = builder_services.kojid(
            settings,
            self.graph.get(KDC).services_env,
            Check(f"the hub says host {builder.name} is ready", lambda: self._ready(builder.name)),
            mock=self.builds.mock if builder.builds else None,
            refusal=self.builds.reason
            if builder.builds
            else f"host {builder.name} was added with builds=False",
            in_image=self.runtime.own_filesystem,
            write=write,
        )
        if write and service.unprivileged:  # one that builds runs as root; its /etc layer must stay root's
            self.graph.workspace.chown(settings.directory)  # with the work and mock directories
        return service

    def recorded(self) -> list[dict[str, Any]]:
        """The builders that run, for the record (box.py); their services' refs are its refs."""
        builds = capability.recorded(self._builds) if self._builds else None
        return [
            {
                "name": b.name,
                "arches": list(b.arches),
                "channels": list(b.channels),
                "capacity": b.capacity,
                "builds": builds,
                "may_build": b.builds,
            }
            for b in self.builders.values()
            if b.service is not None and self.runtime.alive(b.service)
        ]

    def adopt(
        self, builders: Sequence[Builder], refs: dict[str, str], builds: capability.Builds | None = None
    ) -> None:
        """Take over the builders and kojira another process started (attach.py): their
        services are rebuilt (as they were started: `builds`) and handed to the runtime by ref,
        none is started and no file of theirs is written."""
        if builds is not None:
            self._builds = builds
        if KOJIRA in refs:
            self.kojira = self._kojira_service()
            self.runtime.adopt(self.kojira, refs[KOJIRA])
        for builder in builders:
            builder.service = self._service(builder, write=False)
            self.runtime.adopt(builder.service, refs.get(builder.service.name, "0/0"))
            self.builders[builder.name] = builder
        self._count = len(self.builders)
        self.synced = set(self.builders)

    def _ready(self, name: str) -> bool:
        """The hub says the host is ready: kojid logged in and reported in its loop."""
        info = self._session().getHost(name)
        return bool(info and info["ready"] and info["enabled"])

    def _stop(self, builder: Builder) -> None:
        if builder.service is not None:
            self.graph.stop_service(builder.service)
            builder.service = None

    def _check_python(self) -> None:
        """kojid imports Debian's dnf and librepo bindings through the services' virtualenv."""
        python = self.graph.get(PYTHON).python
        done = interpreter_says(python, "import dnf, librepo, rpm, multilib")
        if done.returncode != 0:
            raise BoxKojiError(
                f"kojid cannot run in the services' Python ({python}): "
                f"{done.stderr.strip().splitlines()[-1]}.\nTo fix this, install the system packages "
                "kojid imports: Debian/Ubuntu: apt-get install python3-dnf python3-librepo python3-rpm; "
                "Fedora/RHEL: dnf install python3-dnf python3-librepo python3-rpm. The services' "
                "virtualenv sees them (it is made with --system-site-packages)."
            )

    def ensure_kojira(self) -> None:
        """kojira: it turns repo requests into newRepo tasks (no kojira, no repos in Koji 1.35)."""
        if self.kojira is not None:
            return
        s = self._session()
        if s.getUser(KOJIRA) is None:
            principal = self.graph.get(ORCH).realm.principal(KOJIRA)
            s.createUser(KOJIRA, krb_principal=principal)
        if "repo" not in s.getUserPerms(KOJIRA):
            s.grantPermission(KOJIRA, "repo")
        service = self._kojira_service()
        self.graph.start_service(service)
        self.kojira = service

    def _kojira_service(self) -> Service:
        settings = self._daemon_settings(KOJIRA, KOJIRA)
        ready = Check("kojira holds a live session on the hub", self._kojira_logged_in)
        service = builder_services.kojira(settings, self.graph.get(KDC).services_env, ready)
        self.graph.workspace.chown(settings.directory)
        return service

    def _kojira_logged_in(self) -> bool:
        """kojira holds a live session on the hub."""
        conn = self.graph.get(POSTGRES).connect()
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT count(*) FROM sessions s JOIN users u ON s.user_id = u.id "
                    "WHERE u.name = %s AND NOT s.expired",
                    (KOJIRA,),
                )
                row = cur.fetchone()
                return bool(row and row[0])
        finally:
            conn.close()

    # -- keeping the empty state in step -----------------------------------------------------------

    def pending(self) -> bool:
        """The empty state lacks a builder that runs, or has one that stopped."""
        return set(self.builders) != self.synced or bool(self.removed)

    def settle(self) -> None:
        """Run on the restored empty state: register what it lacks, restart those kojids."""
        with self._lock:
            if self.kojira is not None and not self._kojira_logged_in():
                self.graph.stop_service(self.kojira)
                self.kojira = None
            self.ensure_kojira()
            s = self._session()
            for name in self.removed:
                if s.getHost(name) is not None:
                    s.disableHost(name)
            self.removed.clear()
            for name, builder in self.builders.items():
                if name not in self.synced:
                    self._stop(builder)
                    self._register(builder)
                    self._start(builder)
            self.synced = set(self.builders)

    def _autoscale(self, maximum: int, minimum: int, idle: float, interval: float) -> None:
        idle_since: dict[str, float] = {}
        while not self._stop_autoscale.wait(interval):
            try:
                if getattr(self._local, "session", None) is None:
                    self._local.session = self.accounts.session(ADMIN, "gssapi")
                s = self._local.session
                free = s.listTasks(opts={"state": [koji.TASK_STATES["FREE"]]})
                busy = {t["host_id"] for t in s.listTasks(opts={"state": HELD})}
                with self._lock:
                    if free and len(self.builders) < maximum:
                        self.add()
                        continue
                    now = time.monotonic()
                    for name in list(self.builders):
                        host = s.getHost(name)
                        if host and host["id"] in busy:
                            idle_since.pop(name, None)
                            continue
                        since = idle_since.setdefault(name, now)
                        if now - since >= idle and len(self.builders) > minimum and not free:
                            self.remove(name)
                            idle_since.pop(name, None)
                            break
            except Exception as exc:  # keep scaling; a test's restore can race one round
                log.warning("autoscale: %s", exc)
                self._local.session = None


class Autoscaling:
    """What `Workers.autoscale()` returns: leaving its `with` block stops the autoscaler."""

    def __init__(self, workers: Workers) -> None:
        self.workers = workers

    def __enter__(self) -> Workers:
        return self.workers

    def __exit__(self, *exc: object) -> None:
        self.workers.stop_autoscale()
