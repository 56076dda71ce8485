"""An offline buildroot: an RPM repository made from this host's own Debian packages.

No Fedora mirror is needed for Koji's builders to build real RPMs: each Debian package of a small
closure (what rpmbuild needs, Debian's Essential set and their Depends) becomes one RPM whose
payload is what dpkg installed on this host, plus a few packages dpkg's maintainer scripts would
have made (`filesystem`, `setup`, the alternatives' links) and Fedora-named packages, because
Koji's groups (`build`, `srpm-build`) name packages by their Fedora names and match names only,
never Provides. Debian's dnf installs them into a mock chroot from a `file://` or HTTP repo.

Each RPM is cached by the Debian package it was made from, so an upgraded package rebuilds only
itself; the repository is cached under a key of the whole closure.
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from xml.sax.saxutils import escape

from filelock import FileLock, Timeout

from pytest_boxkoji.errors import BoxKojiError

# Bump when what an RPM holds or how it is made changes: every cached RPM and repo is made again.
RECIPE = 1

# What rpmbuild in a chroot needs, by Debian name (Essential packages come on top).
SEED = (
    "bash", "coreutils", "rpm", "gcc", "make", "binutils", "libc6-dev", "patch", "file", "xz-utils",
    "bzip2", "unzip", "mawk", "passwd", "debugedit", "findutils", "grep", "sed", "tar", "gzip",
    "diffutils", "util-linux", "debianutils",
)  # fmt: skip

# What Fedora's counterpart requires and Debian's only recommends (Koji installs no weak
# dependencies): Debian's gcc without libc6-dev finds no stdio.h.
EXTRA_REQUIRES: dict[str, tuple[str, ...]] = {"gcc": ("libc6-dev",)}

# Packages made here. `debian-base` pulls what Debian takes for granted (the Essential set is never
# in anyone's Depends: without it there is no /bin/sh) and what maintainer scripts would have made.
BASE = "debian-base"
# Fedora's names for what Koji's groups list, on top of the Debian packages that do the work.
FEDORA_NAMES: dict[str, tuple[str, ...]] = {
    "rpm-build": (
        "rpm", "debugedit", "file", "patch", "diffutils", "findutils", "gawk", "grep", "sed", "tar",
        "gzip", "bzip2", "xz", "unzip", "binutils", "redhat-rpm-config", BASE,
    ),
    "shadow-utils": ("passwd", BASE),
    "gawk": ("mawk", BASE),
    "which": ("debianutils", BASE),
    "xz": ("xz-utils", BASE),
    "redhat-rpm-config": ("rpm", BASE),
}  # fmt: skip

# The groups of the build tag (comps ids `build` and `srpm-build`); a scenario lists the same.
BUILD_GROUP = (
    "bash", "bzip2", "coreutils", "diffutils", "findutils", "gawk", "grep", "gzip", "patch",
    "redhat-rpm-config", "rpm-build", "sed", "shadow-utils", "tar", "unzip", "util-linux", "which",
    "xz", BASE,
)  # fmt: skip
SRPM_BUILD_GROUP = ("bash", "make", "redhat-rpm-config", "rpm-build", "shadow-utils", BASE)

# Top-level directories a merged-/usr system links into /usr: dpkg still lists files under them.
MERGED_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Debian's rpm keeps its database in ~/.rpmdb; inside the chroot rpm must find what dnf recorded.
DBPATH_MACROS = "/etc/rpm/macros.dbpath"
DBPATH_MACRO = "%_dbpath /var/lib/rpm\n"
COMPLETE = ".complete"  # written last into a finished repository: holds its number of RPMs
INSTALL = "apt-get install rpm createrepo-c"
# What dpkg-query -W prints for each installed package (tab-separated, one line each).
FIELDS = (
    "binary:Package", "Package", "Architecture", "Version", "db:Status-Abbrev", "Essential",
    "Pre-Depends", "Depends", "Provides",
)  # fmt: skip


@dataclass(frozen=True)
class BuildrootRepo:
    """An RPM repository (with comps groups `build` and `srpm-build`) for mock's buildroot."""

    path: Path  # holds repodata/; serve it as file:// or over HTTP
    key: str  # content key (hex) of the closure it was made from
    packages: int  # number of RPMs


