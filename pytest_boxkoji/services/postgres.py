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
from typing import TYPE_CHECKING, Any

import psycopg2
from filelock import FileLock

from pytest_boxkoji import box, hostprogs, progress
from pytest_boxkoji.errors import ServiceStartError
from pytest_boxkoji.graph import Context, Part, Recording, Restoring
from pytest_boxkoji.kojisrc import SOURCE
from pytest_boxkoji.partkey import Key
from pytest_boxkoji.runtimes.tools import Endpoint, Tools
from pytest_boxkoji.services import Check, Service, probed_at
from pytest_boxkoji.services.kdc import REALM

if TYPE_CHECKING:
    from pytest_boxkoji.runtimes import Runtime

ADMIN = "kojiadmin"  # the hub's first admin, bootstrapped in the database template
DB_USER = "koji"
DB_NAME = "koji"

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
    # Each snapshot copy forces a checkpoint: two lines per test in a failing test's report.
    "log_checkpoints": "off",
}


class Cluster:
    """One PostgreSQL data directory, the address it listens on, and the programs it runs."""

    def __init__(
        self,
        directory: Path,
        endpoint: Endpoint,
        tools: Tools,
        name: str = "postgres",
        database: str = DB_NAME,
    ) -> None:
        self.directory = directory
        # The hub's database: `koji`, or one per pytest-xdist worker on a shared cluster (shared.py).
        self.database = database
        self.data = directory / "data"
        self.endpoint = endpoint
        self.tools = tools
        self.name = name
        # A Unix socket path is limited to 107 bytes: deep (cache) directories use a short one.
        self.socket_dir = directory / "run"
        if len(str(self.socket_dir / ".s.PGSQL.65535")) > 100:
            self.socket_dir = Path(tempfile.gettempdir()) / f"boxkoji-pg-{endpoint.client_port}"
        self.hba = directory / "pg_hba.conf"
        self.log = directory / "postgres.log"

    @property
    def port(self) -> int:
        return self.endpoint.client_port

    def dsn(self, dbname: str | None = None) -> str:
        """The test process's view: TCP to the published address (default: the hub's database)."""
        end = self.endpoint
        return (
            f"host={end.client_host} port={end.client_port} user={DB_USER} dbname={dbname or self.database}"
        )

    def connect(self, dbname: str | None = None) -> psycopg2.extensions.connection:
        return psycopg2.connect(self.dsn(dbname), connect_timeout=3)

    def accepts_connections(self) -> bool:
        """PostgreSQL accepts a connection and answers a query."""
        with self.connect("postgres") as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
            return bool(cur.fetchone())

    def service(self) -> Service:
        end = self.endpoint
        # Throwaway cluster on a private address or network: trust is enough, nothing else listens.
        peers = "127.0.0.1/32" if end.bind == "127.0.0.1" else "all"
        self.hba.write_text(f"local all all trust\nhost all all {peers} trust\n")
        self.socket_dir.mkdir(exist_ok=True)
        owner = self.directory.stat()
        os.chown(self.socket_dir, owner.st_uid, owner.st_gid)  # PostgreSQL's own user makes the socket
        command = [
            self.tools.path(hostprogs.POSTGRES),
            "-D",
            str(self.data),
            "-p",
            str(end.port),
            "-k",
            str(self.socket_dir),
            "-c",
            f"listen_addresses={end.bind}",
            "-c",
            f"hba_file={self.hba}",
        ]
        for key, value in SETTINGS.items():
            command += ["-c", f"{key}={value}"]
        return Service(
            name=self.name,
            command=command,
            ready=Check("PostgreSQL answers SELECT 1", self.accepts_connections),
            log=self.log,
            deadline=30,
            # SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for the hub's connections.
            stop_signal=signal.SIGINT,
            image="postgres",
        )


POSTGRES: Key[Cluster] = Key("postgres")  # its part's name, typed with this handle (graph.Key)


