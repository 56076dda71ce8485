"""A build submitted as a user would submit it (an uploaded SRPM, or an SCM URL), waited for, and
everything a test asks of it afterwards: state, result, RPMs, logs."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import koji

from pytest_boxkoji.errors import BoxKojiError

DONE = {koji.TASK_STATES[s] for s in ("CLOSED", "FAILED", "CANCELED")}


@dataclass
class BuildResult:
    """One build task, finished."""

    task_id: int
    state: str  # CLOSED, FAILED or CANCELED
    result: Any  # the task's result (None when it failed)
    error: str  # Koji's fault text when it failed, else ""
    build: dict[str, Any] | None  # getBuild() (None for scratch builds and failures)
    rpms: list[dict[str, Any]]  # listRPMs() of the build; for a scratch build: {"name", "arch", "url"}
    logs: dict[str, str] = field(default_factory=dict)  # "<task id>/<file>": text, every task's logs
    tasks: list[dict[str, Any]] = field(default_factory=list)  # the task and its subtasks

    @property
    def ok(self) -> bool:
        return self.state == "CLOSED"

    def log(self, name: str) -> str:
        """A log by file name (build.log, root.log, mock_output.log...), from whichever task has
        it (the arch build's before the SRPM's); "" when none does."""
        found = [text for key, text in sorted(self.logs.items(), reverse=True) if key.endswith("/" + name)]
        return found[0] if found else ""

    def task(self, method: str) -> list[dict[str, Any]]:
        return [t for t in self.tasks if t["method"] == method]


def submit(
    session: koji.ClientSession,
    source: str | Path,
    target: str,
    scratch: bool = False,
    arch_override: str | None = None,
    priority: int | None = None,
) -> int:
    """Start a build of an SRPM file (uploaded first, as `koji build` does) or an SCM URL."""
    opts: dict[str, Any] = {"scratch": scratch}
    if arch_override:
        opts["arch_override"] = arch_override
    if not is_scm_url(source):
        path = Path(source)
        if not path.is_file():
            raise BoxKojiError(f"koji_build({source!r}): no such SRPM file (or an SCM URL: git+https://...)")
        serverdir = f"boxkoji-build/{uuid.uuid4().hex}"
        session.uploadWrapper(str(path), serverdir, name=path.name)
        source = f"{serverdir}/{path.name}"
    task_id: int = session.build(str(source), target, opts, priority=priority)
    return task_id


def is_scm_url(source: str | Path) -> bool:
    """An SCM URL (git://..., git+https://...), as opposed to an SRPM's path."""
    return not isinstance(source, Path) and "://" in source


def wait(session: koji.ClientSession, task_id: int, timeout: float) -> dict[str, Any]:
    """The task's info once it has ended; a timeout names it, its state and what it waits on."""
    deadline = time.monotonic() + timeout
    while True:
        info: dict[str, Any] = session.getTaskInfo(task_id)
        if info["state"] in DONE:
            return info
        if time.monotonic() > deadline:
            children = session.getTaskChildren(task_id)
            open_ones = ", ".join(f"{c['id']} {c['method']} {koji.TASK_STATES[c['state']]}" for c in children)
            raise BoxKojiError(
                f"build task {task_id} is still {koji.TASK_STATES[info['state']]} after {timeout:.0f} s "
                f"(subtasks: {open_ones or 'none yet'}). Are the builders running (the `workers` "
                "fixture), and does the target's build tag have a repo (kojira makes it)?"
            )
        time.sleep(0.5)


def outcome(session: koji.ClientSession, task_id: int, topurl: str) -> BuildResult:
    """What a finished build task made, and every log its tasks uploaded."""
    info = session.getTaskInfo(task_id, request=True)
    state = koji.TASK_STATES[info["state"]]
    tasks = [info, *session.getTaskChildren(task_id, request=True)]
    result: Any = None
    error = ""
    try:
        result = session.getTaskResult(task_id)
    except koji.GenericError as exc:
        error = str(exc)
    logs = {}
    for task in tasks:
        for name in session.listTaskOutput(task["id"]):
            if name.endswith(".log"):
                data = session.downloadTaskOutput(task["id"], name)
                logs[f"{task['id']}/{name}"] = data.decode("utf-8", "replace")
    build = None
    rpms: list[dict[str, Any]] = []
    made = session.listBuilds(taskID=task_id) if state == "CLOSED" else []
    if made:
        build = session.getBuild(made[0]["build_id"])
        rpms = session.listRPMs(buildID=build["id"])
        pathinfo = koji.PathInfo(topdir=topurl)
        for rpm in rpms:
            rpm["url"] = f"{pathinfo.build(build)}/{pathinfo.rpm(rpm)}"
    elif state == "CLOSED":
        pathinfo = koji.PathInfo(topdir=topurl)
        for task in tasks:
            for name in session.listTaskOutput(task["id"]):
                if name.endswith(".rpm"):
                    parts = koji.parse_NVRA(name)
                    rpms.append(
                        {**parts, "url": f"{pathinfo.task(task['id'])}/{name}", "task_id": task["id"]}
                    )
    return BuildResult(task_id, state, result, error, build, rpms, logs, tasks)
