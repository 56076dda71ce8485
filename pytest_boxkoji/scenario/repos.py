"""Repos of a scenario's build tags, made before its snapshot is taken.

Every test of a scenario starts from its snapshot. A build tag with no repo there would have kojid
make one (createrepo_c, mergerepo_c of the external repos) in every test that builds; made once
here, it is in the snapshot, and the builders' root caches (inside/daemon_launcher.py), keyed by
the repo's content, are used test after test. Only where builders are ready: without them the
first build of each test makes it, as in any Koji.
"""

from __future__ import annotations

import time

import koji

from pytest_boxkoji.errors import BoxKojiError
from pytest_boxkoji.scenario.loader import Scenario

DEADLINE = 600.0  # a cold createrepo of the box's buildroot repository on a busy machine


def make_build_repos(session: koji.ClientSession, scenario: Scenario) -> None:
    if not session.listHosts(enabled=True, ready=True):
        return
    tags = sorted({target.build_tag for target in scenario.of("target")})
    tasks = {tag: session.newRepo(tag) for tag in tags if session.getRepo(tag) is None}
    deadline = time.monotonic() + DEADLINE
    done = {koji.TASK_STATES[s] for s in ("CLOSED", "FAILED", "CANCELED")}
    for tag, task_id in tasks.items():
        while (info := session.getTaskInfo(task_id))["state"] not in done:
            if time.monotonic() > deadline:
                raise BoxKojiError(
                    f"the repo of build tag {tag} (newRepo task {task_id}) took over {DEADLINE:.0f} s"
                )
            time.sleep(0.5)
        if info["state"] != koji.TASK_STATES["CLOSED"]:
            try:
                session.getTaskResult(task_id)
            except koji.GenericError as exc:
                raise BoxKojiError(
                    f"the repo of build tag {tag} could not be made (newRepo task {task_id}): {exc}"
                ) from None
