# mypy: ignore-errors
"""A kojid plugin for builders that cannot build in mock (builds/capability.py says why).

Tasks that need a mock buildroot would fail deep inside kojid (writing /etc/mock/koji, then
mock itself). This plugin answers them at once with the reason and the ways out, read from
`boxkoji_nomock.reason` beside it. Runs in the services' Python, inside kojid.
"""

import os

import koji
from koji.tasks import BaseTaskHandler

_HERE = os.path.dirname(os.path.abspath(__file__))
try:
    with open(os.path.join(_HERE, "boxkoji_nomock.reason")) as _file:
        _WHY = _file.read().strip()
except OSError:
    _WHY = ""
REASON = (
    f"this builder cannot build in a mock buildroot: {_WHY or 'it has no mock'}. "
    "Builds can still enter the box by import (the koji_build_factory fixture, or `build:` "
    "entries in a scenario)."
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
