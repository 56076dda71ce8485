"""The processes runtime: every service is a foreground process driven by a mirakuru executor."""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shutil
import signal
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import psutil
from mirakuru import SimpleExecutor
from mirakuru.base import ENV_UUID
from mirakuru.exceptions import ProcessFinishedWithError

from pytest_boxkoji import findings, hostprogs, ports, servicespy
from pytest_boxkoji.config import BoxKojiConfig
from pytest_boxkoji.findings import Finding
from pytest_boxkoji.runtimes.tools import Endpoint, HostTools
from pytest_boxkoji.runtimes.wait import wait_ready
from pytest_boxkoji.servicelogs import LogSource, file_sources, follow_file
from pytest_boxkoji.services import Service
from pytest_boxkoji.servicespy import ServicesPython, interpreter_says

log = logging.getLogger(__name__)
SESSION_MARKER = "BOXKOJI_SESSION"


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text[-lines:]) or f"({path} is empty)"


def logs_of(service: Service) -> str:
    return "\n".join(
        f"Last lines of {path}:\n{log_tail(path)}" for path in (service.log, *service.extra_logs)
    )


class ServiceExecutor(SimpleExecutor):
    """Runs one Service's process; waiting for it to be ready is runtimes/wait.py's job."""

    def __init__(self, service: Service, user: str | None, marker: str, keep: bool = False) -> None:
        self.service = service
        self.keep = keep
        service.log.parent.mkdir(parents=True, exist_ok=True)
        self._logfile: IO[Any] = open(service.log, "ab")  # noqa: SIM115 - closed in close_log()
        popen: dict[str, Any] = {}
        if user is not None:
            entry = pwd.getpwnam(user)
            popen = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        super().__init__(
            service.command,
            cwd=str(service.cwd) if service.cwd else None,
            envvars={**service.env, SESSION_MARKER: marker},
            stdin=None,
            stdout=self._logfile,
            stderr=self._logfile,
            popen_kwargs=popen,
        )

    @property
    def envvars(self) -> dict[str, str]:
        envs = super().envvars
        # Never mirakuru's marker: its atexit sweep SIGKILLs every process whose marker merely
        # *contains* the exiting Python's pid (a substring match), so any short-lived Python that
        # used mirakuru (a nested pytest, a `boxkoji` command, another session's) killed services
        # whose marker held its pid's digits; more likely with many processes (pytest-xdist) and
        # pids that wrap at 32768. Kept services must outlive us anyway; the others are stopped
        # by their group (stop) and swept by this session's own marker (close, crash sweep).
        envs.pop(ENV_UUID, None)
        return envs

    def exited(self) -> str | None:
        if self.process is not None and self.process.poll() is not None:
            return f"exited with code {self.process.returncode}"
        return None

    def close_log(self) -> None:
        self._logfile.close()


class AdoptedProcess:
    """A service process that another process started and detached (`boxkoji up --detach`,
    --boxkoji-keep), taken over by its pid; the start time tells it from a later process that
    got the same pid."""

    def __init__(self, pid: int, started: float, marker: str) -> None:
        self.pid, self.marker = pid, marker
        self.process: psutil.Process | None = None
        with contextlib.suppress(psutil.Error):
            found = psutil.Process(pid)
            if abs(found.create_time() - started) < 0.5:
                self.process = found

    def running(self) -> bool:
        try:
            return self.process is not None and self.process.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    def _group(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.NoSuchProcess):
            if self.process is not None:
                return [self.process, *self.process.children(recursive=True)]
        # Its main process died (killed): what it started may live on in its group (Apache's
        # children keep the port), found by group and marker.
        found = []
        for pid in session_pids(self.marker):
            with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):
                if os.getpgid(pid) == self.pid:
                    found.append(psutil.Process(pid))
        return found

    def stop(self, stop_signal: int = signal.SIGTERM, timeout: float = 15) -> None:
        """The stop signal to the process's group (each service runs in its own session, as mirakuru
        starts it), then SIGKILL for what is left after `timeout`."""
        group = self._group()
        if not group:
            return
        if not self.running():  # leftovers of a service that died: nothing to stop gracefully
            stop_signal, timeout = signal.SIGKILL, 5
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, stop_signal)
        _, left = psutil.wait_procs(group, timeout=timeout)
        for proc in left:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(left, timeout=5)

    def kill(self) -> None:
        for proc in self._group():
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()

    def close_log(self) -> None:
        """Its log belongs to the process that started it."""