@dataclass(frozen=True)
class Installed:
    """A Debian package installed on this host."""

    name: str
    query_name: str  # what dpkg-query -L takes (libc6:amd64 for Multi-Arch: same packages)
    arch: str
    version: str
    essential: bool = False
    depends: tuple[tuple[str, ...], ...] = ()  # Pre-Depends and Depends; inner tuples: a | b
    provides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Entry:
    """One path of an RPM's payload, with the owner rpm gives it in the chroot."""

    path: str
    is_dir: bool = False
    user: str = "root"
    group: str = "root"


@dataclass(frozen=True)
class Recipe:
    """What one RPM is: its header and its payload (already staged in a build root)."""

    name: str
    version: str
    release: str
    summary: str
    epoch: str = ""
    noarch: bool = False
    requires: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    entries: tuple[Entry, ...] = ()


# --- reading dpkg's database -----------------------------------------------------------------


def parse_depends(text: str) -> tuple[tuple[str, ...], ...]:
    """`a (>= 1) | b:any, c [amd64] <!nocheck>` -> (("a", "b"), ("c",)): names only, since
    every package comes from this one host, whose versions already satisfy each other."""
    result = []
    for clause in text.split(","):
        names = []
        for alternative in clause.split("|"):
            alternative = re.sub(r"\([^)]*\)|\[[^]]*\]|<[^>]*>", " ", alternative).strip()
            if alternative:
                names.append(alternative.split()[0].split(":")[0])
        if names:
            result.append(tuple(names))
    return tuple(result)


def parse_installed(text: str, native_arch: str) -> dict[str, Installed]:
    """Installed packages from `dpkg-query -W` with FIELDS; of a name installed for several
    architectures only the native (or `all`) one counts."""
    packages: dict[str, Installed] = {}
    for line in text.splitlines():
        values = line.split("\t")
        if len(values) != len(FIELDS):
            continue
        query_name, name, arch, version, status, essential, pre_depends, depends, provides = values
        if status[1:2] != "i" or arch not in (native_arch, "all"):
            continue
        packages[name] = Installed(
            name=name,
            query_name=query_name,
            arch=arch,
            version=version,
            essential=essential == "yes",
            depends=parse_depends(pre_depends) + parse_depends(depends),
            provides=tuple(names[0] for names in parse_depends(provides)),
        )
    return packages


def resolve(alternatives: Iterable[str], installed: dict[str, Installed]) -> str | None:
    """The installed package that satisfies `a | b`: the first alternative that is installed
    or provided (virtual packages such as `awk`)."""
    for name in alternatives:
        if name in installed:
            return name
        for package in sorted(installed.values(), key=lambda package: package.name):
            if name in package.provides:
                return package.name
    return None


def closure(installed: dict[str, Installed], seed: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """The seed, the Essential set and everything they depend on (not Recommends: Koji installs
    no weak dependencies): each package name with the names it requires."""
    missing = [name for name in seed if name not in installed]
    if missing:
        raise BoxKojiError(
            "The offline buildroot is made from this host's own Debian packages, and these are not "
            f"installed: {' '.join(missing)}.\nTo fix this: apt-get install {' '.join(missing)}"
        )
    todo = [*seed, *sorted(name for name, package in installed.items() if package.essential)]
    requires: dict[str, tuple[str, ...]] = {}
    while todo:
        name = todo.pop()
        if name in requires:
            continue
        wanted = (resolve(alternatives, installed) for alternatives in installed[name].depends)
        extra = (other for other in EXTRA_REQUIRES.get(name, ()) if other in installed)
        requires[name] = tuple(sorted({other for other in (*wanted, *extra) if other and other != name}))
        todo.extend(requires[name])
    return dict(sorted(requires.items()))


def closure_key(requires: dict[str, tuple[str, ...]], installed: dict[str, Installed]) -> str:
    """What the repository is made from: each package's name, version, architecture and the
    packages it requires (an alternative `a | b` resolves to what is installed)."""
    lines = sorted(
        f"{name} {installed[name].version} {installed[name].arch} -> {' '.join(names)}"
        for name, names in requires.items()
    )
    return hashlib.sha256(f"recipe {RECIPE}\n{chr(10).join(lines)}\n".encode()).hexdigest()


def rpm_evr(version: str) -> tuple[str, str, str]:
    """Debian's `epoch:upstream-revision` as RPM's epoch, version, release (RPM forbids `-`
    and `:` in a version; a native package without revision gets release 0)."""
    epoch, _, rest = version.partition(":") if ":" in version else ("", "", version)
    upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "0")
    return epoch, re.sub(r"[^A-Za-z0-9._+~^]", "_", upstream), re.sub(r"[^A-Za-z0-9._+~^]", "_", revision)


