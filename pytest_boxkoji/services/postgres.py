"""PostgreSQL with the Koji schema: a cached template cluster, copied and started per session."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import psycopg2
from filelock import FileLock

from pytest_boxkoji import hostprogs
from pytest_boxkoji.errors import ServiceStartError
from pytest_boxkoji.services import Service

DB_USER = "koji"
DB_NAME = "koji"
ADMIN = "kojiadmin"

# Koji's server_howto bootstrap: the first admin, known by name and by Kerberos principal.
BOOTSTRAP_SQL = """
INSERT INTO users (name, status, usertype) VALUES ('{admin}', 0, 0);
INSERT INTO user_krb_principals (user_id, krb_principal)
    SELECT id, '{admin}@{realm}' FROM users WHERE name = '{admin}';
INSERT INTO user_perms (user_id, perm_id, creator_id)
    SELECT u.id, p.id, u.id FROM users u, permissions p WHERE u.name = '{admin}' AND p.name = 'admin';
"""

SETTINGS = {
    # A throwaway cluster: durability costs time and buys nothing.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    "shared_buffers": "32MB",
}


class Cluster:
    """One PostgreSQL data directory with its socket directory and port."""

    def __init__(
        self, directory: Path, port: int, listen: str = "127.0.0.1", socket_dir: Path | None = None
    ) -> None:
        self.directory = directory
        self.data = directory / "data"
        # A Unix socket path is limited to 107 bytes: deep cache directories need another place.
        self.socket_dir = socket_dir or directory / "run"
        self.port = port
        self.listen = listen
        self.log = directory / "postgres.log"
        self.initdb, self.postgres = hostprogs.find(hostprogs.INITDB, hostprogs.POSTGRES)

    def dsn(self, dbname: str = DB_NAME) -> str:
        return f"host={self.socket_dir} port={self.port} user={DB_USER} dbname={dbname}"

    def connect(self, dbname: str = DB_NAME) -> psycopg2.extensions.connection:
        return psycopg2.connect(self.dsn(dbname), connect_timeout=3)

    def accepts_connections(self) -> bool:
        """PostgreSQL accepts a connection and answers a query."""
        with self.connect("postgres") as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
            return bool(cur.fetchone())

    def service(self) -> Service:
        command = [
            str(self.postgres),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-k",
            str(self.socket_dir),
            "-c",
            f"listen_addresses={self.listen}",
        ]
        for key, value in SETTINGS.items():
            command += ["-c", f"{key}={value}"]
        return Service(
            name="postgres",
            command=command,
            ready=self.accepts_connections,
            log=self.log,
            deadline=30,
            ports={"postgres": self.port},
            # SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for the hub's connections.
            stop_signal=signal.SIGINT,
        )

    def version(self) -> str:
        return subprocess.run(
            [str(self.postgres), "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()


def template_key(cluster: Cluster, schema: Path, realm: str, owner_uid: int) -> str:
    digest = hashlib.sha256()
    for part in (
        cluster.version(),
        schema.read_bytes().decode(errors="replace"),
        BOOTSTRAP_SQL,
        realm,
        str(owner_uid),
        repr(sorted(SETTINGS.items())),
    ):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:20]


def load_schema(cluster: Cluster, schema: Path, realm: str) -> None:
    """Create the koji database from Koji's schema.sql and bootstrap the admin user."""
    conn = cluster.connect("postgres")
    conn.autocommit = True  # CREATE DATABASE refuses to run in a transaction
    try:
        conn.cursor().execute(f"CREATE DATABASE {DB_NAME}")
    finally:
        conn.close()
    with cluster.connect() as conn, conn.cursor() as cur:
        try:
            cur.execute(schema.read_text())
            cur.execute(BOOTSTRAP_SQL.format(admin=ADMIN, realm=realm))
        except psycopg2.Error as exc:
            raise ServiceStartError(f"Loading Koji's schema {schema} failed: {exc}") from None
    conn.close()


def ensure_template(
    cache_dir: Path,
    schema: Path,
    realm: str,
    owner: tuple[int, int],
    port: int,
    run: Callable[[Service], Callable[[], None]],
) -> Path:
    """The cached data directory holding Koji's schema; built once per (PostgreSQL, schema).

    `run` starts a service and returns a function that stops it: the runtime decides how.
    """
    probe = Cluster(cache_dir, port, listen="")
    target = cache_dir / "pg" / template_key(probe, schema, realm, owner[0])
    if (target / "data" / "PG_VERSION").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / "data" / "PG_VERSION").exists():
            return target
        build = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
        sockets = Path(tempfile.mkdtemp(prefix="boxkoji-pg-"))
        try:
            cluster = Cluster(build, port, listen="", socket_dir=sockets)
            init(cluster, owner)
            stop = run(cluster.service())
            try:
                load_schema(cluster, schema, realm)
            finally:
                stop()
            cluster.log.unlink(missing_ok=True)
            build.rename(target)
        finally:
            shutil.rmtree(build, ignore_errors=True)
            shutil.rmtree(sockets, ignore_errors=True)
    return target


def init(cluster: Cluster, owner: tuple[int, int]) -> None:
    """initdb as the owner (PostgreSQL refuses root)."""
    cluster.directory.mkdir(parents=True, exist_ok=True)
    cluster.socket_dir.mkdir(exist_ok=True)
    for path in (cluster.directory, cluster.socket_dir):
        os.chown(path, *owner)
    done = subprocess.run(
        [
            str(cluster.initdb),
            "-D",
            str(cluster.data),
            "-U",
            DB_USER,
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--no-locale",
        ],
        capture_output=True,
        text=True,
        check=False,
        user=owner[0] if os.geteuid() == 0 else None,
        group=owner[1] if os.geteuid() == 0 else None,
        extra_groups=[] if os.geteuid() == 0 else None,
    )
    if done.returncode != 0:
        raise ServiceStartError(f"initdb failed for {cluster.data}:\n{done.stderr.strip()}")


def clone(template: Path, cluster: Cluster, owner: tuple[int, int]) -> None:
    """Copy the template data directory into the session's cluster, keeping ownership."""
    cluster.directory.mkdir(parents=True, exist_ok=True)
    cluster.socket_dir.mkdir(exist_ok=True)
    subprocess.run(["cp", "-a", str(template / "data"), str(cluster.data)], check=True)
    for path in (cluster.directory, cluster.socket_dir):
        os.chown(path, *owner)
