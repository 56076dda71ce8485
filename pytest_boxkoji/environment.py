"""The environment: a workspace, a runtime, the graph of parts started on demand, the hub's
accounts and state, and the builders; each in its own module (workspace.py, graph.py,
accounts.py, scenario/hubstate.py, workers.py). Fixtures are glue over this class; it can be
driven without pytest (see benchmarks/).
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import koji

from pytest_boxkoji import box, keep, parts
from pytest_boxkoji.accounts import ORDINARY_USER, Accounts
from pytest_boxkoji.clients import Auth, Via
from pytest_boxkoji.config import BoxKojiConfig
from pytest_boxkoji.coverage.data import COVERAGE, KojiCoverage, save_coverage
from pytest_boxkoji.graph import Graph
from pytest_boxkoji.kojisrc import SOURCE, KojiSource
from pytest_boxkoji.orch import ORCH, Orch
from pytest_boxkoji.runtimes import Runtime, choose_runtime
from pytest_boxkoji.scenario.hubstate import HubState
from pytest_boxkoji.scenario.state import ScenarioStates
from pytest_boxkoji.services import Service
from pytest_boxkoji.services.hub import HUB
from pytest_boxkoji.services.hub_config import HubConfig
from pytest_boxkoji.services.kdc import KDC, Realm
from pytest_boxkoji.services.postgres import POSTGRES, Cluster
from pytest_boxkoji.servicespy import PYTHON, ServicesPython
from pytest_boxkoji.workers import Workers
from pytest_boxkoji.workspace import Workspace

log = logging.getLogger(__name__)


class Environment:
    """One throwaway Koji environment in its own directory, on its own ports."""

    def __init__(
        self, config: BoxKojiConfig, workspace: Workspace | None = None, runtime: Runtime | None = None
    ) -> None:
        self.config = config
        # Given: a detached environment taken over by another process (attach.py).
        self.workspace = workspace or Workspace(config.service_user)
        self.runtime = runtime or choose_runtime(config, self.workspace.marker, self.workspace.directory)
        self.graph = Graph(parts.PARTS, config, self.runtime, self.workspace)
        self.accounts = Accounts(self.graph, lambda: dict(self.start_kdc().env))
        self._state: HubState | None = None
        self._scenarios: ScenarioStates | None = None
        self._workers: Workers | None = None
        self.coverage_target = config.rootdir / ".coverage-hub"  # --cov-hub/--cov-web data, kept

    def source(self) -> KojiSource:
        """Koji's server code (KojiSourceUnavailable when the default release cannot be had)."""
        return self.graph.get(SOURCE)

    def start_kdc(self) -> Realm:
        return self.graph.get(KDC)

    def start_orch(self) -> Orch:
        return self.graph.get(ORCH)

    def start_postgres(self) -> Cluster:
        return self.graph.get(POSTGRES)

    def services_python(self) -> ServicesPython:
        return self.graph.get(PYTHON)

    def start_hub(self) -> HubConfig:
        return self.graph.get(HUB).settings

    def start(self) -> Environment:
        """Everything a test of the hub needs: KDC, PostgreSQL, orch and the hub."""
        self.start_hub()
        return self

    @property
    def directory(self) -> Path:
        return self.workspace.directory

    @property
    def realm(self) -> Realm | None:
        return self.graph.running(KDC)

    @property
    def postgres(self) -> Cluster | None:
        return self.graph.running(POSTGRES)

    @property
    def hub(self) -> HubConfig | None:
        """The running hub's configuration, None before it started."""
        hub = self.graph.running(HUB)
        return hub.settings if hub else None

    @property
    def coverage(self) -> KojiCoverage | None:
        """--cov-hub / --cov-web data, once a measured service started."""
        return self.graph.running(COVERAGE)

    @property
    def koji_config(self) -> Path:
        """The koji client configuration file (profile `boxkoji`)."""
        return self.graph.get(HUB).koji_config

    hub_url = property(lambda self: self.start_hub().url)
    realm_name = property(lambda self: self.start_kdc().realm)
    ca_file = property(lambda self: self.start_orch().ca_file)
    topdir = property(lambda self: self.start_hub().topdir)

    @property
    def env(self) -> dict[str, str]:  # the KRB5_* variables a shell needs
        return dict(self.start_kdc().env)

    @property
    def urls(self) -> dict[str, str]:
        """Every running part's URLs (each part's `urls` facet), in the parts' order."""
        urls: dict[str, str] = {}
        for part, handle in self.graph.started():
            if part.urls and handle is not None:
                urls.update(part.urls(handle))
        return urls

    def describe(self, name: str, owner: int | None) -> box.BoxRecord:
        """The record of this running environment (before its runtime detaches: it names the
        refs), under `name`; `owner`: the pid of a foreground `boxkoji up`."""
        return box.BoxRecord(
            name=box.check_name(name),
            runtime=self.runtime.name,
            marker=self.workspace.marker,
            directories=[str(d) for d in self.workspace.directories],
            identity=box.identity_of(self.config, self.runtime.name, self.source()),
            parts=self.graph.record(self.services_by_name()),
            refs=self.runtime.refs(),
            builders=self.recorded_builders(),
            credentials=self.recorded_credentials(),
            mounts=[str(m) for m in self.runtime.mounts],
            urls=self.urls,
            env=dict(self.realm.env) if self.realm else {},
            koji_config=str(self.koji_config) if self.hub else "",
            owner=owner,
        )

    def services_by_name(self) -> dict[str, Service]:
        """Every service that runs for the graph's parts (not the builders), by name."""
        return {service.name: service for service in self.graph.services}

    def recorded_builders(self) -> list[dict[str, Any]]:
        """The kojid builders that run, for the record (their services' refs are its refs)."""
        return self._workers.recorded() if self._workers is not None else []

    def recorded_credentials(self) -> list[dict[str, Any]]:
        """What the orch has handed out, for the record."""
        orch = self.graph.running(ORCH)
        return [box.plain(credential) for credential in orch.inventory()] if orch else []

    def ensure_user(self, name: str, auth: Auth = "gssapi") -> dict[str, str]:  # how `name` logs in
        return self.accounts.login(name, auth).describe()

    def session(
        self, user: str = ORDINARY_USER, auth: Auth = "gssapi", via: Via = "hub"
    ) -> koji.ClientSession:
        """A new koji.ClientSession logged in as `user` through `auth` (via="proxy": through nginx)."""
        return self.accounts.session(user, auth, via)

    def cli(
        self,
        args: Sequence[str],
        user: str = ORDINARY_USER,
        auth: Auth = "gssapi",
        timeout: float = 120,
        via: Via = "hub",
    ) -> subprocess.CompletedProcess[str]:
        return self.accounts.cli(args, user, auth, timeout, via)

    def admin_session(self) -> koji.ClientSession:  # creating users, applying scenarios
        return self.accounts.admin_session()

    def forget_sessions(self) -> None:  # after a restore: the session may not exist any more
        self.accounts.forget_sessions(logout=False)

    @property
    def hub_state(self) -> HubState:
        """Snapshots and the empty state (taken on first use, with the builders running)."""
        if self._state is None:
            self._state = self.new_hub_state()
            if self._workers is not None:
                self._state.before_each_test(self._workers.before_test)
        return self._state

    takes_empty_state = True  # False for a `boxkoji` verb (attach.attached): only the snapshots it asks for

    def new_hub_state(self) -> HubState:
        """The hub's snapshots; with the empty state every test starts from taken now."""
        topdir, store = self.start_hub().topdir, self.directory / "snapshots"
        state = HubState(self.start_postgres(), topdir, store, self.forget_sessions)
        if self.takes_empty_state:
            state.take_empty()
        return state

    def change_empty_state(self, change: Callable[[], None]) -> None:
        """Run `change` so that every test's state has it (builders joining)."""
        if self._state is None:
            change()  # the empty state is taken later, with the change in it
        else:
            self._state.rebase(change)

    @property
    def scenarios(self) -> ScenarioStates:
        if self._scenarios is None:
            self._scenarios = ScenarioStates(self.graph, self.accounts, self.hub_state)
        return self._scenarios

    @property
    def workers(self) -> Workers:
        """kojid builders and kojira (none run until asked for)."""
        if self._workers is None:
            self.start_hub()
            self._workers = Workers(self.graph, self.accounts, self.change_empty_state)
            if self._state is not None:
                self._state.before_each_test(self._workers.before_test)
        return self._workers

    def stop(self, keep: bool | None = None) -> None:
        """Stop every service in reverse start order, then remove the directory (best effort);
        with `keep` (default: --boxkoji-keep), leave them running and record them instead."""
        self.release()
        if self.config.keep if keep is None else keep:  # the report before detach: it names the refs
            self.kept = self.keep_report()
            self.detach()
            return
        for name, problem in self.graph.stop():
            log.warning("could not stop %s: %s", name, problem)
        if self.coverage:
            save_coverage(self.coverage, self.coverage_target)
        self.runtime.close()
        self.workspace.restore_environ()
        self.workspace.remove()

    def release(self) -> None:
        """Close what this process holds: its hub sessions, background copies, the autoscaler."""
        self.accounts.close()
        if self._state is not None:
            self._state.close()  # no more background copies of the hub's state
        if self._workers is not None:
            self._workers.stop_autoscale()

    def detach(self) -> None:
        """Leave every service running, forgotten by this process (not a crash for the next
        session's sweep)."""
        self.workspace.keep()
        self.runtime.detach()
        self.workspace.restore_environ()

    def keep_report(self) -> str:  # how to reach a kept environment from a shell, how to stop it
        config = self.koji_config if self.hub else None
        name = None
        if self.hub:  # recorded: `boxkoji` verbs and --boxkoji-reuse find it
            name = box.claim(self.config.cache_dir, self.describe(self.config.box, None))
        directories, cache = self.workspace.directories, self.config.cache_dir
        return keep.report(directories, self.urls, self.realm, config, self.runtime, name, cache)