# --- payloads ----------------------------------------------------------------------------------


def merged_dirs(root: Path = Path("/")) -> dict[str, str]:
    """This host's merged-/usr links: {"/bin": "/usr/bin", ...}."""
    links = {}
    for alias in MERGED_DIRS:
        path = root / alias.lstrip("/")
        if path.is_symlink() and os.path.realpath(path) == os.path.realpath(root / "usr" / alias[1:]):
            links[alias] = "/usr" + alias
    return links


def canonical(path: str, merged: dict[str, str]) -> str:
    """The one name of `path` on a merged-/usr system (/bin/sh -> /usr/bin/sh), so that no file
    is packaged twice and /bin stays the `filesystem` package's symlink."""
    for alias, target in merged.items():
        if path == alias or path.startswith(alias + "/"):
            return target + path[len(alias) :]
    return path


def parse_file_list(text: str, merged: dict[str, str]) -> list[str]:
    """A package's paths from `LC_ALL=C dpkg-query -L`: its files where they really are (a file
    another package diverted lives at the diversion's target), canonical and each once."""
    paths: list[str] = []
    for line in text.splitlines():
        if line.startswith("/"):
            paths.append(line)
        elif paths and (line.startswith("diverted by ") or line.startswith("locally diverted to: ")):
            paths[-1] = line.split(" to: ", 1)[1]
        # "package diverts others to: X": this package's own file is the one at the listed path
    seen: dict[str, None] = {}
    for path in paths:
        if path != "/.":
            seen.setdefault(canonical(path, merged), None)
    return list(seen)


def files_line(entry: Entry) -> str:
    """One %files line. Quoted names are taken literally (no globbing of `[`, `*`, `{`, no
    splitting at spaces); only `%` still needs escaping, as `%%`."""
    name = '"' + entry.path.replace("%", "%%") + '"'
    attr = "" if (entry.user, entry.group) == ("root", "root") else f"%attr(-,{entry.user},{entry.group}) "
    return f"{'%dir ' if entry.is_dir else ''}{attr}{name}"


def packageable(path: str) -> bool:
    """Whether rpm's %files can name `path` at all (no quote inside quotes, one line)."""
    return '"' not in path and "\n" not in path and "\r" not in path


def spec_text(recipe: Recipe) -> str:
    """The spec of one RPM whose payload is already in its build root: no %prep, no %install,
    no scripts; dependencies only as written here (AutoReqProv: no)."""
    lines = [
        f"Name: {recipe.name}",
        *([f"Epoch: {recipe.epoch}"] if recipe.epoch else []),
        f"Version: {recipe.version}",
        f"Release: {recipe.release}",
        f"Summary: {recipe.summary}",
        "License: see /usr/share/doc of the Debian package",
        *(["BuildArch: noarch"] if recipe.noarch else []),
        "AutoReqProv: no",
        *(f"Requires: {name}" for name in recipe.requires),
        *(f"Provides: {name}" for name in recipe.provides),
        "",
        "%description",
        f"{recipe.summary}. Made by pytest-boxkoji for an offline Koji buildroot.",
        "",
        "%files",
        "%defattr(-,root,root,-)",
        *(files_line(entry) for entry in recipe.entries),
        "",
    ]
    return "\n".join(lines)


