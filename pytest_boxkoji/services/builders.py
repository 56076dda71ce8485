"""Koji's builders (kojid) and kojira: config files, commands and readiness."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from pytest_boxkoji import inside
from pytest_boxkoji.builds import host
from pytest_boxkoji.builds.mock import Mock
from pytest_boxkoji.services import Check, Service
from pytest_boxkoji.templates import render

LAUNCHER = inside.DIRECTORY / "daemon_launcher.py"
NOMOCK = inside.DIRECTORY / "boxkoji_nomock.py"


@dataclass(frozen=True)
class DaemonSettings:
    """What kojid and kojira have in common: where the hub is and who they are."""

    name: str  # the host name (kojid) or "kojira"
    directory: Path
    hub_url: str
    files_url: str
    topdir: Path
    ca: Path
    principal: str
    keytab: Path
    koji_src: Path
    koji_version: str
    python: Path
    # Between the Python and the launcher: `-m coverage run ...` under --cov-workers.
    run_under: tuple[str, ...] = ()


def kojid(
    settings: DaemonSettings,
    env: dict[str, str],
    ready: Check,
    mock: Mock | None,
    refusal: str = "",
    maxjobs: int = 4,
    in_image: bool = False,
    write: bool = True,
) -> Service:
    """One builder; ready when the hub says the host is ready (kojid reports it each loop).

    With `mock`, kojid runs as root in a mount namespace of its own (builds/host.py); without,
    build tasks fail at once with `refusal`, instead of deep inside kojid. `in_image`: the
    builder's image is the whole host (containers), with its own /etc and mock. `write=False`:
    the files are there already (a running builder taken over: attach.py)."""
    plugins = [] if mock is not None else [NOMOCK.stem]
    conf = settings.directory / "kojid.conf"
    if write:
        for part in ("work", "mock"):
            (settings.directory / part).mkdir(parents=True, exist_ok=True)
        if mock is None:
            shutil.copy(NOMOCK, settings.directory / NOMOCK.name)
            (settings.directory / "boxkoji_nomock.reason").write_text(refusal)
        conf.write_text(render("kojid.conf", maxjobs=maxjobs, plugins=plugins, **_context(settings)))
    script = settings.koji_src / "builder" / "kojid"
    service = _daemon(
        settings, f"kojid:{settings.name}", script, conf, env, ready, log=settings.directory / "kojid.log"
    )
    if mock is not None:
        # kojid's own downloads from /kojifiles (requests, which reads certifi's bundle unless told)
        # trust what mock's dnf trusts: the bundle with the box's CA (builds/host.py).
        service.env["REQUESTS_CA_BUNDLE"] = f"/etc/{host.BUNDLE}"
    if mock is not None and in_image:
        _in_builder_image(service, settings, mock, write)
        service.env["BOXKOJI_ROOT_CACHE"] = "/var/cache/mock/boxkoji-roots"
    elif mock is not None:
        service.env["BOXKOJI_ROOT_CACHE"] = str(settings.directory / "mock-cache" / "boxkoji-roots")
        if write:
            layers = host.prepare(settings.directory, mock, settings.ca)
        else:
            layers = host.layers_of(settings.directory, mock)
        service.command = ["unshare", "--mount", "--propagation", "private", "--", *service.command]
        service.env[host.LAYERS_VARIABLE] = layers.variable()
        service.unprivileged = False  # mock builds as root; kojid drops to kojibuilder to run it
    return service


def _in_builder_image(service: Service, settings: DaemonSettings, mock: Mock, write: bool) -> None:
    """kojid in the builder image with mock (images/builder-mock), privileged, as root; its dnf
    trusts the box's CA (added to the container's bundle as it starts: the CA is the session's)."""
    assert mock.tree is not None and mock.templated_dictionary is not None
    site_defaults = settings.directory / "site-defaults.cfg"
    if write:
        site_defaults.write_text(host.site_defaults("/var/cache/mock"))
    service.image = "builder-mock"
    service.image_files = {
        "mock": mock.tree,
        "templated-dictionary.tar.gz": mock.templated_dictionary,
        "site-defaults.cfg": site_defaults,
    }
    service.image_args = {"MOCK_TREE": str(mock.tree)}
    service.privileged = True
    service.unprivileged = False
    trust = f'cat "$0" >> /etc/{host.BUNDLE} && exec "$@"'
    service.command = ["sh", "-c", trust, str(settings.ca), *service.command]


def kojira(settings: DaemonSettings, env: dict[str, str], ready: Check) -> Service:
    settings.directory.mkdir(parents=True, exist_ok=True)
    conf = settings.directory / "kojira.conf"
    ccache = settings.directory / "ccache"
    takes_ccache = _version(settings.koji_version) >= (1, 35)
    conf.write_text(render("kojira.conf", ccache=ccache if takes_ccache else None, **_context(settings)))
    if not takes_ccache:  # the launcher gives it its own (daemon_launcher.py says why)
        env = {**env, "BOXKOJI_CCACHE": str(ccache)}
    return _daemon(
        settings,
        "kojira",
        settings.koji_src / "util" / "kojira",
        conf,
        env,
        ready,
        log=settings.directory / "kojira.stdout.log",
        extra_logs=(settings.directory / "kojira.log",),
    )


def _daemon(
    settings: DaemonSettings,
    name: str,
    script: Path,
    conf: Path,
    env: dict[str, str],
    ready: Check,
    log: Path,
    extra_logs: tuple[Path, ...] = (),
) -> Service:
    """kojid and kojira run the same way: Koji's script through the launcher in the services' Python,
    in the foreground."""
    launcher = settings.directory / LAUNCHER.name
    shutil.copy(LAUNCHER, launcher)  # readable by the service user, wherever the plugin lives
    return Service(
        name=name,
        command=[
            str(settings.python),
            *settings.run_under,
            str(launcher),
            str(script),
            *("--fg", "--force-lock", "--verbose", "-c", str(conf)),
        ],
        ready=ready,
        log=log,
        extra_logs=extra_logs,
        env={**env, "PYTHONPATH": str(settings.koji_src), "HOME": str(settings.directory)},
        deadline=60,
        cwd=settings.directory,
        image="builder",
    )


def _version(version: str) -> tuple[int, ...]:
    """(1, 34, 3) for "1.34.3"; a tree that declares no version is taken as the newest."""
    numbers = version.split(".")
    return tuple(int(n) for n in numbers) if all(n.isdigit() for n in numbers) else (999,)


def _context(settings: DaemonSettings) -> dict[str, object]:
    return {
        "name": settings.name,
        "directory": settings.directory,
        "hub_url": settings.hub_url,
        "files_url": settings.files_url,
        "topdir": settings.topdir,
        "ca": settings.ca,
        "principal": settings.principal,
        "keytab": settings.keytab,
    }
