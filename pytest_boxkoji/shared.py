"""Under pytest-xdist: one KDC, one orch (the CA and the keytabs) and one PostgreSQL server for
every worker of a run; each worker keeps its own hub (Apache), its own database on that server,
its topdir, snapshots, builders, kojiweb and proxy (--boxkoji-xdist-share, on by default).

Who does what:
- The controller (the pytest process without `workerinput`) makes the run's directory and hands
  it to each worker (`pytest_configure_node`); once the workers have ended it stops the shared
  services and removes what they used (`pytest_sessionfinish`, and `pytest_unconfigure` if that
  was not reached). Its pid is the `owner.pid` of every directory involved, so that if it is
  SIGKILLed the next session's sweep removes them (workspace.sweep_stale, and the containers'
  sweep, which reads the same file).
- The first worker that needs a shared part starts all three, under a file lock, as a detached
  environment (its services outlive that worker, as with --boxkoji-keep) and records it as
  `boxkoji up` records one (Environment.describe). Every worker, that one included, takes the record over
  with attach.attach and uses the handles it rebuilds.
- Kerberos: one orch for all, its inventory on disk under a file lock. A keytab is exported once:
  exporting it again would change the principal's keys, and the keytabs the other workers hold
  would stop working. So every hub accepts with the same HTTP/ keys; replay caches belong to the
  acceptors (each hub's KRB5RCACHEDIR is in its own directory), so hubs sharing a principal never
  see each other's authenticators, and the KDC keeps no replay cache of its own that they could
  fill. Each worker keeps its tickets in its own directory (a credential cache holds one ticket
  set; two processes initialising one file would take each other's).
- PostgreSQL: the cluster's `koji` database (the cached template's: Koji's schema and the admin)
  is copied to `koji_<worker>` for each worker and itself never used, so it stays a clean
  template; snapshots carry their database's name (scenario/snapshots.py).
- Containers: each worker keeps its own network; the shared KDC's and PostgreSQL's containers
  join it under their usual names (kdc.koji.box, postgres.koji.box), so a worker's hub reaches
  them as it would its own (Runtime.share).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from filelock import FileLock

from pytest_boxkoji import attach, box, parts
from pytest_boxkoji.environment import Environment
from pytest_boxkoji.graph import Context, Part
from pytest_boxkoji.keys import CONFIG_KEY
from pytest_boxkoji.orch import ORCH, Orch
from pytest_boxkoji.parts import ORCH_PART
from pytest_boxkoji.services import kdc, postgres
from pytest_boxkoji.services.kdc import KDC, Realm
from pytest_boxkoji.services.postgres import DB_NAME, POSTGRES, Cluster
from pytest_boxkoji.workspace import OWNER_FILE

if TYPE_CHECKING:
    from pytest_boxkoji.config import BoxKojiConfig
    from pytest_boxkoji.environment import Environment

log = logging.getLogger(__name__)
SHARE_KEY = "boxkoji_shared"  # in each worker's workerinput: the run's directory, the controller
RECORD = "record.json"
SHARED_PARTS = (KDC, ORCH, POSTGRES)
WORKER_ID = re.compile(r"^[a-z0-9_]+$")


def sharing(cfg: BoxKojiConfig) -> bool:
    """--boxkoji-xdist-share=auto, and nothing that wants each environment whole (keep, reuse)."""
    return cfg.enabled and cfg.xdist_share and not cfg.keep and not cfg.reuse


def register(config: pytest.Config) -> None:
    """In the controller (or a run without xdist, where it does nothing): own the shared services."""
    if hasattr(config, "workerinput") or not sharing(config.stash[CONFIG_KEY]):
        return
    config.pluginmanager.register(Controller(config), "boxkoji-xdist-share")


class Controller:
    """The controller's side: the run's directory, and the shared services' end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.directory: Path | None = None

    @pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist's: only called when it runs
    def pytest_configure_node(self, node: Any) -> None:
        if self.directory is None:
            run = str(node.workerinput.get("testrunuid", ""))[:12]
            self.directory = Path(tempfile.mkdtemp(prefix=f"boxkoji-xdist-{run}-"))
            self.directory.chmod(0o711)
            (self.directory / OWNER_FILE).write_text(str(os.getpid()))
        node.workerinput[SHARE_KEY] = {"directory": str(self.directory), "controller": os.getpid()}

    @pytest.hookimpl(trylast=True)  # after pytest-xdist's own, which waits for the workers
    def pytest_sessionfinish(self) -> None:
        self.finish()

    def pytest_unconfigure(self) -> None:
        self.finish()

    def finish(self) -> None:
        directory, self.directory = self.directory, None
        if directory is None:
            return
        try:
            stop(directory, self.config.stash[CONFIG_KEY])
        except Exception as exc:  # best effort: the run's own result stands
            log.warning("could not stop the services the xdist workers shared (%s): %s", directory, exc)
        finally:
            shutil.rmtree(directory, ignore_errors=True)


