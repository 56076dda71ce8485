"""`boxkoji doctor`: is this machine ready for a runtime, and if not, what installs the rest.

Every check runs (one report, not the first failure), and what is missing comes back as one
install command for this distribution, so a new user fixes everything in one go.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

from pytest_boxkoji import findings, hostprogs, kojisrc, runtimes
from pytest_boxkoji.browser import BROWSERS, INSTALL
from pytest_boxkoji.builds import mock
from pytest_boxkoji.config import BoxKojiConfig
from pytest_boxkoji.errors import KojiSourceError
from pytest_boxkoji.findings import Finding
from pytest_boxkoji.messages import INSTALL as MESSAGES_INSTALL


def distribution() -> str:
    """'debian', 'fedora' or '' (unknown), from /etc/os-release."""
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return ""
    ids: list[str] = []
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key in ("ID", "ID_LIKE"):
            ids += value.strip('"').split()
    if {"debian", "ubuntu"} & set(ids):
        return "debian"
    if {"fedora", "rhel", "centos"} & set(ids):
        return "fedora"
    return ""


def common_checks(settings: BoxKojiConfig) -> list[Finding]:
    """What both runtimes need: the test process's Python packages, rpm, the cache, Koji's code."""
    checks: list[Finding] = []
    ok, why = findings.imports(sys.executable, "gssapi, koji, requests_gssapi")
    checks.append(
        Finding("Kerberos client (gssapi)", ok, "importable" if ok else why, fix="pip install pytest-boxkoji")
    )
    ok, why = findings.imports(sys.executable, "rpm")
    checks.append(
        Finding(
            "rpm's Python bindings",
            ok,
            "importable (koji import works)" if ok else f"{why} (koji import needs them)",
            ("python3-rpm",),
            ("python3-rpm",),
        )
    )
    checks.append(findings.program(hostprogs.RPMBUILD))
    checks.append(_cache(settings.cache_dir))
    checks.append(_koji_source(settings))
    return checks


def _cache(cache: Path) -> Finding:
    existing = next((p for p in (cache, *cache.parents) if p.exists()), Path("/"))
    ok = os.access(existing, os.W_OK)
    return Finding(
        "cache directory",
        ok,
        f"{cache}" + ("" if ok else f": {existing} is not writable"),
        fix="--boxkoji-cache-dir=DIR (or BOXKOJI_CACHE_DIR) pointing at a writable directory",
    )


def _koji_source(settings: BoxKojiConfig) -> Finding:
    fix = (
        "BOXKOJI_KOJI_SOURCE=PATH (a Koji source tree, a koji-X.Y.Z.tar.bz2 release tarball or a "
        "git repository@ref); see the README's 'Where Koji's server code comes from'"
    )
    try:
        # What the plugin does at first use: the default release is downloaded once.
        source = kojisrc.resolve(settings.koji_source, settings.cache_dir, settings.koji_source_explicit)
    except KojiSourceError as exc:
        return Finding("Koji server code", False, str(exc).splitlines()[0], fix=fix)
    return Finding("Koji server code", True, f"Koji {source.version}: {source.origin}")


OPTIONAL = "the proxy, koji_browser and koji_messages (optional)"


def optional_checks(settings: BoxKojiConfig) -> list[Finding]:
    """What only some fixtures need: nginx for `proxy` and RabbitMQ for `koji_messages`
    (processes runtime; the containers runtime builds their images), Playwright and a Chromium
    for `koji_browser`, python-qpid-proton for `koji_messages`."""

    checks = []
    if runtimes.runs_host_programs(settings.runtime):
        checks += [findings.program(p) for p in (hostprogs.NGINX, hostprogs.RABBITMQ, hostprogs.EPMD)]
    checks.append(_module("python-qpid-proton", "proton", MESSAGES_INSTALL))
    found = next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)
    checks.append(Finding("Chromium", found is not None, found or "not found", ("chromium",), ("chromium",)))
    checks.append(_module("Playwright", "playwright", INSTALL.split(" (")[0]))
    return checks


BUILDS = "builds in mock (optional unless --boxkoji-builds=yes)"
# (program, Debian package, Fedora package) the processes runtime's builders run (and dnf's
# builddep plugin, which mock calls for an SRPM's BuildRequires)
BUILD_PROGRAMS = (
    ("dnf-3", "dnf", "dnf"),
    ("sudo", "sudo", "sudo"),
    ("unshare", "util-linux", "util-linux"),
    ("createrepo_c", "createrepo-c", "createrepo_c"),
    ("dpkg-query", "dpkg", "dpkg"),
)


def build_checks(settings: BoxKojiConfig) -> list[Finding]:
    """What builds in mock need (guides/builds.md): mock's source, and on the processes runtime
    root and the programs mock and the buildroot repository run."""
    checks = [_mock_source(settings)]
    if runtimes.runs_host_programs(settings.runtime):
        root = os.geteuid() == 0
        checks.append(
            Finding(
                "root (processes runtime builds)",
                root,
                "yes" if root else "kojid runs mock in a mount namespace of its own: run as root",
                fix="" if root else "run pytest as root, or --boxkoji-runtime=containers",
            )
        )
        for program, debian, fedora in BUILD_PROGRAMS:
            found = shutil.which(program)
            checks.append(Finding(program, bool(found), found or "not found", (debian,), (fedora,)))
        builddep = _dnf_builddep()
        checks.append(
            Finding(
                "dnf builddep",
                bool(builddep),
                builddep or "not found",
                ("dnf-plugins-core",),
                ("dnf-plugins-core",),
            )
        )
    return checks


def _dnf_builddep() -> str | None:
    plugin = Path("/usr/lib/python3/dist-packages/dnf-plugins/builddep.py")
    fedora = list(Path("/usr/lib").glob("python3*/site-packages/dnf-plugins/builddep.py"))
    return str(plugin) if plugin.exists() else (str(fedora[0]) if fedora else None)


def _mock_source(settings: BoxKojiConfig) -> Finding:
    spec = settings.mock_source
    if spec in (None, "system") and mock.SYSTEM_MOCK.exists():
        return Finding("mock", True, f"the system's {mock.SYSTEM_MOCK}")
    if spec in (None, "system"):
        return Finding(
            "mock",
            spec is None,
            f"mock {mock.VERSION} will be downloaded from github.com on first use"
            if spec is None
            else f"no {mock.SYSTEM_MOCK}",
            fix="BOXKOJI_MOCK_SOURCE=PATH (mock's release tarball, or a directory holding it) offline",
        )
    path = Path(spec).expanduser()
    return Finding(
        "mock",
        path.exists(),
        str(path) if path.exists() else f"{path} does not exist",
        fix="BOXKOJI_MOCK_SOURCE=PATH: mock's release tarball, or a directory holding it",
    )


def _module(name: str, module: str, fix: str) -> Finding:
    """A Python package the plugin's own environment needs, by its import name."""
    found = importlib.util.find_spec(module) is not None
    return Finding(name, found, "importable" if found else "not installed", fix=fix)


