"""The Python environment the services run in (hub under mod_wsgi, later kojid and kojiweb).

It is not the test process's interpreter: Apache loads mod_wsgi built against it, and the
unprivileged service user must be able to read it. Built once per (interpreter, requirements)
and cached; a second session only checks a marker file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from pytest_boxkoji import hostprogs, progress
from pytest_boxkoji.errors import ServicesPythonError
from pytest_boxkoji.partkey import Key

MESSAGES = "messages"  # the extra of the hub's protonmsg plugin


@dataclass(frozen=True)
class Requirement:
    """One Python package of the services' virtualenv."""

    spec: str
    # The Debian package the container images take instead: these have no Linux wheel on PyPI
    # (gssapi builds from source), and the images install wheels only.
    debian: str | None = None
    # Installed only when a session needs it (the processes runtime): python-qpid-proton compiles
    # its C library for a minute, and only the hub's protonmsg plugin (the broker) imports it.
    extra: str | None = None


# What Koji's server code imports (the koji library itself comes from the source tree). The one
# list for both runtimes: the processes runtime pip-installs every spec; the images install the
# wheels with --no-deps, so the dependencies are listed too.
REQUIREMENTS = (
    Requirement("psycopg2-binary"),
    Requirement("gssapi", debian="python3-gssapi"),
    Requirement("requests"),
    Requirement("charset-normalizer"),  # requests
    Requirement("idna"),  # requests
    Requirement("urllib3"),  # requests
    Requirement("certifi"),  # requests
    Requirement("requests-gssapi"),
    Requirement("defusedxml"),
    Requirement("python-dateutil"),
    Requirement("six"),
    # kojiweb templates (Koji 1.35) and kojid: CT3 is Cheetah3 continued (same `Cheetah` package);
    # Cheetah3 on PyPI stopped at 3.2.6, which imports `cgi` (gone in Python 3.13, Debian 13).
    Requirement("CT3", debian="python3-cheetah"),
    Requirement("Jinja2"),  # kojiweb templates (Koji after 1.35)
    Requirement("MarkupSafe"),  # Jinja2
    Requirement("python-multilib"),  # kojid
    # --cov-hub and the others: the data format of the test process's coverage; 7.10.4 brought
    # `patch = fork`, which --cov-workers needs for the children kojid forks per task.
    Requirement("coverage>=7.10.4,<8"),
    Requirement("python-qpid-proton", debian="python3-qpid-proton", extra=MESSAGES),  # protonmsg
)
# 6.x hangs request threads as soon as a trace function runs (coverage); 5.0.2 does not.
MOD_WSGI = "mod_wsgi==5.0.2"


def wheel_specs() -> list[str]:
    """What the images' wheelhouse holds (besides mod_wsgi's source, built in the hub image)."""
    return [r.spec for r in REQUIREMENTS if r.debian is None]


def debian_packages() -> list[str]:
    """What the images install from Debian instead."""
    return [r.debian for r in REQUIREMENTS if r.debian is not None]


MARKER = ".boxkoji-complete"


@dataclass(frozen=True)
class ServicesPython:
    """A ready virtualenv: its interpreter and the mod_wsgi module Apache should load."""

    root: Path
    mod_wsgi: Path
    baked: bool = False  # in an image: every extra is there already

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def ensure_extra(self, extra: str) -> None:
        """The packages of `extra` installed too (once per virtualenv, under its lock)."""
        if self.baked or (self.root / f"{MARKER}-{extra}").exists():
            return
        with FileLock(str(self.root) + ".lock"):
            if (self.root / f"{MARKER}-{extra}").exists():
                return
            specs = [r.spec for r in REQUIREMENTS if r.extra == extra]
            with progress.slow(f"adding {', '.join(specs)} to the services' Python (once)"):
                _run([*_pip(self.root), *specs], self.root, remove_on_failure=False)
                _make_readable(self.root)
            (self.root / f"{MARKER}-{extra}").write_text("")


PYTHON: Key[ServicesPython] = Key("python")  # its part's name, typed with this handle (graph.Key)


