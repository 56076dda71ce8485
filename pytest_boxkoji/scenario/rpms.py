"""Small real RPMs for scenario builds, made with rpmbuild and cached by N-V-R and arches."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from filelock import FileLock

from pytest_boxkoji import hostprogs
from pytest_boxkoji.errors import BoxKojiError
from pytest_boxkoji.scenario.schema import Build

RPMBUILD = hostprogs.Program("rpmbuild", "making the RPMs of scenario builds", "rpm", "rpm-build")

SPEC = """\
Name: {name}
Version: {version}
Release: {release}
Summary: {name}, made by pytest-boxkoji for a scenario
License: MIT
{buildarch}
%description
A package with one file, made by pytest-boxkoji so that the build can be imported into Koji.

%install
mkdir -p %{{buildroot}}/usr/share/boxkoji
echo "{name}-{version}-{release}" > %{{buildroot}}/usr/share/boxkoji/{name}

%files
/usr/share/boxkoji/{name}
"""


def make_rpms(build: Build, cache_dir: Path) -> list[Path]:
    """The SRPM first, then one RPM per arch; built once and kept in the cache."""
    nvr = build.nvr
    target = cache_dir / "rpms" / f"{build.name}.{'.'.join(sorted(build.arches))}"
    if not (target / ".complete").exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(target) + ".lock"):
            if not (target / ".complete").exists():
                _build(build, nvr, target)
    srpms = sorted(target.glob("*.src.rpm"))
    return srpms + sorted(p for p in target.glob("*.rpm") if not p.name.endswith(".src.rpm"))


def _build(build: Build, nvr: dict[str, str], target: Path) -> None:
    (rpmbuild,) = hostprogs.find(RPMBUILD)
    shutil.rmtree(target, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix="boxkoji-rpm-"))
    try:
        for arch in build.arches:
            spec = work / f"{nvr['name']}.spec"
            spec.write_text(SPEC.format(**nvr, buildarch="BuildArch: noarch" if arch == "noarch" else ""))
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