def stop(directory: Path, config: BoxKojiConfig) -> None:
    """Stop the services recorded in the run's directory and remove their directories."""
    path = directory / RECORD
    if not path.exists():  # no worker needed them
        return
    env = attach.attach(box.BoxRecord(**json.loads(path.read_text())), config)
    env.workspace.restore_environ()  # attach points KRB5_CONFIG at the realm: not needed here
    for service in reversed(list(env.service_of.values())):
        env.runtime.stop(service)
    networks = directory / "networks"
    if networks.exists():
        env.runtime.unshare(networks.read_text().split())
    env.runtime.close()
    env.workspace.remove()


def join(env: Environment, config: pytest.Config) -> None:
    """In a pytest-xdist worker of a run that shares: `env`'s kdc, orch and postgres parts become
    the run's shared ones (started by whichever worker needs them first)."""
    workerinput = getattr(config, "workerinput", None)
    given = workerinput.get(SHARE_KEY) if workerinput else None
    if not given or not sharing(env.config):
        return
    worker = str(workerinput["workerid"]).lower() if workerinput else ""
    if not WORKER_ID.match(worker):
        raise ValueError(f"pytest-xdist worker id {worker!r}: expected letters, digits and _")
    shared = Shared(Path(given["directory"]), int(given["controller"]), worker, env.config)
    env.graph.parts.update({part.name: part for part in shared.parts()})