def interpreter_says(interpreter: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Run `code` in another interpreter (the services' is not the test process's)."""
    return subprocess.run([str(interpreter), "-c", code], capture_output=True, text=True, check=False)


def key(interpreter: Path, koji_version: str) -> str:
    version = interpreter_says(interpreter, "import sys; print(sys.version)").stdout.strip()
    series = ".".join(koji_version.split(".")[:2])
    specs = [r.spec for r in REQUIREMENTS]
    text = json.dumps([str(interpreter.resolve()), version, series, specs, MOD_WSGI])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def ensure(cache_dir: Path, interpreter: Path, koji_version: str) -> ServicesPython:
    """Return the cached services virtualenv, building it first if needed."""
    if not interpreter.exists():
        raise ServicesPythonError(
            f"The services' interpreter {interpreter} does not exist. Install python3 and "
            "python3-venv (Debian) / python3 (Fedora), or point --boxkoji-services-python at an "
            "interpreter outside any private home directory."
        )
    root = cache_dir / "venvs" / key(interpreter, koji_version)
    if (root / MARKER).exists():
        return _load(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root) + ".lock"):
        if not (root / MARKER).exists():
            shutil.rmtree(root, ignore_errors=True)
            with progress.slow(f"building the services' Python in {root} (once)"):
                _build(root, interpreter)
    return _load(root)


def _load(root: Path) -> ServicesPython:
    info = json.loads((root / MARKER).read_text())
    return ServicesPython(root, Path(info["mod_wsgi"]))


def _run(
    command: list[str], root: Path, env: dict[str, str] | None = None, remove_on_failure: bool = True
) -> str:
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        if remove_on_failure:
            shutil.rmtree(root, ignore_errors=True)
        raise ServicesPythonError(
            f"Preparing the services' Python in {root} failed at `{' '.join(command)}`:\n"
            f"{(done.stderr or done.stdout).strip()[-3000:]}"
        )
    return done.stdout


def _pip(root: Path, verb: str = "install") -> list[str]:
    return [str(root / "bin" / "python"), "-m", "pip", verb, "--quiet", "--disable-pip-version-check"]


def _build(root: Path, interpreter: Path) -> None:
    (apxs,) = hostprogs.find(hostprogs.APXS)
    # System site-packages: kojid needs Debian's python3-dnf / python3-librepo / python3-rpm.
    _run([str(interpreter), "-m", "venv", "--system-site-packages", str(root)], root)
    # `pip wheel` of mod_wsgi (a setup.py project) needs `wheel` where pip builds it: Debian 12's
    # pip does not bring it into a new virtualenv ("invalid command 'bdist_wheel'").
    _run([*_pip(root), "wheel"], root)
    built = root / ".mod_wsgi"
    # mod_wsgi compiles while pip installs (and compiles: gssapi, Cheetah3) the rest, side by
    # side on two cores. Never a cached mod_wsgi wheel: one built for another Python would link
    # the wrong libpython.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="boxkoji-pip") as pool:
        wheel = pool.submit(
            _run,
            [
                *_pip(root, "wheel"),
                "--no-cache-dir",
                "--no-deps",
                "--no-binary",
                "mod_wsgi",
                "-w",
                str(built),
                MOD_WSGI,
            ],
            root,
            {**os.environ, "APXS": str(apxs)},
        )
        base = pool.submit(_run, [*_pip(root), *(r.spec for r in REQUIREMENTS if r.extra is None)], root)
        for step in (wheel, base):
            step.result()
    _run([*_pip(root), "--no-deps", *(str(w) for w in built.glob("mod_wsgi-*.whl"))], root)
    shutil.rmtree(built, ignore_errors=True)
    module = _run(
        [str(root / "bin" / "python"), "-c", "import mod_wsgi.server as s; print(s.where())"], root
    ).strip()
    (root / MARKER).write_text(json.dumps({"mod_wsgi": module, "interpreter": str(interpreter)}))
    _make_readable(root)


def _make_readable(root: Path) -> None:
    # The service user (nobody, www-data...) reads this tree; pip keeps umask-based modes.
    for directory, _dirs, files in os.walk(root):
        os.chmod(directory, os.stat(directory).st_mode | 0o755)
        for name in files:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | 0o644)
