"""Crash-proof at scale: 20 sessions started at the same moment on one machine do not collide
(ports, names, directories, containers), and what SIGKILLed ones left is gone after the next
session. The KDC, PostgreSQL and orch of each, with the fake Koji (no hub needed), on the runtime
this run uses (run the file once per runtime). `-m scale` selects it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from crowd import Crowd, kill_later, leftovers, owned_directories, standing
from nested import nested_pytest

pytestmark = [pytest.mark.integration, pytest.mark.scale]

SESSIONS = 20
KILLED_STARTING = {3: 1.0, 11: 2.5}  # index: seconds after the barrier (start-up under way)
KILLED_RUNNING = (0, 7, 15)  # after they recorded their services: mid-run
LINGER = 900  # the killed ones wait this long after recording; they never get to the end


def test_twenty_sessions_at_once_and_the_next_sweeps_the_killed(
    fake_koji, shared_tmp, child_env, outer_args, pytester
):
    runtime = next(a.split("=", 1)[1] for a in outer_args if a.startswith("--boxkoji-runtime="))
    command = nested_pytest(fake_koji, *outer_args)
    linger = dict.fromkeys([*KILLED_STARTING, *KILLED_RUNNING], LINGER)
    crowd = Crowd(shared_tmp / "crowd", SESSIONS, command, dict(child_env), linger)
    try:
        crowd.start()
        killers = [
            threading.Thread(target=kill_later, args=(crowd, index, delay))
            for index, delay in KILLED_STARTING.items()
        ]
        for killer in killers:
            killer.start()
        survivors = [i for i in range(SESSIONS) if i not in KILLED_STARTING]
        crowd.wait_recorded(survivors)
        for killer in killers:
            killer.join()
        left_at_kill = {}
        for index in KILLED_RUNNING:
            crowd.kill(index)
            # At once (a quick look, not a scan): any session starting on this machine (other
            # test runs) sweeps what it left too.
            left_at_kill[index] = standing(crowd.record(index))
        codes = crowd.wait_all()
    finally:
        crowd.kill_all()
    finished = [i for i in survivors if i not in KILLED_RUNNING]
    failed = [i for i in finished if codes[i] != 0]
    assert not failed, crowd.outputs(failed)
    assert all(codes[i] == -9 for i in [*KILLED_STARTING, *KILLED_RUNNING]), codes

    # No collision: every session had ports, directories and a marker of its own.
    records = [crowd.record(i) for i in survivors]
    ports = [port for record in records for port in record["ports"]]
    assert len(ports) == len(set(ports)) == 2 * len(survivors), sorted(ports)
    directories = [d for record in records for d in record["directories"]]
    assert len(directories) == len(set(directories))
    assert len({record["marker"] for record in records}) == len(records)
    resources = [name for record in records for name in record["resources"]]
    assert len(resources) == len(set(resources))

    # What the killed sessions left: there when they died (nothing stopped it), gone after the next.
    # Another run's session starting meanwhile (the other xdist worker's) may sweep some first;
    # at least one killed session's services and directories must have been seen standing.
    seen = [
        i
        for i, left in left_at_kill.items()
        if (left["processes"] or left["containers"]) and left["directories"]
    ]
    assert seen, left_at_kill
    killed = {crowd.children[i].pid: i for i in [*KILLED_STARTING, *KILLED_RUNNING]}
    theirs = {pid: owned_directories(pid) for pid in killed}
    for index in KILLED_RUNNING:
        record = crowd.record(index)
        theirs[record["pid"]] = sorted({*theirs[record["pid"]], *map(Path, record["directories"])})
    (pytester.path / "test_next.py").write_text("def test_next(kdc, postgres):\n    assert kdc.port\n")
    nxt = pytester.run(*nested_pytest(fake_koji, *outer_args))
    assert nxt.ret == 0, nxt.outlines
    left = {killed[pid]: leftovers(pid, dirs, runtime) for pid, dirs in theirs.items()}
    assert not any(left.values()), left
    # The sessions that ended normally left nothing either.
    for index in finished:
        record = crowd.record(index)
        assert not leftovers(record["pid"], [Path(d) for d in record["directories"]], runtime), index