def comps_xml(groups: dict[str, tuple[str, ...]]) -> str:
    """comps.xml with one group per id (`build`, `srpm-build`), each package mandatory."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', "<comps>"]
    for group, names in groups.items():
        parts += [
            "  <group>",
            f"    <id>{escape(group)}</id>",
            f"    <name>{escape(group)}</name>",
            "    <default>true</default>",
            "    <uservisible>false</uservisible>",
            "    <packagelist>",
            *(f'      <packagereq type="mandatory">{escape(name)}</packagereq>' for name in names),
            "    </packagelist>",
            "  </group>",
        ]
    return "\n".join([*parts, "</comps>", ""])


def parse_alternative(text: str) -> list[tuple[str, str]]:
    """(link, target) pairs of one alternative from `LC_ALL=C update-alternatives --query`: the
    master link and the slaves of the selected alternative, as direct symlinks (no
    /etc/alternatives in the chroot: update-alternatives never runs there)."""
    link = value = ""
    slave_links: dict[str, str] = {}
    blocks = text.split("\n\n")
    section = ""
    for line in blocks[0].splitlines():
        if line.startswith("Link: "):
            link = line[6:]
        elif line.startswith("Value: "):
            value = line[7:]
        elif line.startswith("Slaves:"):
            section = "slaves"
        elif line.startswith(" ") and section == "slaves":
            name, _, path = line.strip().partition(" ")
            slave_links[name] = path
        else:
            section = ""
    if not link or not value or value == "none":
        return []
    pairs = [(link, value)]
    for block in blocks[1:]:
        if f"Alternative: {value}\n" not in block + "\n":
            continue
        in_slaves = False
        for line in block.splitlines():
            if line.startswith("Slaves:"):
                in_slaves = True
            elif line.startswith(" ") and in_slaves:
                name, _, path = line.strip().partition(" ")
                if name in slave_links:
                    pairs.append((slave_links[name], path))
    return pairs


# --- making it -----------------------------------------------------------------------------------


def _run(command: list[str], what: str) -> str:
    result = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"}, check=False
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
        raise BoxKojiError(f"{what} failed ({' '.join(command[:3])} ...): exit {result.returncode}\n{tail}")
    return result.stdout


def _require_programs(names: Iterable[str]) -> None:
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        raise BoxKojiError(
            f"The offline buildroot needs {', '.join(missing)} (not found on PATH): it packages this "
            f"host's Debian packages as RPMs and makes a repository of them.\nTo fix this: {INSTALL}"
        )


def _host_packages() -> dict[str, Installed]:
    _require_programs(["dpkg-query"])
    arch = _run(["dpkg", "--print-architecture"], "dpkg --print-architecture").strip()
    fmt = "\t".join(f"${{{name}}}" for name in FIELDS) + "\n"
    return parse_installed(_run(["dpkg-query", "-W", "-f", fmt], "dpkg-query -W"), arch)


def _owner(info: os.stat_result) -> tuple[str, str]:
    try:
        user = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        user = "root"
    try:
        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        group = "root"
    return user, group


def _stage(paths: Iterable[str], root: Path) -> list[Entry]:
    """Copy `paths` from this host into build root `root` (modes and symlinks kept; owners go
    into %attr) and describe them; paths gone from the host (dpkg path-excludes) are left out."""
    entries = []
    for path in paths:
        host = Path(path)
        try:
            info = host.lstat()
        except FileNotFoundError:
            continue
        if not packageable(path):
            continue
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if stat.S_ISLNK(info.st_mode):
            target.symlink_to(os.readlink(host))
        elif stat.S_ISDIR(info.st_mode):
            target.mkdir(exist_ok=True)
            target.chmod(stat.S_IMODE(info.st_mode))
        elif stat.S_ISREG(info.st_mode):
            shutil.copy2(host, target, follow_symlinks=False)
        else:
            continue  # no device nodes or fifos in a buildroot's packages
        user, group = _owner(info)
        entries.append(Entry(path, is_dir=stat.S_ISDIR(info.st_mode), user=user, group=group))
    return entries


def _rpmbuild(recipe: Recipe, root: Path, work: Path) -> Path:
    """Build the RPM of `recipe` whose payload is staged in `root`; returns the RPM's path."""
    spec = work / f"{recipe.name}.spec"
    spec.write_text(spec_text(recipe))
    command = [
        "rpmbuild", "-bb", "--quiet", "--buildroot", str(root),
        "--define", f"_topdir {work / 'top'}",
        # The files are Debian's as installed: nothing to strip, compile or link to build ids.
        "--define", "__os_install_post %{nil}",
        "--define", "_build_id_links none",
        "--define", "__check_files %{nil}",
        "--define", "_binaries_in_noarch_packages_terminate_build 0",
        # zstd: gcc-12 in 0.6 s where rpm's default gzip -9 takes 8.5 s, at about the same size.
        "--define", "_binary_payload w3.zstdio",
        "--define", "_buildhost pytest-boxkoji",
        str(spec),
    ]  # fmt: skip
    _run(command, f"rpmbuild of {recipe.name}")
    (rpm,) = (work / "top" / "RPMS").glob("*/*.rpm")
    return rpm


