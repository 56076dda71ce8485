"""Snapshots of the hub's state: a PostgreSQL template database plus a copy of the topdir.

A restore swaps in a copy made beforehand, in the background, from the snapshot: the live
database and topdir are renamed away and the copy renamed in (milliseconds; the hub's
connections end and it reconnects on its next request). The old ones are dropped and the next
copy made in the background, off the tests' critical path. A copy is never used before it is
complete: a restore waits for it (or, if making it failed, copies the slow way).
"""

from __future__ import annotations

import itertools
import logging
import re
import shutil
import subprocess
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import psycopg2

from pytest_boxkoji.services.postgres import DB_NAME, Cluster

SAFE = re.compile(r"^[a-z0-9_]+$")
log = logging.getLogger(__name__)


class Snapshots:
    """Named copies of the `koji` database and the topdir of one environment."""

    def __init__(self, cluster: Cluster, topdir: Path, store: Path) -> None:
        self.cluster = cluster
        self.database = cluster.database
        # Databases of several hubs may share a cluster (pytest-xdist workers, shared.py): their
        # snapshots' names carry their database's. The plain `koji` keeps the names it always had.
        self.prefix = "boxkoji" if self.database == DB_NAME else f"boxkoji_{self.database}"
        self.topdir = topdir
        self.store = store
        self.taken: set[str] = set()
        store.mkdir(parents=True, exist_ok=True)
        # One worker: copies and clean-ups run in order, never two at once on the same database.
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="boxkoji-snapshots")
        self._ready: dict[str, Future[None]] = {}
        self._retired = itertools.count()
        self._connections = threading.local()

    def _cursor(self) -> psycopg2.extensions.cursor:
        # One connection per thread, kept: connecting costs more than a restore's statements.
        conn = getattr(self._connections, "conn", None)
        if conn is None or conn.closed:
            conn = psycopg2.connect(self.cluster.dsn("postgres"), connect_timeout=5)
            conn.autocommit = True  # CREATE/DROP DATABASE refuse to run in a transaction
            self._connections.conn = conn
        return conn.cursor()

    def _sql(self, *statements: str) -> None:
        with self._cursor() as cur:
            for statement in statements:
                cur.execute(statement)

    def _db(self, name: str) -> str:
        if not SAFE.match(name):
            raise ValueError(f"snapshot name {name!r}: lowercase letters, digits and _ only")
        return f"{self.prefix}_snap_{name}"

    def take(self, name: str) -> None:
        """Copy the current state under `name` (replacing an older copy of that name)."""
        self._settle()  # no background copy may read the snapshot this replaces
        db = self._db(name)
        # A template must have no other connections. The hub reconnects at once when builders
        # poll it, so new connections are refused while the copy is made (their calls retry).
        try:
            self._sql(
                f"ALTER DATABASE {self.database} ALLOW_CONNECTIONS false",
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{self.database}' "
                "AND pid <> pg_backend_pid()",
                f"DROP DATABASE IF EXISTS {db}_new",
                f"CREATE DATABASE {db}_new TEMPLATE {self.database}",
            )
        finally:
            self._sql(f"ALTER DATABASE {self.database} ALLOW_CONNECTIONS true")
        # Replace the older copy only once the new one exists.
        self._sql(f"DROP DATABASE IF EXISTS {db}", f"ALTER DATABASE {db}_new RENAME TO {db}")
        saved = self.store / name
        shutil.rmtree(saved, ignore_errors=True)
        _copy_tree(self.topdir, saved)
        self.taken.add(name)
        self._prepare(name)

    def restore(self, name: str) -> None:
        """Make the live database and topdir exactly what they were when `name` was taken."""
        ready = self._ready.pop(name, None)
        if ready is None:  # taken by another process (`boxkoji snapshot save`): no copy made here
            self._restore_by_copying(name)
        else:
            try:
                ready.result()  # the copy is complete before it is used
                self._swap_in(name)
            except Exception as exc:
                # The swap failed half-way: copying in place repairs it.
                log.warning("restoring snapshot %s by copying (%s: %s)", name, type(exc).__name__, exc)
                self._restore_by_copying(name)
        self._prepare(name)

    def _swap_in(self, name: str) -> None:
        retired = next(self._retired)
        old_db, old_dir = f"{self.prefix}_retired_{retired}", self.store / f".retired-{retired}"
        self._sql(
            f"ALTER DATABASE {self.database} ALLOW_CONNECTIONS false",
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{self.database}' "
            "AND pid <> pg_backend_pid()",
        )
        self._wait_until_unused(self.database)
        self._sql(
            f"ALTER DATABASE {self.database} RENAME TO {old_db}",
            f"ALTER DATABASE {self._copy_db(name)} RENAME TO {self.database}",
        )
        self.topdir.rename(old_dir)
        self._copy_dir(name).rename(self.topdir)
        self._background.submit(self._retire, old_db, old_dir)

    def _restore_by_copying(self, name: str) -> None:
        self._sql(
            f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)",
            f"CREATE DATABASE {self.database} TEMPLATE {self._db(name)}",
        )
        if not self.topdir.exists():  # a swap failed between its two renames
            _copy_tree(self.store / name, self.topdir)
            return
        for child in self.topdir.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        _copy_tree(self.store / name, self.topdir, into=True)

    def _wait_until_unused(self, db: str, timeout: float = 10) -> None:
        # pg_terminate_backend only asks; a database in use cannot be renamed.
        end = time.monotonic() + timeout
        with self._cursor() as cur:
            while time.monotonic() < end:
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (db,))
                row = cur.fetchone()
                if not row or not row[0]:
                    return
                time.sleep(0.002)

    def _copy_db(self, name: str) -> str:
        return f"{self._db(name)}_copy"

    def _copy_dir(self, name: str) -> Path:
        return self.store / f".copy-{name}"

    def _prepare(self, name: str) -> None:
        """In the background: the copy of `name` that its next restore swaps in."""
        self._ready[name] = self._background.submit(self._make_copy, name)

    def _make_copy(self, name: str) -> None:
        self._sql(
            f"DROP DATABASE IF EXISTS {self._copy_db(name)}",
            f"CREATE DATABASE {self._copy_db(name)} TEMPLATE {self._db(name)}",
        )
        target = self._copy_dir(name)
        shutil.rmtree(target, ignore_errors=True)
        _copy_tree(self.store / name, target)

    def _retire(self, db: str, directory: Path) -> None:
        self._sql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        shutil.rmtree(directory, ignore_errors=True)

    def _settle(self) -> None:
        """Wait for every background job (they run in order: the last one finishing is enough)."""
        self._background.submit(lambda: None).result()

    def drop(self, name: str) -> None:
        self._settle()
        self._ready.pop(name, None)
        self._sql(
            f"DROP DATABASE IF EXISTS {self._copy_db(name)}", f"DROP DATABASE IF EXISTS {self._db(name)}"
        )
        shutil.rmtree(self._copy_dir(name), ignore_errors=True)
        shutil.rmtree(self.store / name, ignore_errors=True)
        self.taken.discard(name)

    def close(self) -> None:
        """Stop making copies (the environment is stopping)."""
        self._background.shutdown(wait=True, cancel_futures=True)
        conn = getattr(self._connections, "conn", None)
        if conn is not None:
            conn.close()

    def __contains__(self, name: str) -> bool:
        return name in self.taken


def _copy_tree(source: Path, target: Path, into: bool = False) -> None:
    # cp -a keeps owners and modes (the hub's user owns the topdir) and is fast on small trees.
    if into:
        subprocess.run(["cp", "-a", f"{source}/.", str(target)], check=True)
    else:
        subprocess.run(["cp", "-a", str(source), str(target)], check=True)