class ProcessesRuntime:
    """Starts services as local processes; as root, as the unprivileged service user."""

    name = "processes"
    own_filesystem = False

    def __init__(self, service_user: str | None, marker: str, keep: bool = False) -> None:
        self.service_user = service_user
        self.marker = marker
        self.keep = keep
        self.executors: dict[str, ServiceExecutor | AdoptedProcess] = {}
        self.mounts: list[Path] = []  # none needed: the services see this host

    def start(self, service: Service) -> None:
        user = self.service_user if service.unprivileged else None
        executor = ServiceExecutor(service, user, self.marker, self.keep)
        self.executors[service.name] = executor
        try:
            executor.start()
            wait_ready(service, executor.exited, lambda: logs_of(service))
        except BaseException:
            # Whatever it started (Apache's children too) goes; the error says why.
            self.executors.pop(service.name, None)
            with contextlib.suppress(Exception):
                executor.kill()
            executor.close_log()
            raise

    def stop(self, service: Service) -> None:
        executor = self.executors.pop(service.name, None)
        if executor is None:
            return
        try:
            executor.stop(stop_signal=service.stop_signal)
        except ProcessFinishedWithError:
            pass  # servers stopped by a signal exit with varied codes; none of them is a failure
        except Exception as exc:  # best effort: teardown must not hide the test's own error
            log.warning("stopping %s: %s", service.name, exc)
            executor.kill()
        finally:
            executor.close_log()

    def refs(self) -> dict[str, str]:
        """pid/start time of each service's process: what `adopt` takes over in another process."""
        found = {}
        for name, executor in self.executors.items():
            if executor.process is not None:
                with contextlib.suppress(psutil.NoSuchProcess):
                    pid = executor.process.pid
                    found[name] = f"{pid}/{psutil.Process(pid).create_time()}"
        return found

    def adopt(self, service: Service, ref: str, endpoints: Sequence[Endpoint] = ()) -> None:
        """Take over a service that another process started and detached (refs() there)."""
        pid, started = ref.split("/")
        self.executors[service.name] = AdoptedProcess(int(pid), float(started), self.marker)

    def restart(self, service: Service) -> None:
        executor = self.executors.get(service.name)
        if service.reload is not None and executor is not None and executor.process is not None:
            service.reload(executor.process.pid)
            return
        self.stop(service)
        self.start(service)

    def where(self, service: Service) -> str:
        executor = self.executors.get(service.name)
        return f"pid {executor.process.pid}" if executor is not None and executor.process is not None else "-"

    def memory_used(self, service: Service) -> int | None:
        executor = self.executors.get(service.name)
        if executor is None or executor.process is None or not executor.running():
            return None
        try:
            proc = psutil.Process(executor.process.pid)
            return int(sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]))
        except psutil.NoSuchProcess:
            return None

    def output(self, service: Service, follow: bool = False) -> Iterator[str]:
        yield from follow_file(service.log, lambda: follow and self.alive(service))

    def pids(self) -> list[int]:
        found = set(session_pids(self.marker))
        # Programs that rewrite their process title (PostgreSQL) also hide their environment.
        for executor in self.executors.values():
            if executor.process is None:
                continue
            try:
                proc = psutil.Process(executor.process.pid)
                found.update([proc.pid, *(child.pid for child in proc.children(recursive=True))])
            except psutil.NoSuchProcess:
                continue
        return sorted(found)

    def endpoint(self, service: str, port: int, client_port: int | None = None) -> Endpoint:
        """A free port on 127.0.0.1, the same for the services and the test process."""
        (free,) = [client_port] if client_port else ports.claim(1)
        return Endpoint(
            bind="127.0.0.1", host="127.0.0.1", port=free, client_host="127.0.0.1", client_port=free
        )

    def on_this_host(self) -> Endpoint:
        (free,) = ports.claim(1)
        return Endpoint(
            bind="127.0.0.1", host="127.0.0.1", port=free, client_host="127.0.0.1", client_port=free
        )

    def tools(self, image: str, *programs: hostprogs.Program) -> HostTools:
        return HostTools(*programs)

    def mount(self, path: Path) -> None:
        """Every host path is already where the services run."""

    def services_python(self, config: BoxKojiConfig, koji_version: str) -> ServicesPython:
        return servicespy.ensure(config.cache_dir, config.services_python, koji_version)

    def kill(self, service: Service) -> None:
        """SIGKILL the service's process and its children (tests of failure handling use it): as a
        container's death would, for Apache's children keep serving when only their parent dies."""
        executor = self.executors.get(service.name)
        if executor is None or executor.process is None:
            return
        with contextlib.suppress(psutil.NoSuchProcess):
            main = psutil.Process(executor.process.pid)
            for process in [main, *main.children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    process.kill()

    def logs(self, service: Service) -> str:
        return logs_of(service)

    def log_sources(self, service: Service) -> list[LogSource]:
        return file_sources(service)  # the process's output is in service.log

    def dead(self, services: Sequence[Service]) -> list[Service]:
        return [service for service in services if not self.alive(service)]

    def alive(self, service: Service) -> bool:
        executor = self.executors.get(service.name)
        return executor is not None and executor.running()

    def share(self, service: Service, other: object) -> list[str]:
        """Nothing to do: every process listens on this host's 127.0.0.1."""
        return []

    def unshare(self, names: Sequence[str]) -> None:
        """Nothing was made."""

    def detach(self) -> None:
        """Forget every process without stopping it (--boxkoji-keep)."""
        for executor in self.executors.values():
            executor.process = None
            executor.close_log()
        self.executors.clear()

    def stop_hint(self, directories: Sequence[Path]) -> str:
        pids = " ".join(str(p) for p in self.pids())  # PostgreSQL's workers included
        # `;`: a process that ended meanwhile (a database connection) must not keep the rest.
        return f"kill {pids} 2>/dev/null; rm -rf {' '.join(map(str, directories))}"

    def close(self) -> None:
        """The safety net: kill whatever still carries this session's marker."""
        leftovers = sweep(self.marker)
        if leftovers:
            log.warning("killed leftover processes %s of session %s", leftovers, self.marker)


def session_pids(marker: str) -> list[int]:
    """Every live process carrying this session's marker, whoever started it."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get(SESSION_MARKER) == marker:
                found.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def sweep(marker: str) -> list[int]:
    """Kill every process left with this marker (the safety net after a crash or Ctrl-C)."""
    pids = session_pids(marker)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return pids


def doctor_checks(settings: BoxKojiConfig) -> list[Finding]:
    """`boxkoji doctor`: the host's programs, the Python the services' virtualenv is made from
    (venv, headers, a compiler for mod_wsgi, kojid's system modules), the service user."""
    programs = (*hostprogs.PROCESSES_RUNTIME, hostprogs.APACHE, hostprogs.CREATEREPO)
    checks = [findings.program(p) for p in programs]
    python = settings.services_python
    if not python.exists():
        checks.append(
            Finding(
                "services' Python",
                False,
                f"{python} does not exist",
                ("python3", "python3-venv"),
                ("python3",),
            )
        )
        return checks
    ok, why = findings.imports(str(python), "venv, ensurepip")
    checks.append(
        Finding(f"venv for {python}", ok, "available" if ok else why, ("python3-venv",), ("python3",))
    )
    ask = "import sysconfig; print(sysconfig.get_paths()['include'])"
    include = interpreter_says(python, ask).stdout.strip()
    header = Path(include) / "Python.h"
    checks.append(
        Finding(
            "Python headers (mod_wsgi build)",
            header.exists(),
            str(header) if header.exists() else f"{header} missing",
            ("python3-dev",),
            ("python3-devel",),
        )
    )
    compiler = shutil.which("gcc") or shutil.which("cc")
    checks.append(Finding("C compiler", compiler is not None, compiler or "no gcc or cc", ("gcc",), ("gcc",)))
    ok, why = findings.imports(str(python), "rpm, dnf, librepo")
    checks.append(
        Finding(
            f"kojid's system modules for {python}",
            ok,
            "rpm, dnf, librepo importable" if ok else why,
            ("python3-rpm", "python3-dnf", "python3-librepo"),
            ("python3-rpm", "python3-dnf", "python3-librepo"),
        )
    )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(settings.service_user)
            checks.append(Finding("service user (under root)", True, settings.service_user))
        except KeyError:
            checks.append(
                Finding(
                    "service user (under root)",
                    False,
                    f"no user {settings.service_user!r}",
                    fix=f"useradd --system {settings.service_user} (or --boxkoji-service-user=nobody)",
                )
            )
    return checks
