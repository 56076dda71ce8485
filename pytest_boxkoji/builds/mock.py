"""Fedora's mock for the builders: found or installed once, like Koji's own source.

Debian does not package mock and PyPI has no usable copy, so on such hosts mock is installed from
its release tarball (`--boxkoji-mock-source`: a tarball, a checkout, or a directory holding the
tarballs; else downloaded once from its upstream release) into the cache: a virtualenv of the
system's Python (mock imports the distribution's dnf and rpm bindings) with the few PyPI packages
it needs and `templated-dictionary` (mock 6 needs >= 1.5; PyPI has 1.2), and a copy of mock's
Python tree with the paths its spec file fills at build time. Where the host has mock of its own
(Fedora: `dnf install mock`) that one is used.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from pytest_boxkoji.errors import BoxKojiError
from pytest_boxkoji.kojisrc import extract_safely

VERSION = "6.7-1"
RELEASE_URL = "https://github.com/rpm-software-management/mock/archive/refs/tags/mock-{version}.tar.gz"
TEMPLATED_DICTIONARY_URL = "https://github.com/xsuchy/templated-dictionary/archive/refs/tags/python-templated-dictionary-1.5-1.tar.gz"
# What mock imports from PyPI (its requirements.txt, less rpmautospec-core: only for %autorelease).
REQUIREMENTS = ("jinja2", "pyroute2", "requests", "backoff", "python-dateutil", "distro")
SYSTEM_MOCK = Path("/usr/bin/mock")
# mock needs the distribution's dnf, hawkey, libcomps and rpm modules: only this Python has them.
SYSTEM_PYTHON = Path("/usr/bin/python3")
DEBIAN_PACKAGES = ("dnf", "dnf-plugins-core", "python3-dnf", "python3-rpm", "rpm", "createrepo-c", "sudo")


@dataclass(frozen=True)
class Mock:
    """A mock the builders can run: `program` runs it (as root)."""

    program: Path
    version: str
    origin: str
    # The unpacked tree (mock/py, mock/etc/mock) and templated-dictionary's tarball; None for the
    # system's mock (it has /etc/mock and its Python modules already).
    tree: Path | None = None
    templated_dictionary: Path | None = None

    @property
    def system(self) -> bool:
        return self.tree is None

    @property
    def etc(self) -> Path | None:
        return self.tree / "etc" / "mock" if self.tree else None


def how_to_fix() -> str:
    return (
        "Point --boxkoji-mock-source (ini boxkoji_mock_source, env BOXKOJI_MOCK_SOURCE) at one of:\n"
        f"  - mock's release tarball:  --boxkoji-mock-source=~/Downloads/mock-{VERSION}.tar.gz\n"
        "    (templated-dictionary-*.tar.gz beside it is used too; else it is downloaded)\n"
        "  - a directory holding both tarballs, or a mock checkout (with mock/py/mock.py)\n"
        "  - system: the host's own /usr/bin/mock (Fedora/RHEL: dnf install mock)\n"
        f"Without it, mock {VERSION} is downloaded once from github.com."
    )


def resolve(
    spec: str | None,
    cache: Path,
    progress: Callable[[str], None] = lambda line: None,
    for_image: bool = False,
) -> Mock:
    """The mock `spec` names (None: the system's, else the upstream release), installed.
    `for_image`: only its tree, unpacked, for a builder image to install (images/builder-mock)."""
    if spec in (None, "system") and not for_image:
        if SYSTEM_MOCK.exists():
            return Mock(SYSTEM_MOCK, _system_version(), "the system's mock")
        if spec == "system":
            raise BoxKojiError(
                f"--boxkoji-mock-source=system: this host has no {SYSTEM_MOCK}.\n{how_to_fix()}"
            )
    if spec in (None, "system"):  # the upstream release (a builder image is Debian, whatever this host is)
        mock_tar = _download(RELEASE_URL.format(version=VERSION), cache)
        return install(mock_tar, _download(TEMPLATED_DICTIONARY_URL, cache), cache, progress, for_image)
    path = Path(spec).expanduser()
    if not path.exists():
        raise BoxKojiError(f"--boxkoji-mock-source={spec!r}: {path} does not exist.\n{how_to_fix()}")
    if path.is_dir() and (path / "mock" / "py" / "mock.py").exists():
        return install(path, _beside(path.parent, cache), cache, progress, for_image)
    if path.is_dir():
        tarballs = sorted(path.glob("mock-*.tar.gz"))
        if not tarballs:
            raise BoxKojiError(
                f"--boxkoji-mock-source={spec!r}: {path} holds no mock-*.tar.gz and is not a mock "
                f"checkout.\n{how_to_fix()}"
            )
        return install(tarballs[-1], _beside(path, cache), cache, progress, for_image)
    return install(path, _beside(path.parent, cache), cache, progress, for_image)


def _beside(directory: Path, cache: Path) -> Path:
    found = sorted(directory.glob("templated-dictionary-*.tar.gz"))
    return found[-1] if found else _download(TEMPLATED_DICTIONARY_URL, cache)


def _download(url: str, cache: Path) -> Path:
    target = cache / "mock" / "downloads" / url.rsplit("/", 1)[-1]
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=20) as answer:
            data = answer.read()
    except (urllib.error.URLError, OSError) as exc:
        raise BoxKojiError(f"could not download {url}: {exc}.\n{how_to_fix()}") from None
    partial = target.with_suffix(".partial")
    partial.write_bytes(data)
    partial.rename(target)
    return target


def _digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for path in paths:
        if path.is_dir():
            h.update(str(path.resolve()).encode())  # a checkout: its place (it is edited in place)
            h.update(str(path.stat().st_mtime_ns).encode())
        else:
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def install(
    source: Path,
    templated_dictionary: Path,
    cache: Path,
    progress: Callable[[str], None],
    for_image: bool = False,
) -> Mock:
    """mock from `source` (tarball or checkout) in `<cache>/mock/<digest>`, made once: its tree
    (what mock.spec's %build makes of it), then, for this host, a virtualenv to run it."""
    root = cache / "mock" / _digest(source, templated_dictionary)
    root.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root) + ".lock"):
        if not (root / ".tree").exists():
            progress(f"mock: unpacking {source.name} into {root} (once per machine)")
            _tree(root, source)
        if not for_image and not (root / ".complete").exists():
            progress(f"mock: making its virtualenv in {root} (once per machine)")
            _venv(root, templated_dictionary)
            (root / ".complete").write_text(source.name + "\n")
    return Mock(
        root / "bin" / "mock",
        _tree_version(root / "mock"),
        str(source),
        tree=root / "mock",
        templated_dictionary=templated_dictionary,
    )