def run_checks(settings: BoxKojiConfig) -> dict[str, list[Finding]]:
    groups = {"both runtimes": common_checks(settings)}
    for name in runtimes.considered(settings.runtime):
        groups[f"{name} runtime"] = runtimes.doctor_checks(name, settings)
    if settings.builds != "no":
        groups[BUILDS] = build_checks(settings)
    groups[OPTIONAL] = optional_checks(settings)
    return groups


def ready(settings: BoxKojiConfig, groups: dict[str, list[Finding]]) -> bool:
    """auto is ready when the common checks pass and one runtime is complete."""
    if not all(c.ok for c in groups["both runtimes"]):
        return False
    if settings.builds == "yes" and not all(c.ok for c in groups.get(BUILDS, [])):
        return False
    runtimes = [g for name, g in groups.items() if name not in ("both runtimes", OPTIONAL, BUILDS)]
    complete = [all(c.ok for c in g) for g in runtimes]
    return any(complete) if settings.runtime == "auto" else all(complete)


def report(settings: BoxKojiConfig, groups: dict[str, list[Finding]], distro: str) -> str:
    lines = [f"boxkoji doctor: runtime {settings.runtime}, cache {settings.cache_dir}"]
    for name, checks in groups.items():
        lines.append(f"{name}:")
        for check in checks:
            lines.append(f"  {'ok ' if check.ok else 'NO '} {check.what}: {check.detail}")
    optional_groups = (OPTIONAL,) if settings.builds == "yes" else (OPTIONAL, BUILDS)
    failed = [
        c for name, checks in groups.items() for c in checks if not c.ok and name not in optional_groups
    ]
    if failed:
        lines.append("To install what is missing:")
        lines += _fixes(failed, distro)
    if settings.builds != "yes":
        builds = [c for c in groups.get(BUILDS, []) if not c.ok]
        if builds:
            lines.append("For builds in mock:")
            lines += _fixes(builds, distro)
    optional = [c for c in groups.get(OPTIONAL, []) if not c.ok]
    if optional:
        lines.append(f"For {OPTIONAL.removesuffix(' (optional)')}:")
        lines += _fixes(optional, distro)
    is_ready = ready(settings, groups)
    lines.append("ready" if is_ready else "NOT ready")
    return "\n".join(lines)


def _fixes(failed: list[Finding], distro: str) -> list[str]:
    debian = sorted({p for c in failed for p in c.debian})
    fedora = sorted({p for c in failed for p in c.fedora})
    sudo = "" if os.geteuid() == 0 else "sudo "
    lines = []
    if debian and distro in ("debian", ""):
        lines.append(f"  {sudo}apt-get install -y {' '.join(debian)}")
    if fedora and distro in ("fedora", ""):
        lines.append(f"  {sudo}dnf install -y {' '.join(fedora)}")
    for check in failed:
        if check.fix:
            lines.append(f"  {'then, ' if check.debian else ''}{check.what}: {check.fix}")
    return lines


def main(settings: BoxKojiConfig) -> int:
    groups = run_checks(settings)
    print(report(settings, groups, distribution()))
    return 0 if ready(settings, groups) else 1