class Shared:
    """A worker's side: the shared services, started or taken over, and its own share of them."""

    def __init__(self, directory: Path, controller: int, worker: str, config: BoxKojiConfig) -> None:
        self.directory = directory
        self.controller = controller
        self.worker = worker
        self.config = config
        self._attached: attach.AttachedEnvironment | None = None
        self._lock = threading.Lock()  # the worker's parts start in parallel threads

    def parts(self) -> list[Part[Any]]:
        """The run's kdc, orch and postgres parts in place of the worker's own: the same facets
        (a kept worker's record), another start."""
        return [
            dataclasses.replace(kdc.PART, start=self.kdc),
            dataclasses.replace(ORCH_PART, start=self.orch),
            dataclasses.replace(postgres.PART, start=self.postgres),
        ]

    def attached(self) -> attach.AttachedEnvironment:
        """The shared environment, started by this worker if no other did it first."""
        with self._lock:
            if self._attached is None:
                with FileLock(str(self.directory / "start.lock")):
                    if not (self.directory / RECORD).exists():
                        self._start()
                    record = box.BoxRecord(**json.loads((self.directory / RECORD).read_text()))
                self._attached = attach.attach(record, self.config)
                self._attached.workspace.restore_environ()  # the worker's own kdc part sets them
            return self._attached

    def _start(self) -> None:

        # keep: its services must outlive this worker (containers: no pid label for the sweeps).
        env = Environment(replace(self.config, keep=True))
        try:
            for key in SHARED_PARTS:
                env.graph.get(key)  # type: ignore[misc]  # three handle types
            record = env.describe("xdist-shared", None)
        except BaseException:
            env.stop(keep=False)
            raise
        for directory in env.workspace.directories:  # the controller's, for the crash sweeps
            (directory / OWNER_FILE).write_text(str(self.controller))
        env.runtime.detach()
        env.workspace.restore_environ()
        temporary = self.directory / f"{RECORD}.tmp"
        temporary.write_text(record.to_json())
        temporary.replace(self.directory / RECORD)

    def _share(self, context: Context, part: str) -> None:
        """Make the shared service reachable from the services this worker starts."""
        attached = self.attached()
        # Its files (the realm's krb5.conf, the orch's keytabs and certificates) too.
        context.runtime.mount(attached.workspace.directory)
        names = attached.runtime.share(attached.service_of[part], context.runtime)
        if names:
            with (
                FileLock(str(self.directory / "networks.lock")),
                open(self.directory / "networks", "a") as out,
            ):
                out.write("".join(f"{name}\n" for name in names))

    def kdc(self, context: Context) -> Realm:
        realm = self.attached().graph.get(KDC)
        self._share(context, "kdc")
        # The worker's own default credential cache: not one file for every process of the run.
        ccache = f"FILE:{context.workspace.directory}/krb5cc_default"
        context.workspace.set_environ(realm.env | {"KRB5CCNAME": ccache})  # not realm.client_env
        return realm

    def orch(self, context: Context) -> Orch:
        orch = self.attached().graph.get(ORCH)
        tickets = context.workspace.directory / "tickets"
        tickets.mkdir(exist_ok=True)
        return SharedOrch(orch.directory, context.get(KDC), orch.ca, tickets=tickets)

    def postgres(self, context: Context) -> Cluster:
        """The shared cluster, with this worker's own copy of the `koji` database."""
        shared = self.attached().graph.get(POSTGRES)
        self._share(context, "postgres")
        database = f"{DB_NAME}_{self.worker}"
        cluster = Cluster(shared.directory, shared.endpoint, shared.tools, shared.name, database)
        # CREATE DATABASE ... TEMPLATE refuses a template that another session is copying.
        with FileLock(str(self.directory / "databases.lock")):
            conn = cluster.connect("postgres")
            conn.autocommit = True  # CREATE DATABASE refuses to run in a transaction
            try:
                with conn.cursor() as cur:
                    cur.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
                    cur.execute(f"CREATE DATABASE {database} TEMPLATE {DB_NAME}")
            finally:
                conn.close()
        return cluster


@dataclass
class SharedOrch(Orch):
    """The run's one orch, used by several processes: what it hands out is kept on disk, under a
    file lock, so that each credential is made once for all of them."""

    tickets: Path | None = None  # this worker's credential caches

    @property
    def _inventory(self) -> Path:
        return self.directory / "inventory.json"

    @contextlib.contextmanager
    def _guarded(self) -> Iterator[None]:
        """What every worker has handed out, read before and written after a change; a
        credential released is taken back for every worker (it is the run's, as the KDC is)."""
        with self._lock, FileLock(str(self.directory / "inventory.lock")):
            if self._inventory.exists():
                held = [parts.credential(c) for c in json.loads(self._inventory.read_text())]
                # The objects this process already has stay the same objects (checkout's promise).
                mine = self._held
                self._held = {
                    (c.name, c.kind): mine[(c.name, c.kind)] if mine.get((c.name, c.kind)) == c else c
                    for c in held
                }
            try:
                yield
            finally:
                temporary = self._inventory.with_suffix(f".{os.getpid()}.tmp")
                temporary.write_text(json.dumps([box.plain(c) for c in self._held.values()]))
                temporary.replace(self._inventory)

    def ccache(self, name: str) -> str:
        return f"FILE:{self.tickets or self.directory}/krb5cc_{name}"