def _debian_recipe(package: Installed, requires: tuple[str, ...], closure_names: set[str]) -> Recipe:
    epoch, version, release = rpm_evr(package.version)
    return Recipe(
        name=package.name,
        epoch=epoch,
        version=version,
        release=release,
        summary=f"Debian's {package.name} {package.version} ({package.arch}) from this host",
        noarch=package.arch == "all",
        requires=requires,
        # Debian's virtual names (awk, libc-dev), unless a package of that name is in the repo.
        provides=tuple(sorted(set(package.provides) - closure_names)),
    )


def _cached_name(package: Installed, recipe: Recipe) -> str:
    """The cache's name of a package's RPM: it changes with the package and its dependencies."""
    made_of = f"{RECIPE} {package.arch} {package.version} {recipe.requires} {recipe.provides}"
    return f"{package.name}_{hashlib.sha256(made_of.encode()).hexdigest()[:16]}.rpm"


def _build_debian(package: Installed, recipe: Recipe, merged: dict[str, str], into: Path, temp: Path) -> Path:
    work = Path(tempfile.mkdtemp(prefix=f"{package.name}.", dir=temp))
    try:
        listing = _run(["dpkg-query", "-L", package.query_name], f"dpkg-query -L {package.query_name}")
        root = work / "root"
        root.mkdir()
        entries = _stage(parse_file_list(listing, merged), root)
        rpm = _rpmbuild(replace(recipe, entries=tuple(entries)), root, work)
        partial = into.with_suffix(".part")
        shutil.move(rpm, partial)
        os.replace(partial, into)
        return into
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _write(root: Path, path: str, text: str, mode: int = 0o644) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    target.chmod(mode)


def _accounts(root: Path) -> list[Entry]:
    """/etc/passwd and friends as base-passwd's postinst would make them from its templates."""
    templates = Path("/usr/share/base-passwd")
    passwd = (templates / "passwd.master").read_text()
    group = (templates / "group.master").read_text()
    users = [line.split(":")[0] for line in passwd.splitlines() if line]
    groups = [line.split(":")[0] for line in group.splitlines() if line]
    _write(root, "/etc/passwd", passwd)
    _write(root, "/etc/group", group)
    _write(root, "/etc/shadow", "".join(f"{user}:*:19000:0:99999:7:::\n" for user in users), 0o640)
    _write(root, "/etc/gshadow", "".join(f"{name}:*::\n" for name in groups), 0o640)
    # nsswitch.conf: files only (no nscd, no systemd in a chroot); mock adds its mockbuild user
    # and mock group with useradd/groupadd, which need nothing more.
    _write(root, "/etc/nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n")
    _write(root, "/etc/shells", "/bin/sh\n/usr/bin/sh\n/bin/bash\n/usr/bin/bash\n/bin/dash\n/usr/bin/dash\n")
    profile = Path("/usr/share/base-files/profile")
    _write(root, "/etc/profile", profile.read_text() if profile.exists() else 'PATH="/usr/bin:/bin"\n')
    shadowed = {"/etc/shadow", "/etc/gshadow"}
    # Debian keeps the shadow files readable by group shadow (for chage, passwd and friends).
    return [
        Entry(path, group="shadow" if path in shadowed else "root")
        for path in ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/etc/nsswitch.conf",
                     "/etc/shells", "/etc/profile")
    ]  # fmt: skip


