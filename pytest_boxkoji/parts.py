"""Every part of the environment's graph (graph.py). A service's part lives in its module under
services/ (`PART = Part(name, requires, start)`); a new one is that module plus a line here.
The three parts that run no service are defined here."""

from __future__ import annotations

from pytest_boxkoji import kojisrc
from pytest_boxkoji.coverage.data import KojiCoverage, measured
from pytest_boxkoji.graph import Context, Part
from pytest_boxkoji.kojisrc import KojiSource
from pytest_boxkoji.orch import Orch
from pytest_boxkoji.services import broker, hub, kdc, postgres, proxy, web
from pytest_boxkoji.servicespy import ServicesPython


def source(context: Context) -> KojiSource:
    """The configured source (KojiSourceUnavailable when the default cannot be had: tests skip)."""
    config = context.config
    return kojisrc.resolve(config.koji_source, config.cache_dir, config.koji_source_explicit)


def python(context: Context) -> ServicesPython:
    """Built and cached here (processes), or baked into the images (containers)."""
    return context.runtime.services_python(context.config, context.parts["source"].version)


def coverage(context: Context) -> KojiCoverage | None:
    """--cov-hub / --cov-web / --cov-workers: where the measured services write their data (None:
    not measured)."""
    config = context.config
    services = measured(config)
    if not services:
        return None
    directory = context.workspace.directory / "coverage"
    return KojiCoverage(directory, context.parts["source"].path, services, config.cov_hub_branch)


def orch(context: Context) -> Orch:
    """Credentials from the workspace's CA and the KDC's realm."""
    return Orch.create(context.workspace.directory / "orch", context.parts["kdc"])


PARTS = (
    Part("source", (), source),
    Part("python", ("source",), python),
    Part("coverage", ("source",), coverage),
    kdc.PART,
    Part("orch", ("kdc",), orch),
    postgres.PART,
    hub.CREDENTIALS,
    hub.PART,
    web.PART,
    proxy.PART,
    broker.PART,
    broker.MESSAGES,
)
