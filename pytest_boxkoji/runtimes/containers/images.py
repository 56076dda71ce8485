"""The service images: built from the Dockerfiles shipped in the package, on the configured base
image, with a wheelhouse of the services' Python packages (the containers cannot reach PyPI)."""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from pytest_boxkoji import progress, servicespy
from pytest_boxkoji.errors import BoxKojiError

log = logging.getLogger(__name__)

# Shipped inside the package: an installed (non-editable) plugin builds its images from here.
DOCKERFILES = Path(__file__).resolve().parent.parent.parent / "images"
DEFAULT_BASE = "docker.io/library/debian:bookworm-slim"
# Where Debian's packages put the programs the service descriptions name.
IMAGE_PATHS = {
    "postgres": "/usr/lib/postgresql/15/bin/postgres",
    "initdb": "/usr/lib/postgresql/15/bin/initdb",
    "apache2": "/usr/sbin/apache2",
    "mod_ssl.so": "/usr/lib/apache2/modules/mod_ssl.so",
    "mod_auth_gssapi.so": "/usr/lib/apache2/modules/mod_auth_gssapi.so",
    "rabbitmq-server": "/usr/lib/rabbitmq/bin/rabbitmq-server",
}
# Debian's apache2 has these compiled in (a LoadModule for them would fail).
IMAGE_BUILTIN_MODULES = {"mod_unixd.so", "mod_log_config.so"}
SERVICES_VENV = Path("/opt/boxkoji/venv")


class Images:
    """Service images built from containers/, tagged by a hash of their inputs, kept as a cache."""

    def __init__(self, client: Any, cache_dir: Path, base_image: str = DEFAULT_BASE) -> None:
        self.client = client
        self.cache_dir = cache_dir
        self.base_image = base_image
        self.built: dict[str, str] = {}
        self._lock = threading.RLock()

    def wheelhouse(self) -> Path:
        """Python packages for the services' virtualenv, downloaded on the host once."""
        wheels = servicespy.wheel_specs()
        key = hashlib.sha256("\n".join((*wheels, servicespy.MOD_WSGI)).encode()).hexdigest()[:12]
        target = self.cache_dir / "wheelhouse" / key
        if not (target / ".complete").exists():
            progress.say(f"downloading the services' Python packages into {target} (once)")
            target.mkdir(parents=True, exist_ok=True)
            linux = [
                "--python-version",
                "3.11",
                "--implementation",
                "cp",
                "--platform",
                "manylinux2014_x86_64",
                "--platform",
                "manylinux_2_28_x86_64",
            ]
            done = _pip_download(target, "--only-binary", ":all:", *linux, *wheels)
            if done.returncode == 0:
                # mod_wsgi is built in the hub image, against the services' Python.
                done = _pip_download(target, "--no-binary", "mod_wsgi", servicespy.MOD_WSGI)
            if done.returncode != 0:
                raise BoxKojiError(
                    f"Downloading the services' Python packages failed:\n{done.stderr[-2000:]}"
                )
            (target / ".complete").touch()
        return target

    def ensure(
        self, name: str, files: dict[str, Path] | None = None, args: dict[str, str] | None = None
    ) -> str:
        """The tag of image `name` (base, kdc, ...), built now if its inputs changed: its
        Dockerfile, and the `files` and build `args` a service adds (Service.image_files)."""
        # Services start in parallel: one build of each image, the others wait for it.
        with self._lock:
            return self._ensure(name, files or {}, args or {})

    def _ensure(
        self, name: str, files: dict[str, Path] | None = None, given: dict[str, str] | None = None
    ) -> str:
        files, given = files or {}, given or {}
        dockerfile = DOCKERFILES / name / "Dockerfile"
        args: dict[str, str] = dict(given)
        digest = hashlib.sha256(dockerfile.read_bytes())
        for key in sorted(args):
            digest.update(f"{key}={args[key]}".encode())
        for file_name in sorted(files):
            digest.update(file_name.encode() + _content_digest(files[file_name]))
        memo = f"{name}:{digest.hexdigest()}"
        if memo in self.built:
            return self.built[memo]
        context = Path(tempfile.mkdtemp(prefix="boxkoji-image-"))
        try:
            shutil.copy(dockerfile, context / "Dockerfile")
            for file_name, path in files.items():
                if path.is_dir():
                    shutil.copytree(path, context / file_name, symlinks=True)
                else:
                    shutil.copy(path, context / file_name)
            if name == "builder-mock":
                args["BOXKOJI_BUILDER"] = self._ensure("builder")
                digest.update(args["BOXKOJI_BUILDER"].encode())
            elif name == "base":
                args["BASE_IMAGE"] = self.base_image
                args["DEBIAN_PYTHON"] = " ".join(servicespy.debian_packages())
                digest.update(self.base_image.encode())
                digest.update(args["DEBIAN_PYTHON"].encode())
                wheels = self.wheelhouse()
                shutil.copytree(wheels, context / "wheelhouse")
                digest.update("\n".join(sorted(p.name for p in wheels.iterdir())).encode())
            else:
                args["BOXKOJI_BASE"] = self._ensure("base")
                digest.update(args["BOXKOJI_BASE"].encode())
            tag = f"localhost/boxkoji-{name}:{digest.hexdigest()[:16]}"
            if not self.client.images.list(name=tag):
                self._build(context, tag, args, name)
        finally:
            shutil.rmtree(context, ignore_errors=True)
        self.built[memo] = tag
        return tag

    def _build(self, context: Path, tag: str, args: dict[str, str], name: str) -> None:
        # Progress on the terminal: a cold build takes minutes.
        progress.say(f"building image {tag}")
        start = time.monotonic()
        last = ""
        for chunk in self.client.api.build(
            path=str(context),
            tag=tag,
            buildargs=args,
            rm=True,
            decode=True,
            labels={"io.pytest-boxkoji.image": name},
        ):
            if "error" in chunk:
                raise BoxKojiError(f"Building image {name} ({tag}) failed: {chunk['error'].strip()}\n{last}")
            line = str(chunk.get("stream", "")).strip()
            if line:
                last = line
                if line.startswith("STEP") or line.startswith("Step"):
                    progress.say(f"  {line[:120]}")
        progress.say(f"built {tag} in {time.monotonic() - start:.0f} s")


def _content_digest(path: Path) -> bytes:
    """What a file or a directory tree holds, as a digest (names, modes and contents)."""
    h = hashlib.sha256()
    paths = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in paths:
        h.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        h.update(oct(file.stat().st_mode).encode())
        h.update(file.read_bytes())
    return h.digest()


def _pip_download(target: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps"]
    return subprocess.run([*command, "-d", str(target), *args], capture_output=True, text=True, check=False)