def _tree(root: Path, source: Path) -> None:
    if root.exists():
        shutil.rmtree(root)
    work = Path(tempfile.mkdtemp(prefix=".mock-", dir=root.parent))
    try:
        tree = _unpack(source, work)
        shutil.copytree(tree / "mock" / "py", work / "mock" / "py", symlinks=True)
        shutil.copytree(tree / "mock" / "etc" / "mock", work / "mock" / "etc" / "mock", symlinks=True)
        version = _spec_version(tree / "mock" / "mock.spec")
        _fill_constants(work / "mock" / "py" / "mockbuild" / "constants.py", version, root)
        (work / "mock" / "VERSION").write_text(version + "\n")
        shutil.rmtree(work / "unpacked", ignore_errors=True)  # a checkout is not ours to remove
        (work / ".tree").touch()
        work.rename(root)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _venv(root: Path, templated_dictionary: Path) -> None:
    """A virtualenv of the system's Python (it sees dnf, rpm, libcomps) with what mock imports."""
    if not SYSTEM_PYTHON.exists():
        raise BoxKojiError(
            f"mock needs {SYSTEM_PYTHON} with dnf: apt-get install {' '.join(DEBIAN_PACKAGES)}"
        )
    probe = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import dnf, rpm, libcomps"], capture_output=True, text=True
    )
    if probe.returncode != 0 or not shutil.which("dnf-3"):
        raise BoxKojiError(
            "mock needs Debian's dnf (the dnf-3 command and its Python modules): "
            f"apt-get install {' '.join(DEBIAN_PACKAGES)}"
        )
    venv = root / "venv"
    shutil.rmtree(venv, ignore_errors=True)
    _run([str(SYSTEM_PYTHON), "-m", "venv", "--system-site-packages", str(venv)])
    _run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            *REQUIREMENTS,
            str(templated_dictionary),
        ]
    )
    (root / "bin").mkdir(exist_ok=True)
    program = root / "bin" / "mock"
    program.write_text(
        "#!/bin/sh\n# mock, installed by pytest-boxkoji\n"
        f'exec {venv}/bin/python {root}/mock/py/mock.py "$@"\n'
    )
    program.chmod(0o755)


def _unpack(source: Path, work: Path) -> Path:
    if source.is_dir():
        return source
    with tarfile.open(source) as tar:
        extract_safely(tar, work / "unpacked", BoxKojiError)
    (top,) = (work / "unpacked").iterdir()
    return top


def _spec_version(spec: Path) -> str:
    match = re.search(r"^Version:\s*(\S+)", spec.read_text(), re.M) if spec.exists() else None
    return match.group(1) if match else "unknown"


def _fill_constants(constants: Path, version: str, root: Path) -> None:
    """What mock.spec's %build writes: the version, and /etc for its configuration (kojid writes
    the buildroots' configs to /etc/mock/koji and runs `mock -r koji/<name>`)."""
    text = constants.read_text()
    for name, value in (
        ("VERSION", version),
        ("SYSCONFDIR", "/etc"),
        ("PYTHONDIR", f"{root}/mock/py"),
        ("PKGPYTHONDIR", f"{root}/mock/py/mockbuild"),
    ):
        text, count = re.subn(rf"^{name}\s*=.*$", f"{name} = {value!r}", text, flags=re.M)
        if count != 1:
            raise BoxKojiError(
                f"mock's {constants.name} has no {name} line: not a mock tree this version knows"
            )
    constants.write_text(text)


def _tree_version(tree: Path) -> str:
    file = tree / "VERSION"
    return file.read_text().strip() if file.exists() else "unknown"


def _system_version() -> str:
    done = subprocess.run(
        [str(SYSTEM_MOCK), "--version"], capture_output=True, text=True, env={**os.environ, "SUDO_UID": "0"}
    )
    return done.stdout.strip() or "unknown"


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise BoxKojiError(f"installing mock: {' '.join(command)} failed:\n{done.stdout}{done.stderr}")
