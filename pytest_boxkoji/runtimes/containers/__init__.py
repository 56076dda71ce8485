"""The containers runtime: every service in its own container, through testcontainers.

engine.py     reaching Docker or Podman, the session labels, listing and sweeping by label
images.py     the service images, built from the Dockerfiles in the package
tools.py      a service's programs inside its image (one-off commands by exec)
logs.py       a container's log from a position, for a test's report
runtime.py    ContainersRuntime: the runtime contract (runtimes/__init__.py) in containers
doctor.py     what `boxkoji doctor` checks for this runtime
"""

from pytest_boxkoji.runtimes.containers.doctor import doctor_checks
from pytest_boxkoji.runtimes.containers.engine import (
    DIR_LABEL,
    EXTRA_HINT,
    LABEL,
    PID_LABEL,
    gone,
    host_alias,
    listed,
    probe,
    remove_network,
    sweep_marker,
    sweep_stale,
)
from pytest_boxkoji.runtimes.containers.images import DEFAULT_BASE, DOCKERFILES, Images
from pytest_boxkoji.runtimes.containers.runtime import ContainersRuntime

__all__ = [
    "DEFAULT_BASE",
    "DIR_LABEL",
    "DOCKERFILES",
    "EXTRA_HINT",
    "LABEL",
    "PID_LABEL",
    "ContainersRuntime",
    "Images",
    "doctor_checks",
    "gone",
    "host_alias",
    "listed",
    "probe",
    "remove_network",
    "sweep_marker",
    "sweep_stale",
]