def template_key(cluster: Cluster, schema: Path, realm: str, owner_uid: int) -> str:
    digest = hashlib.sha256()
    for part in (
        cluster.tools.identity(hostprogs.POSTGRES),  # another PostgreSQL build, another template
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
    builder: Callable[[Path], Cluster],
    run: Callable[[Service], Callable[[], None]],
) -> Path:
    """The cached data directory holding Koji's schema; built once per (PostgreSQL, schema).

    `builder(directory)` makes the cluster that builds it; `run` starts a service and returns a
    function that stops it: the runtime decides where and how.
    """
    target = cache_dir / "pg"
    target.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=".build-", dir=target))
    try:
        cluster = builder(build)
        target = target / template_key(cluster, schema, realm, owner[0])
        if (target / "data" / "PG_VERSION").exists():
            return target
        with FileLock(str(target) + ".lock"):
            if (target / "data" / "PG_VERSION").exists():
                return target
            with progress.slow(f"building the database template with Koji's schema in {target} (once)"):
                init(cluster, owner)
                stop = run(cluster.service())
                try:
                    load_schema(cluster, schema, realm)
                finally:
                    stop()
            for extra in (cluster.log, cluster.hba):
                extra.unlink(missing_ok=True)
            shutil.rmtree(cluster.socket_dir, ignore_errors=True)
            build.rename(target)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return target


def init(cluster: Cluster, owner: tuple[int, int]) -> None:
    """initdb as the owner (PostgreSQL refuses root)."""
    cluster.directory.mkdir(parents=True, exist_ok=True)
    os.chown(cluster.directory, *owner)
    args = ["-D", str(cluster.data), "-U", DB_USER, "-A", "trust", "--no-sync", "-E", "UTF8", "--no-locale"]
    done = cluster.tools.run(hostprogs.INITDB, args, {}, user=owner)
    if done.returncode != 0:
        raise ServiceStartError(
            f"initdb failed for {cluster.data}:\n{done.stderr.strip() or done.stdout.strip()}"
        )


def clone(template: Path, cluster: Cluster, owner: tuple[int, int]) -> None:
    """Copy the template data directory into the session's cluster, keeping ownership."""
    cluster.directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", str(template / "data"), str(cluster.data)], check=True)
    os.chown(cluster.directory, *owner)


def start(context: Context) -> Cluster:
    """A copy of the cached template cluster (Koji's schema, the admin), started."""
    runtime, config, owner = context.runtime, context.config, context.workspace.owner
    tools = tools_of(runtime)
    runtime.mount(config.cache_dir)  # the template lives in the cache

    def run_once(service: Service) -> Callable[[], None]:
        runtime.start(service)
        return lambda: runtime.stop(service)

    template = ensure_template(
        config.cache_dir / "templates",
        context.get(SOURCE).schema,
        REALM,
        owner,
        lambda path: Cluster(path, runtime.endpoint("postgres-build", 5432), tools, "postgres-build"),
        run_once,
    )
    directory = context.workspace.scratch("postgres")
    runtime.mount(directory)  # in memory, outside the workspace, when there is room
    cluster = Cluster(directory, runtime.endpoint("postgres", 5432), tools)
    clone(template, cluster, owner)
    context.start_service(cluster.service())
    return cluster


def tools_of(runtime: Runtime) -> Tools:
    return runtime.tools("postgres", hostprogs.INITDB, hostprogs.POSTGRES)


def record(cluster: Cluster, recording: Recording) -> dict[str, Any]:
    return {
        "directory": str(cluster.directory),
        "endpoint": box.plain(cluster.endpoint),
        "database": cluster.database,
    }


def restore(restoring: Restoring, data: dict[str, Any]) -> Cluster:
    endpoint = box.rebuilt(Endpoint, data["endpoint"])
    database = data.get("database", DB_NAME)
    cluster = Cluster(Path(data["directory"]), endpoint, tools_of(restoring.runtime), database=database)
    restoring.adopt(cluster.service(), [cluster.endpoint])
    return cluster


def urls(cluster: Cluster) -> dict[str, str]:
    return {"postgres": f"postgresql://koji@127.0.0.1:{cluster.port}/{cluster.database}"}


def health(cluster: Cluster) -> list[dict[str, object]]:
    check = "SELECT server_version as the hub's database user"
    return probed_at("postgres", "postgres", cluster.endpoint, check, dbname=cluster.database)


PART = Part(POSTGRES, (SOURCE,), start, record=record, restore=restore, urls=urls, health=health)