def _alternatives(closure_names: Iterable[str], merged: dict[str, str]) -> list[tuple[str, str]]:
    """The host's selected alternatives whose targets belong to packages of the closure."""
    if shutil.which("update-alternatives") is None:
        return []
    names = sorted(closure_names)
    owned = set(parse_file_list(_run(["dpkg-query", "-L", *names], "dpkg-query -L"), merged))
    links: dict[str, str] = {}
    selections = _run(["update-alternatives", "--get-selections"], "update-alternatives")
    for line in selections.splitlines():
        parts = line.split()
        if len(parts) != 3 or canonical(parts[2], merged) not in owned:
            continue
        query = _run(["update-alternatives", "--query", parts[0]], "update-alternatives --query")
        for link, target in parse_alternative(query):
            link, target = canonical(link, merged), canonical(target, merged)
            if target in owned and link not in owned and packageable(link):
                links.setdefault(link, target)
    return sorted(links.items())


def _synthetic(
    closure_requires: dict[str, tuple[str, ...]],
    packages: dict[str, Installed],
    merged: dict[str, str],
    temp: Path,
) -> list[tuple[Recipe, Path]]:
    """The packages made here, each with its staged build root."""
    made: list[tuple[Recipe, Path]] = []

    def recipe(
        name: str, summary: str, requires: Iterable[str] = (), entries: Iterable[Entry] = ()
    ) -> Recipe:
        return Recipe(
            name, "1", str(RECIPE), summary, noarch=True, requires=tuple(requires), entries=tuple(entries)
        )

    def root_for(name: str) -> Path:
        root = temp / "synthetic" / name
        root.mkdir(parents=True)
        return root

    root = root_for("filesystem")
    for alias, target in merged.items():
        (root / alias.lstrip("/")).symlink_to(target.lstrip("/"))  # relative, as Debian has them
    links = [Entry(alias) for alias in merged]
    made.append((recipe("filesystem", "The merged-/usr links (/bin -> usr/bin ...)", (), links), root))

    root = root_for("setup")
    accounts = _accounts(root)
    summary = "Accounts and shell setup that Debian's maintainer scripts make"
    made.append((recipe("setup", summary, ["base-passwd", "filesystem"], accounts), root))

    root = root_for("debian-alternatives")
    pairs = _alternatives(closure_requires, merged)
    for link, target in pairs:
        path = root / link.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)
    # A link whose target's package is not installed dangles, as an unused alternative would.
    summary = "The alternatives' links (awk, cc, which, lzma ...)"
    made.append(
        (recipe("debian-alternatives", summary, ["filesystem"], [Entry(link) for link, _ in pairs]), root)
    )

    essential = sorted(name for name in closure_requires if packages[name].essential)
    summary = "Debian's Essential set and what dpkg's scripts would have made"
    base = ["filesystem", "setup", "debian-alternatives", *essential]
    made.append((recipe(BASE, summary, base), root_for(BASE)))

    for name, requires in FEDORA_NAMES.items():
        entries: list[Entry] = []
        root = root_for(name)
        if name == "redhat-rpm-config":
            _write(root, DBPATH_MACROS, DBPATH_MACRO)
            entries.append(Entry(DBPATH_MACROS))
        made.append((recipe(name, f"Fedora's name for {', '.join(requires)}", requires, entries), root))
    return made


