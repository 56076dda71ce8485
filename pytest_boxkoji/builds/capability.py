"""Whether this environment's builders can build in mock, and if not, exactly why."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_boxkoji.builds import mock as mock_install
from pytest_boxkoji.config import BoxKojiConfig
from pytest_boxkoji.errors import BoxKojiError


@dataclass(frozen=True)
class Builds:
    """The builders' mock, or why there is none (build tasks are then refused with `reason`)."""

    mock: mock_install.Mock | None
    reason: str = ""


def decide(
    config: BoxKojiConfig, own_filesystem: bool, progress: Callable[[str], None], euid: int | None = None
) -> Builds:
    """--boxkoji-builds: `no` never builds; `yes` raises what stands in the way; `auto` says it
    in the reason build tasks are refused with."""
    if config.builds == "no":
        return Builds(None, "this environment's builders do not build (--boxkoji-builds=no)")
    try:
        return Builds(_mock(config, own_filesystem, progress, os.geteuid() if euid is None else euid))
    except BoxKojiError as exc:
        if config.builds == "yes":
            raise
        return Builds(None, str(exc))


def _mock(
    config: BoxKojiConfig, own_filesystem: bool, progress: Callable[[str], None], euid: int
) -> mock_install.Mock:
    if own_filesystem:
        # Installed into the builder image (images/builder-mock), which runs privileged: this
        # host needs nothing but the engine (rootless Podman's --privileged is enough for mock).
        return mock_install.resolve(config.mock_source, Path(config.cache_dir), progress, for_image=True)
    if euid != 0:
        raise BoxKojiError(
            "builds on the processes runtime need root: kojid runs mock in a mount namespace of its "
            "own (private /etc, /usr/bin/mock) and mock mounts /proc and /dev in its chroot. Run "
            "pytest as root, or use --boxkoji-runtime=containers (rootless Podman's --privileged "
            "is enough for mock), or --boxkoji-builds=no to stop trying."
        )
    programs = ("unshare", "mount", "sudo", "dnf-3", "createrepo_c", "rpmbuild")
    missing = [p for p in programs if not shutil.which(p)]
    if missing:
        raise BoxKojiError(
            f"builds need {', '.join(missing)} on this host: apt-get install "
            f"{' '.join(mock_install.DEBIAN_PACKAGES)} util-linux (Fedora: dnf install mock sudo)"
        )
    return mock_install.resolve(config.mock_source, Path(config.cache_dir), progress)


def recorded(builds: Builds) -> dict[str, Any]:
    """For a box's record (box.py): what its builders were started with."""
    if builds.mock is None:
        return {"reason": builds.reason}
    mock = builds.mock
    return {
        "program": str(mock.program),
        "version": mock.version,
        "origin": mock.origin,
        "tree": str(mock.tree) if mock.tree else None,
        "templated_dictionary": str(mock.templated_dictionary) if mock.templated_dictionary else None,
    }


def restored(data: dict[str, Any] | None) -> Builds | None:
    if not data:
        return None
    if "program" not in data:
        return Builds(None, data.get("reason", ""))
    tree, td = (Path(data[k]) if data.get(k) else None for k in ("tree", "templated_dictionary"))
    return Builds(mock_install.Mock(Path(data["program"]), data["version"], data["origin"], tree, td))
