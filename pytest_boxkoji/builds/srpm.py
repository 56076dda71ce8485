"""Source RPMs for tests: from a spec a test writes, or from a few words (a noarch package, or a C
program that has to be compiled), made with this host's rpmbuild."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from pytest_boxkoji.errors import BoxKojiError

C_PROGRAM = """#include <stdio.h>
int main(void) { printf("hello from %s\\n", NAME); return 0; }
"""


def spec_for(
    name: str,
    version: str,
    release: str,
    noarch: bool,
    requires: Sequence[str] = (),
    build_requires: Sequence[str] = (),
    fail: str | None = None,
) -> tuple[str, dict[str, str]]:
    """A spec (and its sources): noarch installs a text file; otherwise a C program built with
    gcc, so the build runs on an arch builder. `fail`: %build fails, printing that text."""
    lines = [
        f"Name: {name}",
        f"Version: {version}",
        f"Release: {release}",
        f"Summary: {name}, made by pytest-boxkoji's koji_srpm_factory",
        "License: MIT",
        *(f"Requires: {r}" for r in requires),
        *(f"BuildRequires: {r}" for r in build_requires),
    ]
    sources: dict[str, str] = {}
    if noarch:
        lines.append("BuildArch: noarch")
    else:
        sources[f"{name}.c"] = C_PROGRAM
        lines += [f"Source0: {name}.c", "BuildRequires: gcc"]
    lines += ["", "%description", f"{name} for a test.", "", "%prep", "", "%build"]
    if fail is not None:
        lines += [f"echo {_quote(fail)} >&2", "exit 1"]
    elif not noarch:
        lines.append(f"gcc -O2 -DNAME='\"{name}\"' -o {name} %{{SOURCE0}}")
    lines += ["", "%install"]
    if noarch:
        lines += [
            f"mkdir -p %{{buildroot}}/usr/share/{name}",
            f"echo '{name} {version}-{release}' > %{{buildroot}}/usr/share/{name}/{name}.txt",
            "",
            "%files",
            f"/usr/share/{name}/{name}.txt",
        ]
    else:
        lines += [
            "mkdir -p %{buildroot}/usr/bin",
            f"install -m 0755 {name} %{{buildroot}}/usr/bin/{name}",
            "",
            "%files",
            f"/usr/bin/{name}",
        ]
    return "\n".join(lines) + "\n", sources


def package(
    name: str,
    version: str = "1.0",
    release: str = "1",
    noarch: bool = True,
    spec: str | None = None,
    sources: Mapping[str, str | bytes] | None = None,
    requires: Sequence[str] = (),
    build_requires: Sequence[str] = (),
    fail: str | None = None,
) -> tuple[str, dict[str, str | bytes]]:
    """What koji_srpm_factory and koji_git_factory make a package from: the `spec` given (with its
    `sources`), or one spec_for writes; the spec's text and its sources by file name."""
    files: dict[str, str | bytes] = dict(sources or {})
    if spec is None:
        spec, generated = spec_for(name, version, release, noarch, requires, build_requires, fail)
        files = {**generated, **files}
    return spec, files


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def make_srpm(directory: Path, spec: str, sources: Mapping[str, str | bytes] | None = None) -> Path:
    """rpmbuild -bs of `spec` with `sources` beside it, in `directory`; the SRPM's path."""
    rpmbuild = shutil.which("rpmbuild")
    if rpmbuild is None:
        raise BoxKojiError(
            "koji_srpm_factory needs rpmbuild on this host: apt-get install rpm "
            "(Fedora: dnf install rpm-build)"
        )
    top = directory
    for sub in ("SPECS", "SOURCES", "SRPMS"):
        (top / sub).mkdir(parents=True, exist_ok=True)
    for name, content in (sources or {}).items():
        path = top / "SOURCES" / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    spec_file = top / "SPECS" / "package.spec"
    spec_file.write_text(spec)
    done = subprocess.run(
        [
            rpmbuild,
            "-bs",
            "--define",
            f"_topdir {top}",
            "--define",
            "_source_payload w9.gzdio",
            "--define",
            "dist %{nil}",
            str(spec_file),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BoxKojiError(f"rpmbuild -bs failed for the spec in {spec_file}:\n{done.stdout}{done.stderr}")
    made = sorted((top / "SRPMS").glob("*.src.rpm"), key=lambda p: p.stat().st_mtime)
    if not made:
        raise BoxKojiError(f"rpmbuild -bs made no SRPM in {top / 'SRPMS'}:\n{done.stdout}")
    return made[-1]
