"""The environment: services started on demand, in dependency order, and stopped in reverse.

Fixtures are glue over this class; it can be driven without pytest (see benchmarks/).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import koji

from pytest_boxkoji import clients, hostprogs, kojisrc, progress, servicespy
from pytest_boxkoji.clients import Auth
from pytest_boxkoji.config import BoxKojiConfig
from pytest_boxkoji.coverage.data import APP as COVERAGE_APP
from pytest_boxkoji.coverage.data import HubCoverage
from pytest_boxkoji.coverage.data import combine as combine_coverage
from pytest_boxkoji.errors import BoxKojiError
from pytest_boxkoji.kojisrc import KojiSource
from pytest_boxkoji.orch import Orch
from pytest_boxkoji.runtimes import Runtime
from pytest_boxkoji.runtimes.processes import OWNER_FILE, ProcessesRuntime, sweep, sweep_stale_sessions
from pytest_boxkoji.scenario.state import ScenarioStates
from pytest_boxkoji.services import Service
from pytest_boxkoji.services import hub as hub_service
from pytest_boxkoji.services import kdc as kdc_service
from pytest_boxkoji.services.hub import HubSettings
from pytest_boxkoji.services.kdc import Realm
from pytest_boxkoji.services.postgres import ADMIN, Cluster, clone, ensure_template
from pytest_boxkoji.workers import Workers

log = logging.getLogger(__name__)
ORDINARY_USER = "kojiuser"


class Environment:
    """One throwaway Koji environment in its own directory, on its own ports."""

    def __init__(self, config: BoxKojiConfig, source: KojiSource | None = None) -> None:
        self.config = config
        self.id = secrets.token_hex(4)
        self.marker = f"{os.getpid()}-{self.id}"
        # Under /tmp, not pytest's 0700 basetemp: the service user must reach it.
        swept = sweep_stale_sessions(Path(tempfile.gettempdir()))
        if swept:
            log.warning("stopped what crashed sessions left in %s", ", ".join(map(str, swept)))
        self.directory = Path(tempfile.mkdtemp(prefix=f"boxkoji-{self.id}-"))
        self.directory.chmod(0o711)
        (self.directory / OWNER_FILE).write_text(str(os.getpid()))
        self.owner = service_owner(config.service_user)
        self.runtime: Runtime = choose_runtime(config, self.marker, self.directory)
        self.timings: dict[str, float] = {}
        self.services: list[Service] = []
        self._source = source
        self._lock = threading.RLock()
        self.realm: Realm | None = None
        self.orch: Orch | None = None
        self.postgres: Cluster | None = None
        self.hub: HubSettings | None = None
        self._saved_environ: dict[str, str | None] = {}
        self._admin: koji.ClientSession | None = None
        self._scenarios: ScenarioStates | None = None
        self._hub_service: Service | None = None
        self._workers: Workers | None = None
        self._python: servicespy.ServicesPython | None = None
        self.coverage: HubCoverage | None = None
        # Where --cov-hub's combined data goes when the services stop (kept for `coverage combine`).
        self.coverage_target = config.rootdir / ".coverage-hub"

    # -- start-up -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        with progress.phase(f"starting {name}"):
            yield
        self.timings[name] = time.perf_counter() - start

    def _start(self, service: Service) -> None:
        self.runtime.start(service)
        self.services.append(service)

    def source(self) -> KojiSource:
        """Koji's server code, resolved once (KojiSourceUnavailable when offline by default)."""
        if self._source is None:
            with self._phase("koji source"):
                self._source = kojisrc.resolve(
                    self.config.koji_source, self.config.cache_dir, self.config.koji_source_explicit
                )
        return self._source

    def start_kdc(self) -> Realm:
        with self._lock:
            if self.realm is None:
                with self._phase("kdc"):
                    endpoint = self.runtime.endpoint("kdc", 88)
                    tools = self.runtime.tools(
                        "kdc", hostprogs.KRB5KDC, hostprogs.KDB5_UTIL, hostprogs.KADMIN_LOCAL
                    )
                    realm = Realm(self.directory / "kdc", endpoint, tools)
                    realm.create()
                    self._set_environ(realm.env | {"KRB5CCNAME": f"FILE:{realm.directory}/krb5cc_default"})
                    self._start(kdc_service.service(realm))
                self.realm = realm
            return self.realm

    def start_orch(self) -> Orch:
        with self._lock:
            if self.orch is None:
                realm = self.start_kdc()
                with self._phase("orch"):
                    self.orch = Orch.create(self.directory / "orch", realm)
            return self.orch

    def start_postgres(self) -> Cluster:
        with self._lock:
            if self.postgres is None:
                source = self.source()
                with self._phase("postgres"):
                    tools = self.runtime.tools("postgres", hostprogs.INITDB, hostprogs.POSTGRES)
                    self.runtime.mount(self.config.cache_dir)
                    template = ensure_template(
                        self.config.cache_dir / "templates",
                        source.schema,
                        kdc_service.REALM,
                        self.owner,
                        lambda directory: Cluster(
                            directory, self.runtime.endpoint("postgres-build", 5432), tools, "postgres-build"
                        ),
                        self._run_once,
                    )
                    cluster = Cluster(
                        self.directory / "postgres", self.runtime.endpoint("postgres", 5432), tools
                    )
                    clone(template, cluster, self.owner)
                    self._start(cluster.service())
                self.postgres = cluster
            return self.postgres

    def _run_once(self, service: Service) -> Callable[[], None]:
        self.runtime.start(service)
        return lambda: self.runtime.stop(service)

    def start_hub(self) -> HubSettings:
        with self._lock:
            if self.hub is None:
                source = self.source()
                orch = self.start_orch()
                cluster = self.start_postgres()
                python = self.services_python()
                with self._phase("hub"):
                    endpoint = self.runtime.endpoint("hub", 8443)
                    tools = self.runtime.tools(
                        "hub", hostprogs.APACHE, hostprogs.MOD_SSL, hostprogs.MOD_AUTH_GSSAPI
                    )
                    self.runtime.mount(source.path)
                    hosts = hub_service.HOSTNAMES
                    cert = orch.checkout("hub", "server_cert", holder="hub", hosts=hosts, owner=self.owner)
                    keytab = orch.checkout("HTTP", "keytab", holder="hub", hosts=hosts, owner=self.owner)
                    settings = HubSettings(
                        directory=self.directory / "hub",
                        endpoint=endpoint,
                        tools=tools,
                        koji_src=source.path,
                        python_home=python.root,
                        mod_wsgi=python.mod_wsgi,
                        cert=cert.path,  # type: ignore[arg-type]
                        key=cert.key_path,  # type: ignore[arg-type]
                        ca=orch.ca_file,
                        keytab=keytab.path,  # type: ignore[arg-type]
                        realm=orch.realm.realm,
                        db_host=cluster.endpoint.host,
                        db_port=cluster.endpoint.port,
                        topdir=self.directory / "topdir",
                        proxy_principals=f"HTTP/localhost@{orch.realm.realm}",
                        proxy_dns=orch.ca.subject_dn("kojiweb"),
                    )
                    env = dict(orch.realm.env)
                    if self.config.cov_hub:
                        settings, cov_env = self._with_coverage(settings, source)
                        env.update(cov_env)
                    service = hub_service.service(settings, env)
                    hub_service.chown_tree(settings.directory, self.owner)
                    hub_service.chown_tree(settings.topdir, self.owner)
                    self._start(service)
                    self._hub_service = service
                    self.koji_config = clients.write_profile(
                        self.directory / "koji.conf",
                        settings.url,
                        settings.files_url,
                        f"https://localhost:{endpoint.client_port}/koji",
                        settings.topdir,
                        orch.ca_file,
                    )
                self.hub = settings
            return self.hub

    def _with_coverage(self, settings: HubSettings, source: KojiSource) -> tuple[HubSettings, dict[str, str]]:
        """The hub under coverage.py: our wrapper app, copied where the hub's user can read it."""
        self.coverage = HubCoverage(self.directory / "coverage", source.path)
        app_dir = settings.directory / "app"
        app_dir.mkdir(parents=True, exist_ok=True)
        app = app_dir / COVERAGE_APP.name
        shutil.copy(COVERAGE_APP, app)
        app.chmod(0o644)
        return dataclasses.replace(settings, app=app), self.coverage.prepare(self.owner)

    def services_python(self) -> servicespy.ServicesPython:
        """The virtualenv the hub, kojid and kojira run in (built once, cached)."""
        with self._lock:
            if self._python is None:
                with self._phase("services python"):
                    self._python = self.runtime.services_python(self.config, self.source().version)
            return self._python

    def chown(self, path: Path) -> None:
        """Hand a directory to the service user (only matters when pytest runs as root)."""
        hub_service.chown_tree(path, self.owner)

    def start_service(self, service: Service) -> None:
        """Start one more service; it is stopped with the environment (or by stop_service)."""
        with self._lock:
            self._start(service)

    def kill_service(self, service: Service) -> None:
        """Kill a service abruptly (SIGKILL), as a crash would."""
        self.runtime.kill(service)

    def service_logs(self, service: Service) -> str:
        return str(self.runtime.logs(service))

    def service_alive(self, service: Service) -> bool:
        return bool(self.runtime.alive(service))

    def stop_service(self, service: Service) -> None:
        with self._lock:
            self.runtime.stop(service)
            if service in self.services:
                self.services.remove(service)

    @property
    def workers(self) -> Workers:
        """kojid builders and kojira (none run until asked for)."""
        with self._lock:
            if self._workers is None:
                self.start_hub()
                self._workers = Workers(self)
            return self._workers

    def start(self) -> Environment:
        """Everything this issue's stack has: KDC, PostgreSQL, orch and the hub."""
        self.start_hub()
        return self

    # -- what tests and shells use -----------------------------------------------------------------

    @property
    def hub_url(self) -> str:
        return self.start_hub().url

    @property
    def urls(self) -> dict[str, str]:
        urls: dict[str, str] = {}
        if self.realm:
            urls["kdc"] = f"tcp://127.0.0.1:{self.realm.port}"
        if self.postgres:
            urls["postgres"] = f"postgresql://koji@127.0.0.1:{self.postgres.port}/koji"
        if self.hub:
            urls["hub"] = self.hub.url
            urls["files"] = self.hub.files_url
        return urls

    @property
    def realm_name(self) -> str:
        return self.start_kdc().realm

    @property
    def ca_file(self) -> Path:
        return self.start_orch().ca_file

    @property
    def topdir(self) -> Path:
        return self.start_hub().topdir

    @property
    def env(self) -> dict[str, str]:
        """The KRB5_* variables a shell needs to use this environment."""
        return dict(self.start_kdc().env)

    def ensure_user(self, name: str, auth: Auth = "gssapi") -> dict[str, str]:
        """Create `name` in the hub (first use) and the credential for `auth`; return how to log in."""
        clients.check_auth(auth)
        orch = self.start_orch()
        self.start_hub()
        with self._lock:
            if name != ADMIN:
                admin = self.admin_session()
                if admin.getUser(name) is None:
                    admin.createUser(name, krb_principal=orch.realm.principal(name))
            if auth == "gssapi":
                cred = orch.checkout(name, "keytab", holder=f"user:{name}")
                ccache = f"FILE:{self.directory}/orch/krb5cc_{name}"
                return {"principal": cred.principal, "keytab": str(cred.path), "ccache": ccache}
            if auth == "ssl":
                cred = orch.checkout(name, "cert", holder=f"user:{name}")
                return {"cert": str(cred.path)}
            cred = orch.checkout(name, "password", holder=f"user:{name}")
            self._set_password(name, cred.password)
            return {"user": name, "password": cred.password}

    def _set_password(self, name: str, password: str) -> None:
        # Koji has no API to set a password: its own docs set the column directly.
        assert self.postgres is not None
        with self.postgres.connect() as conn, conn.cursor() as cur:
            cur.execute("UPDATE users SET password = %s WHERE name = %s", (password, name))
        conn.close()

    def admin_session(self) -> koji.ClientSession:
        """The environment's own admin session (creating users, applying scenarios)."""
        if self._admin is None:
            self._admin = self.session(ADMIN, "gssapi")
        return self._admin

    def forget_sessions(self) -> None:
        """After a restore the hub's sessions table is a copy: our cached session may be gone."""
        self._admin = None

    def reconfigure_hub(self, extra_settings: dict[str, str], policy: str) -> bool:
        """Rewrite hub.conf with these settings and policy; reload the hub when it changed."""
        hub = self.start_hub()
        new = dataclasses.replace(hub, extra_settings=tuple(extra_settings.items()), policy=policy)
        self.hub = new
        if not hub_service.write_hub_conf(new):
            return False
        with self._phase("hub reload"):
            assert self._hub_service is not None
            self.runtime.restart(self._hub_service)
        self.forget_sessions()
        return True

    @property
    def scenarios(self) -> ScenarioStates:
        """Scenario states and their snapshots (the empty hub's is taken on first use)."""
        with self._lock:
            if self._scenarios is None:
                self.start_hub()
                self._scenarios = ScenarioStates(self)
            return self._scenarios

    def session(self, user: str = ORDINARY_USER, auth: Auth = "gssapi") -> koji.ClientSession:
        """A new koji.ClientSession logged in as `user` through `auth`."""
        login = self.ensure_user(user, auth)
        session = koji.ClientSession(self.hub_url, clients.session_opts(self.ca_file))
        if auth == "gssapi":
            session.gssapi_login(principal=login["principal"], keytab=login["keytab"], ccache=login["ccache"])
        elif auth == "ssl":
            session.ssl_login(cert=login["cert"], serverca=str(self.ca_file))
        else:
            session.opts["user"], session.opts["password"] = login["user"], login["password"]
            session.login()
        return session

    def cli(
        self, args: Sequence[str], user: str = ORDINARY_USER, auth: Auth = "gssapi", timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run the real `koji` command line as `user`."""
        login = self.ensure_user(user, auth)
        env = self.env
        if auth == "gssapi":
            auth_args = [
                "--authtype",
                "kerberos",
                "--principal",
                login["principal"],
                "--keytab",
                login["keytab"],
            ]
            env["KRB5CCNAME"] = login["ccache"]
        elif auth == "ssl":
            auth_args = ["--authtype", "ssl", "--cert", login["cert"]]
        else:
            auth_args = ["--authtype", "password", "--user", login["user"], "--password", login["password"]]
        return clients.run_cli(args, self.koji_config, env, auth_args, timeout)

    # -- teardown --------------------------------------------------------------------------------

    def _set_environ(self, values: dict[str, str]) -> None:
        # In-process GSSAPI (koji.ClientSession) reads the realm's krb5.conf from the environment.
        for key, value in values.items():
            self._saved_environ.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _restore_environ(self) -> None:
        for key, value in self._saved_environ.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_environ.clear()

    def stop(self) -> None:
        """Stop every service in reverse start order, then remove the directory (best effort)."""
        with self._lock:
            if self._admin is not None:
                with contextlib.suppress(Exception):
                    self._admin.logout()
                self._admin = None
            if self._workers is not None:
                self._workers.stop_autoscale()
            if self.config.keep:
                (self.directory / OWNER_FILE).unlink(missing_ok=True)  # kept: not a crash to sweep
                self.runtime.detach()
                self._restore_environ()
                return
            for service in reversed(self.services):
                try:
                    self.runtime.stop(service)
                except Exception as exc:  # keep stopping the others
                    log.warning("could not stop %s: %s", service.name, exc)
            self.services.clear()
            self._save_coverage()
            leftovers = sweep(self.marker)
            if leftovers:
                log.warning("killed leftover processes %s of %s", leftovers, self.directory)
            self.runtime.close()
            self._restore_environ()
            shutil.rmtree(self.directory, ignore_errors=True)

    def _save_coverage(self) -> None:
        # The hub has stopped, so every daemon has saved its data: combine before the directory goes.
        if self.coverage is None:
            return
        files = self.coverage.data_files()
        if not files:
            log.warning("--cov-hub: the hub wrote no coverage data in %s", self.coverage.directory)
            return
        self.coverage_target.unlink(missing_ok=True)
        combine_coverage(files, self.coverage_target, self.coverage.koji_src)

    def keep_report(self) -> str:
        """How to reach a kept environment from a shell, and how to stop it."""
        lines = [f"boxkoji environment kept in {self.directory}"]
        lines += [f"  {name:9} {url}" for name, url in self.urls.items()]
        if self.realm:
            env = " ".join(f"{k}={v}" for k, v in self.env.items())
            lines.append(f"  shell:    export {env}")
            kt = self.directory / "orch" / f"{ORDINARY_USER}.keytab"
            if kt.exists():
                lines.append(f"  kinit:    kinit -k -t {kt} {ORDINARY_USER}@{self.realm.realm}")
        if self.hub:
            # The full path: the virtualenv pytest ran from is often not on the shell's PATH.
            koji_cli = clients.koji_command()
            lines.append(f"  koji:     {koji_cli} -c {self.koji_config} -p {clients.PROFILE} hello")
        lines.append(f"  stop:     {self.runtime.stop_hint(self.directory)}")
        return "\n".join(lines)


def choose_runtime(config: BoxKojiConfig, marker: str, directory: Path) -> Runtime:
    """processes when asked for, or (auto) when every host program is here; else containers."""
    user = config.service_user if os.geteuid() == 0 else None
    if config.runtime == "processes":
        return ProcessesRuntime(user, marker, keep=config.keep)
    missing = [p for p in hostprogs.PROCESSES_RUNTIME if hostprogs.locate(p) is None]
    if config.runtime == "auto" and not missing:
        return ProcessesRuntime(user, marker, keep=config.keep)
    from pytest_boxkoji.runtimes import containers

    client, problem = containers.probe()
    if client is None:
        if config.runtime == "containers":
            raise BoxKojiError(problem)
        raise BoxKojiError(
            "--boxkoji-runtime=auto found neither runtime usable.\n"
            f"processes: {hostprogs.describe_missing(missing)}\ncontainers: {problem}"
        )
    return containers.ContainersRuntime(
        client,
        marker,
        config.cache_dir,
        [directory],
        keep=config.keep,
        memory=config.container_memory,
        base_image=config.base_image or containers.DEFAULT_BASE,
    )


def service_owner(user: str) -> tuple[int, int]:
    """(uid, gid) the services run as: the service user under root, else whoever runs pytest."""
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise BoxKojiError(
            f"--boxkoji-service-user={user!r}: no such user on this host. PostgreSQL refuses to "
            "run as root, so under root the services need an unprivileged user; create one or "
            "name an existing one (nobody, www-data)."
        ) from None
    return entry.pw_uid, entry.pw_gid
