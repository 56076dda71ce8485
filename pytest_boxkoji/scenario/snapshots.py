"""Snapshots of the hub's state: a PostgreSQL template database plus a copy of the topdir.

Restoring one under a running hub takes a few tenths of a second: the hub's connections are
dropped with the database and it reconnects on its next request.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import psycopg2

from pytest_boxkoji.services.postgres import DB_NAME, Cluster

SAFE = re.compile(r"^[a-z0-9_]+$")


class Snapshots:
    """Named copies of the `koji` database and the topdir of one environment."""

    def __init__(self, cluster: Cluster, topdir: Path, store: Path) -> None:
        self.cluster = cluster
        self.topdir = topdir
        self.store = store
        self.taken: set[str] = set()
        store.mkdir(parents=True, exist_ok=True)

    def _sql(self, *statements: str) -> None:
        conn = psycopg2.connect(self.cluster.dsn("postgres"), connect_timeout=5)
        conn.autocommit = True  # CREATE/DROP DATABASE refuse to run in a transaction
        try:
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
        finally:
            conn.close()

    @staticmethod
    def _db(name: str) -> str:
        if not SAFE.match(name):
            raise ValueError(f"snapshot name {name!r}: lowercase letters, digits and _ only")
        return f"boxkoji_snap_{name}"

    def take(self, name: str) -> None:
        """Copy the current state under `name` (replacing an older copy of that name)."""
        db = self._db(name)
        # A template must have no other connections. The hub reconnects at once when builders
        # poll it, so new connections are refused while the copy is made (their calls retry).
        try:
            self._sql(
                f"ALTER DATABASE {DB_NAME} ALLOW_CONNECTIONS false",
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{DB_NAME}' "
                "AND pid <> pg_backend_pid()",
                f"DROP DATABASE IF EXISTS {db}_new",
                f"CREATE DATABASE {db}_new TEMPLATE {DB_NAME}",
            )
        finally:
            self._sql(f"ALTER DATABASE {DB_NAME} ALLOW_CONNECTIONS true")
        # Replace the older copy only once the new one exists.
        self._sql(f"DROP DATABASE IF EXISTS {db}", f"ALTER DATABASE {db}_new RENAME TO {db}")
        saved = self.store / name
        shutil.rmtree(saved, ignore_errors=True)
        _copy_tree(self.topdir, saved)
        self.taken.add(name)

    def restore(self, name: str) -> None:
        """Make the live database and topdir exactly what they were when `name` was taken."""
        self._sql(
            f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)",
            f"CREATE DATABASE {DB_NAME} TEMPLATE {self._db(name)}",
        )
        for child in self.topdir.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        _copy_tree(self.store / name, self.topdir, into=True)

    def drop(self, name: str) -> None:
        self._sql(f"DROP DATABASE IF EXISTS {self._db(name)}")
        shutil.rmtree(self.store / name, ignore_errors=True)
        self.taken.discard(name)

    def __contains__(self, name: str) -> bool:
        return name in self.taken


def _copy_tree(source: Path, target: Path, into: bool = False) -> None:
    # cp -a keeps owners and modes (the hub's user owns the topdir) and is fast on small trees.
    if into:
        subprocess.run(["cp", "-a", f"{source}/.", str(target)], check=True)
    else:
        subprocess.run(["cp", "-a", str(source), str(target)], check=True)