def buildroot_repo(cache: Path, progress: Callable[[str], None] = lambda line: None) -> BuildrootRepo:
    """The offline buildroot repository of this host, made (or found) under `cache`/buildroot."""
    packages = _host_packages()
    requires = closure(packages, SEED)
    key = closure_key(requires, packages)
    base = cache / "buildroot"
    repo = base / "repos" / key
    found = _complete(repo, key)
    if found is not None:
        return found
    base.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(base / ".lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        progress("buildroot: another session is making it; waiting")
        lock.acquire()
    try:
        found = _complete(repo, key)  # another worker may have made it while we waited
        if found is not None:
            return found
        _require_programs(["rpmbuild", "createrepo_c"])
        for leftover in base.glob("making.*"):  # of a killed run: only the lock holder makes
            shutil.rmtree(leftover, ignore_errors=True)
        return _make(base, repo, key, requires, packages, progress)
    finally:
        lock.release()


def _complete(repo: Path, key: str) -> BuildrootRepo | None:
    marker = repo / COMPLETE
    if not marker.exists():
        return None
    return BuildrootRepo(repo, key, int(marker.read_text().strip()))


def _make(
    base: Path,
    repo: Path,
    key: str,
    requires: dict[str, tuple[str, ...]],
    packages: dict[str, Installed],
    progress: Callable[[str], None],
) -> BuildrootRepo:
    started = time.monotonic()
    rpms = base / "rpms"
    rpms.mkdir(exist_ok=True)
    merged = merged_dirs()
    names = set(requires)
    recipes = {name: _debian_recipe(packages[name], requires[name], names) for name in requires}
    wanted = {name: rpms / _cached_name(packages[name], recipes[name]) for name in requires}
    todo = [name for name, path in wanted.items() if not path.exists()]
    progress(f"buildroot: {len(requires)} Debian packages, {len(todo)} to package as RPMs")
    temp = Path(tempfile.mkdtemp(prefix="making.", dir=base))
    try:
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            futures = {
                pool.submit(
                    _build_debian,
                    packages[name],
                    recipes[name],
                    merged,
                    wanted[name],
                    temp,
                ): name
                for name in todo
            }
            for done, future in enumerate(as_completed(futures), 1):
                future.result()
                if done == len(todo) or done % max(1, len(todo) // 10) == 0:  # a line per tenth
                    progress(f"buildroot: {done}/{len(todo)} rpms built ({futures[future]})")
        made = temp / "repo"
        (made / "Packages").mkdir(parents=True)
        for path in wanted.values():
            _link(path, made / "Packages" / path.name)
        for recipe, root in _synthetic(requires, packages, merged, temp):
            work = Path(tempfile.mkdtemp(prefix=f"{recipe.name}.", dir=temp))
            rpm = _rpmbuild(recipe, root, work)
            shutil.move(rpm, made / "Packages" / rpm.name)
        count = len(list((made / "Packages").glob("*.rpm")))
        comps = temp / "comps.xml"
        comps.write_text(comps_xml({"build": BUILD_GROUP, "srpm-build": SRPM_BUILD_GROUP}))
        progress(f"buildroot: createrepo_c of {count} rpms")
        _run(["createrepo_c", "--quiet", "--no-database", "-g", str(comps), str(made)], "createrepo_c")
        (made / COMPLETE).write_text(f"{count}\n")
        repo.parent.mkdir(exist_ok=True)
        if repo.exists():  # an incomplete leftover of a killed run
            shutil.rmtree(repo)
        os.replace(made, repo)
        # Older repositories keep their RPMs (hard links): the cache holds only the current ones.
        for stale in set(rpms.glob("*.rpm")) - set(wanted.values()):
            stale.unlink()
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    progress(f"buildroot: {count} rpms ready in {time.monotonic() - started:.0f} s: {repo}")
    return BuildrootRepo(repo, key, count)


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # the cache on another file system than its own temp directory
        shutil.copy2(source, target)
