"""Small real RPMs for scenario builds, made with rpmbuild and cached by N-V-R and arches."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from filelock import FileLock

from pytest_boxkoji import hostprogs
from pytest_boxkoji.errors import BoxKojiError
from pytest_boxkoji.scenario.schema import Build

SPEC = """\
Name: {name}
Version: {version}
Release: {release}
Summary: {name}, made by pytest-boxkoji for a scenario
License: MIT
{buildarch}
{requires}
%description
A package with one file, made by pytest-boxkoji so that the build can be imported into Koji.

%install
mkdir -p %{{buildroot}}/usr/share/boxkoji
echo "{name}-{version}-{release}" > %{{buildroot}}/usr/share/boxkoji/{name}

%files
/usr/share/boxkoji/{name}

%changelog
* Thu Nov 26 2026 pytest-boxkoji <boxkoji@koji.box> - {version}-{release}
- Built for a test.
"""


def make_rpms(build: Build, cache_dir: Path) -> list[Path]:
    """The SRPM first, then one RPM per arch; built once and kept in the cache."""
    nvr = build.nvr
    # The spec text is part of the key: a changed template must not reuse old RPMs.
    recipe = hashlib.sha256((SPEC + "\n".join(build.requires)).encode()).hexdigest()[:10]
    target = cache_dir / "rpms" / f"{build.name}.{'.'.join(sorted(build.arches))}.{recipe}"
    if not (target / ".complete").exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(target) + ".lock"):
            if not (target / ".complete").exists():
                _build(build, nvr, target)
    srpms = sorted(target.glob("*.src.rpm"))
    return srpms + sorted(p for p in target.glob("*.rpm") if not p.name.endswith(".src.rpm"))


def _build(build: Build, nvr: dict[str, str], target: Path) -> None:
    (rpmbuild,) = hostprogs.find(hostprogs.RPMBUILD)
    shutil.rmtree(target, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix="boxkoji-rpm-"))
    try:
        for arch in build.arches:
            spec = work / f"{nvr['name']}.spec"
            requires = "\n".join(f"Requires: {r}" for r in build.requires)
            buildarch = "BuildArch: noarch" if arch == "noarch" else ""
            spec.write_text(SPEC.format(**nvr, buildarch=buildarch, requires=requires))
            command = [
                str(rpmbuild),
                "-ba",
                "--quiet",
                "--define",
                f"_topdir {work}",
                "--define",
                "_build_id_links none",
                "--define",
                "debug_package %{nil}",
                "--nodeps",
                str(spec),
            ]
            if arch != "noarch":
                command[1:1] = ["--target", arch]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise BoxKojiError(
                    f"rpmbuild failed for build {build.name} ({arch}):\n{done.stderr.strip()[-2000:]}"
                )
        target.mkdir(parents=True)
        for rpm in work.glob("**/*.rpm"):
            shutil.copy2(rpm, target / rpm.name)
        (target / ".complete").touch()
    finally:
        shutil.rmtree(work, ignore_errors=True)
