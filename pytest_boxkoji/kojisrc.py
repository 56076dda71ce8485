"""Where Koji's server code comes from: a local tree, a release tarball, a git repository at a
ref, or a release version (downloaded).

Resolved once and cached under ``<cache>/koji``; a second resolution costs a directory check.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from pytest_boxkoji.errors import BoxKojiError, KojiSourceError, KojiSourceUnavailable
from pytest_boxkoji.partkey import Key

RELEASE_URL = "https://releases.pagure.org/koji/koji-{version}.tar.bz2"
# sha256 of release tarballs we have verified; others are accepted unverified (and say so).
RELEASE_SHA256: dict[str, str] = {}
_VERSION = re.compile(r"^\d+\.\d+(\.\d+)?$")
_URL = re.compile(r"^(https?|git|ssh|file)://|^git@")
_TARBALL = re.compile(r"\.(tar(\.(bz2|gz|xz))?|tgz|tbz2)$")


@dataclass(frozen=True)
class KojiSource:
    """A resolved, complete Koji source tree."""

    path: Path
    version: str
    origin: str  # how it was obtained, for reports

    @property
    def schema(self) -> Path:
        return self.path / "schemas" / "schema.sql"


SOURCE: Key[KojiSource] = Key("source")  # its part's name, typed with this handle (graph.Key)


def how_to_fix() -> str:
    return (
        "Point --boxkoji-koji-source (ini boxkoji_koji_source, env BOXKOJI_KOJI_SOURCE) at one of:\n"
        "  - a Koji source tree:        --boxkoji-koji-source=~/src/koji\n"
        "  - a release tarball:         --boxkoji-koji-source=~/Downloads/koji-1.35.3.tar.bz2\n"
        "  - a git repository and ref:  --boxkoji-koji-source=https://pagure.io/koji.git@koji-1.35.3\n"
        "                               (or a local clone: /path/to/koji@koji-1.35.3)\n"
        "  - a release version:         --boxkoji-koji-source=1.35.3 (downloaded once from "
        "releases.pagure.org, then cached)"
    )


def check_tree(path: Path, spec: str) -> None:
    """Raise unless path looks like Koji's source tree (hub code and schema present)."""
    if not path.is_dir():
        raise KojiSourceError(f"Koji source {spec!r}: {path} is not a directory.\n{how_to_fix()}")
    missing = [p for p in ("kojihub", "schemas/schema.sql") if not (path / p).exists()]
    if missing:
        raise KojiSourceError(
            f"Koji source {spec!r}: {path} is not a Koji source tree: it has no "
            f"{' and no '.join(missing)}.\n{how_to_fix()}"
        )


def tree_version(path: Path) -> str:
    """The Koji version a tree declares (koji.spec, then setup.py); 'unknown' otherwise."""
    for name, pattern in (
        ("koji.spec", r"^Version:\s*(\S+)"),
        ("setup.py", r"version=['\"]([^'\"]+)"),
    ):
        file = path / name
        if file.is_file():
            match = re.search(pattern, file.read_text(errors="replace"), re.M)
            if match:
                return match.group(1)
    return "unknown"


def resolve(spec: str, cache_dir: Path, explicit: bool = True) -> KojiSource:
    """Turn SPEC into a Koji source tree on disk, fetching and caching it if needed.

    When the default release (explicit=False) cannot be obtained, KojiSourceUnavailable is
    raised so that tests needing it skip instead of failing.
    """
    spec = spec.strip()
    if _VERSION.match(spec):
        return _release(spec, cache_dir, explicit)
    local = Path(spec).expanduser()
    if _TARBALL.search(spec) and not local.is_dir():
        return _tarball(local, spec, cache_dir)
    if local.is_dir() and not _is_bare_repo(local):
        # A checkout is used as it is, uncommitted edits included: that is what developers want.
        check_tree(local, spec)
        return KojiSource(local.resolve(), tree_version(local), f"local tree {local.resolve()}")
    repo, ref = spec, "HEAD"
    at = spec.rfind("@")
    if at > 0 and "/" not in spec[at:] and ":" not in spec[at:]:
        repo, ref = spec[:at], spec[at + 1 :]
    if _URL.match(repo) or Path(repo).expanduser().is_dir():
        return _git(repo, ref, cache_dir)
    raise KojiSourceError(
        f"Koji source {spec!r}: not a directory, a git repository or a version.\n{how_to_fix()}"
    )


def _is_bare_repo(path: Path) -> bool:
    return (path / "HEAD").is_file() and (path / "objects").is_dir()


def _git(repo: str, ref: str, cache_dir: Path) -> KojiSource:
    local = Path(repo).expanduser()
    gitdir: str
    if local.is_dir():
        gitdir = str(local.resolve())
    else:
        mirror = cache_dir / "git" / hashlib.sha256(repo.encode()).hexdigest()[:16]
        with FileLock(str(mirror) + ".lock"):
            try:
                if mirror.exists():
                    _run(
                        ["git", "--git-dir", str(mirror), "fetch", "--tags", "--force", "origin"],
                        repo,
                    )
                else:
                    mirror.parent.mkdir(parents=True, exist_ok=True)
                    _run(["git", "clone", "--mirror", "--quiet", repo, str(mirror)], repo)
            except KojiSourceError:
                if not mirror.exists():
                    raise
        gitdir = str(mirror)
    commit = _run(["git", "-C", gitdir, "rev-parse", "--verify", f"{ref}^{{commit}}"], f"{repo}@{ref}")
    target = cache_dir / "koji" / f"git-{commit[:16]}"
    if not target.is_dir():
        with FileLock(str(target) + ".lock"):
            if not target.is_dir():
                target.parent.mkdir(parents=True, exist_ok=True)
                archive = subprocess.run(
                    ["git", "-C", gitdir, "archive", "--format=tar", commit],
                    check=True,
                    capture_output=True,
                ).stdout
                _unpack(archive, "", target, f"{repo}@{ref} (commit {commit[:12]})")
    return KojiSource(target, tree_version(target), f"git {repo}@{ref} ({commit[:12]})")


