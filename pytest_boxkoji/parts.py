"""Every part of the environment's graph (graph.py), in the order a record restores them. A
service's part lives in its module under services/ (`PART = Part(KEY, requires, start, ...)`,
its typed name `KEY` beside its handle's class); a new one is that module and a line here. The
parts that run no service are defined here."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_boxkoji import box, kojisrc
from pytest_boxkoji.coverage.data import COVERAGE, KojiCoverage, measured
from pytest_boxkoji.graph import Context, Part, Recording, Restoring
from pytest_boxkoji.kojisrc import SOURCE, KojiSource
from pytest_boxkoji.orch import ORCH, Credential, Orch
from pytest_boxkoji.services import broker, hub, kdc, postgres, proxy, web
from pytest_boxkoji.services.kdc import KDC
from pytest_boxkoji.servicespy import PYTHON, ServicesPython


def source(context: Context) -> KojiSource:
    """The configured source (KojiSourceUnavailable when the default cannot be had: tests skip)."""
    config = context.config
    return kojisrc.resolve(config.koji_source, config.cache_dir, config.koji_source_explicit)


def python(context: Context) -> ServicesPython:
    """Built and cached here (processes), or baked into the images (containers)."""
    return context.runtime.services_python(context.config, context.get(SOURCE).version)


def coverage(context: Context) -> KojiCoverage | None:
    """--cov-hub / --cov-web / --cov-workers: where the measured services write their data (None:
    not measured)."""
    config = context.config
    services = measured(config)
    if not services:
        return None
    directory = context.workspace.directory / "coverage"
    return KojiCoverage(directory, context.get(SOURCE).path, services, config.cov_hub_branch)


def orch(context: Context) -> Orch:
    """Credentials from the workspace's CA and the KDC's realm."""
    return Orch.create(context.workspace.directory / "orch", context.get(KDC))


def record_plain(handle: Any, recording: Recording) -> Any:
    """A part whose handle is a plain dataclass records its fields."""
    return box.plain(handle)


def restore_orch(restoring: Restoring, data: dict[str, Any]) -> Orch:
    held = [credential(c) for c in restoring.credentials]
    return Orch.reopen(Path(data["directory"]), restoring.get(KDC), held)


def credential(data: Mapping[str, Any]) -> Credential:
    """A credential of the orch's inventory back from the record."""
    return box.rebuilt(Credential, dict(data))


ORCH_PART = Part(
    ORCH,
    (KDC,),
    orch,
    record=lambda handle, recording: {"directory": str(handle.directory)},
    restore=restore_orch,
)

PARTS: tuple[Part[Any], ...] = (
    Part(
        SOURCE,
        (),
        source,
        record=record_plain,
        restore=lambda restoring, data: box.rebuilt(KojiSource, data),
    ),
    Part(
        PYTHON,
        (SOURCE,),
        python,
        record=record_plain,
        restore=lambda restoring, data: box.rebuilt(ServicesPython, data),
    ),
    Part(
        COVERAGE,
        (SOURCE,),
        coverage,
        record=record_plain,
        restore=lambda restoring, data: box.rebuilt(KojiCoverage, data) if data else None,
    ),
    kdc.PART,
    ORCH_PART,
    postgres.PART,
    hub.CREDENTIALS,
    hub.PART,
    web.PART,
    proxy.PART,
    broker.PART,
    broker.MESSAGES_PART,
)
