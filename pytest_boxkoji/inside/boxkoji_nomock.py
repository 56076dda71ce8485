# mypy: ignore-errors
"""A kojid plugin for builders without mock (Debian does not package it).

Tasks that need a mock buildroot would fail deep inside kojid (writing /etc/mock/koji, then
mock itself). This plugin answers them at once with the reason and the ways out. It is loaded
only when the host has no `mock`. Runs in the services' Python, inside kojid.
"""

import koji
from koji.tasks import BaseTaskHandler

REASON = (
    "this builder has no mock (Debian does not package it), so it cannot build in a mock "
    "buildroot. With pytest-boxkoji on such a host, import builds instead "
    "(the koji_build_factory fixture, or `build:` entries in a scenario), or run builders from "
    "an image with mock (pytest_boxkoji/images/builder-fedora/Dockerfile, for engines that can pull "
    "Fedora images)."
)


class NoMockTask(BaseTaskHandler):
    Methods = [
        "buildArch",
        "rebuildSRPM",
        "buildSRPMFromSCM",
        "buildMaven",
        "wrapperRPM",
        "createLiveCD",
        "createAppliance",
        "createLiveMedia",
        "createImage",
    ]
    _taskWeight = 0.1

    def handler(self, *args, **kwargs):
        raise koji.BuildError(f"{self.method} task {self.id}: {REASON}")
