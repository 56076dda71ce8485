"""Content generator imports: metadata (version 0) for real files, uploaded and imported with
`CGImport` as a content generator's user, the way osbuild, atomic-reactor or pnc import builds.

The format is Koji's docs/source/content_generator_metadata.rst: a build, its buildroots, and
one output per file with its size and checksum. RPM outputs are imported as RPMs; log files as
logs; any other file is an archive of the build type (btype) given, its archive type found by
Koji from the file name's extension.
"""

from __future__ import annotations

import hashlib
import platform
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import koji

from pytest_boxkoji.errors import BoxKojiError
from pytest_boxkoji.scenario.loader import Scenario

Metadata = dict[str, Any]
BUILDROOT_ID = 1


@dataclass(frozen=True)
class Output:
    """One file a content generator made. `type` is "rpm", "log", or the build type (btype) of
    an archive; by default from the name (.rpm, .log) or the import's btype."""

    path: Path
    type: str | None = None
    arch: str | None = None  # RPMs: from the file name; others: noarch
    extra: dict[str, Any] = field(default_factory=dict)  # the output's own extra (besides typeinfo)


def output_type(output: Output, btype: str | None) -> str:
    if output.type is not None:
        return output.type
    if output.path.name.endswith(".rpm"):
        return "rpm"
    if output.path.name.endswith(".log"):
        return "log"
    if btype is None:
        raise BoxKojiError(
            f"koji_cg_import: {output.path.name} is neither an RPM nor a log: give the build type "
            "it is an archive of (btype='container', a btype the hub knows: Koji's own image, maven, "
            "win, or one a scenario declares with `type: btype`)"
        )
    return btype


def metadata(
    name: str,
    version_: str,
    release: str,
    outputs: Sequence[Output],
    content_generator: str,
    btype: str | None = None,
    owner: str | None = None,
    source: str = "https://example.invalid/boxkoji.git#0",
) -> Metadata:
    """Metadata version 0 for the build `name-version_-release` made of `outputs`."""
    now = int(time.time())
    types = {output_type(o, btype) for o in outputs} - {"log"}
    build: dict[str, Any] = {
        "name": name,
        "version": version_,
        "release": release,
        "source": source,
        "start_time": now - 60,
        "end_time": now,
        # Every build type of the outputs; "rpm" too, which Koji would also add by itself.
        "extra": {"typeinfo": {t: {} for t in sorted(types)}},
    }
    if owner is not None:
        build["owner"] = owner
    arch = platform.machine()
    try:
        host_os = platform.freedesktop_os_release().get("PRETTY_NAME", "Linux")
    except OSError:
        host_os = "Linux"
    buildroot = {
        "id": BUILDROOT_ID,
        "host": {"os": host_os, "arch": arch},
        "content_generator": {"name": content_generator, "version": "1"},
        "container": {"type": "none", "arch": arch},
        "tools": [{"name": "pytest-boxkoji", "version": version("pytest-boxkoji")}],
        "components": [],
        "extra": {},
    }
    return {
        "metadata_version": 0,
        "build": build,
        "buildroots": [buildroot],
        "output": [_output(o, output_type(o, btype)) for o in outputs],
    }


def _output(output: Output, kind: str) -> dict[str, Any]:
    data = output.path.read_bytes()
    if kind == "rpm":
        arch = output.arch or koji.parse_NVRA(output.path.name)["arch"]
    else:
        arch = output.arch or "noarch"
    extra = dict(output.extra)
    if kind not in ("rpm", "log"):
        extra.setdefault("typeinfo", {kind: {}})
    return {
        "buildroot_id": BUILDROOT_ID,
        "filename": output.path.name,
        "relpath": "",
        "filesize": len(data),
        "arch": arch,
        "checksum": hashlib.sha256(data).hexdigest(),
        "checksum_type": "sha256",
        "type": kind,  # for an archive: its btype (Koji reads the type from `extra`, this is free)
        "extra": extra,
    }


def importer(scenario: Scenario, content_generator: str | None, user: str | None) -> tuple[str, str]:
    """(content generator, user) for an import: the ones given, else the scenario's only content
    generator and its first user."""
    declared = {cg.name: cg for cg in scenario.of("content-generator")}
    if content_generator is None:
        if len(declared) != 1:
            found = f"it declares {', '.join(sorted(declared))}" if declared else "it declares none"
            raise BoxKojiError(
                "koji_cg_import: which content generator? The test's scenario should declare one "
                f"(type: content-generator, users: [...]), or name it: content_generator=...; {found}"
            )
        (content_generator,) = declared
    if user is None:
        users = declared[content_generator].users if content_generator in declared else []
        if not users:
            raise BoxKojiError(
                f"koji_cg_import: no user of content generator {content_generator!r} is known: list "
                "one in the scenario (users: [...]) or name one: user=..."
            )
        user = users[0]
    return content_generator, user


def upload_and_import(session: koji.ClientSession, meta: Metadata, files: Sequence[Path]) -> dict[str, Any]:
    """Upload `files` (the outputs' files) into one fresh upload directory and call CGImport;
    Koji's own error comes through as it is. Returns the build."""
    directory = f"boxkoji-cg/{uuid.uuid4().hex}"
    for path in files:
        session.uploadWrapper(str(path), directory, name=path.name)
    build: dict[str, Any] = session.CGImport(meta, directory)
    return build


def cg_import(
    session: koji.ClientSession,
    name: str,
    version_: str,
    release: str,
    outputs: Sequence[Output | Path | str],
    content_generator: str,
    btype: str | None = None,
    owner: str | None = None,
    edit: Callable[[Metadata], None] | None = None,
) -> dict[str, Any]:
    """Make the metadata, let `edit` change it (a test's deliberate mistake, extra data), upload
    the files and import them; the build as getBuild returns it."""
    files = [o if isinstance(o, Output) else Output(Path(o)) for o in outputs]
    for output in files:
        if not output.path.is_file():
            raise BoxKojiError(f"koji_cg_import: no such file {output.path}")
    meta = metadata(name, version_, release, files, content_generator, btype, owner)
    if edit is not None:
        edit(meta)
    imported = upload_and_import(session, meta, [o.path for o in files])
    build: dict[str, Any] = session.getBuild(imported["id"], strict=True)
    return build