def _run(cmd: list[str], spec: str) -> str:
    try:
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise KojiSourceError(
            f"Koji source {spec!r} is a git repository, but git is not installed."
        ) from None
    except subprocess.CalledProcessError as exc:
        raise KojiSourceError(
            f"Koji source {spec!r}: `{' '.join(cmd)}` failed:\n{exc.stderr.strip()}\n{how_to_fix()}"
        ) from None
    return done.stdout.strip()


def release_dir(cache_dir: Path, version: str) -> Path:
    """Where a downloaded release lives once unpacked."""
    return cache_dir / "koji" / f"koji-{version}"


def _release(version: str, cache_dir: Path, explicit: bool) -> KojiSource:
    target = release_dir(cache_dir, version)
    if target.is_dir():
        check_tree(target, version)
        return KojiSource(target, version, f"release {version} (cached in {target})")
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not target.is_dir():
            data = _download(version, explicit)
            _verify(version, data)
            _unpack(data, f"koji-{version}", target, f"release {version}")
    return KojiSource(target, version, f"release {version} (downloaded to {target})")


def _tarball(path: Path, spec: str, cache_dir: Path) -> KojiSource:
    """A release tarball on disk (koji-X.Y.Z.tar.bz2), unpacked once into the cache.

    Keyed by content, not name: a different file under the same name is unpacked anew.
    """
    if not path.is_file():
        raise KojiSourceError(f"Koji source {spec!r}: no such file {path}.\n{how_to_fix()}")
    data = path.read_bytes()
    name = _TARBALL.sub("", path.name)
    target = cache_dir / "koji" / f"{name}-{hashlib.sha256(data).hexdigest()[:12]}"
    if not target.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(target) + ".lock"):
            if not target.is_dir():
                _unpack(data, None, target, f"tarball {path}")
    return KojiSource(target, tree_version(target), f"tarball {path.resolve()} (unpacked in {target})")


def _unpack(data: bytes, top: str | None, target: Path, what: str) -> None:
    """Unpack a tar archive's `top` directory to `target` atomically; nothing is left on failure.

    top=None: the archive's single top-level directory, whatever its name.
    """
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
    try:
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
                extract_safely(tar, tmp)
        except tarfile.TarError as exc:
            raise KojiSourceError(f"Koji source {what}: not a readable tar archive ({exc}).") from None
        if top is None:
            entries = list(tmp.iterdir())
            tree = entries[0] if len(entries) == 1 and entries[0].is_dir() else tmp
        else:
            tree = tmp / top if top else tmp
        missing = [p for p in ("kojihub", "schemas/schema.sql") if not (tree / p).exists()]
        if missing:
            raise KojiSourceError(
                f"Koji source {what} is not a Koji source tree: it has no "
                f"{' and no '.join(missing)}.\n{how_to_fix()}"
            )
        tree.chmod(0o755)
        tree.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def extract_safely(tar: tarfile.TarFile, target: Path, error: type[BoxKojiError] = KojiSourceError) -> None:
    """A downloaded or given tarball unpacked under `target` only (no absolute paths, no `..`,
    no devices, no links out of it)."""
    if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4
        tar.extractall(target, filter="data")
        return
    # Older 3.11 (Debian 12's 3.11.2): refuse what the "data" filter would refuse.
    for member in tar.getmembers():
        name = Path(member.name)
        if name.is_absolute() or ".." in name.parts or member.isdev():
            raise error(f"refusing to unpack {member.name!r}: outside the archive's directory")
        if member.issym() or member.islnk():
            link = Path(member.linkname)
            # Where the link points, from the archive's top: inside it, or refused.
            resolved = os.path.normpath(name.parent / link) if member.issym() else os.path.normpath(link)
            if link.is_absolute() or resolved == ".." or resolved.startswith("../"):
                raise error(f"refusing to unpack link {member.name!r} -> {member.linkname!r}")
    tar.extractall(target)


def _download(version: str, explicit: bool) -> bytes:
    url = RELEASE_URL.format(version=version)
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            data: bytes = response.read()
            return data
    except (urllib.error.URLError, OSError) as exc:
        # A version that does not exist (HTTP 404) is a mistake, not being offline.
        offline = not isinstance(exc, urllib.error.HTTPError)
        cls = KojiSourceUnavailable if offline and not explicit else KojiSourceError
        raise cls(
            f"Koji release {version} could not be downloaded from {url}: {exc}.\n{how_to_fix()}"
        ) from None


def _verify(version: str, data: bytes) -> None:
    expected = RELEASE_SHA256.get(version)
    if expected is None:
        return
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise KojiSourceError(
            f"Koji release {version}: checksum mismatch (sha256 {actual}, expected {expected}). "
            "The download was corrupted or tampered with; nothing was cached."
        )
