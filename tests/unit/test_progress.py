"""Progress lines: slow work says so at once; usual work only when it takes long."""

import threading

from pytest_boxkoji import progress


def test_a_quick_phase_says_nothing():
    lines = []
    with progress.use(lines.append), progress.phase("starting kdc", patience=60):
        pass
    assert lines == []


def test_a_phase_that_takes_long_says_what_it_is_doing_and_when_it_is_done():
    lines = []
    said = threading.Event()

    def write(line):
        lines.append(line)
        said.set()

    with progress.use(write), progress.phase("starting hub", patience=0.01):
        assert said.wait(10)  # the line comes while the phase is still running
    assert lines[0] == "boxkoji: starting hub ..."
    assert lines[1].startswith("boxkoji: starting hub: done in ")


def test_known_slow_work_says_so_at_once():
    lines = []
    with progress.use(lines.append), progress.slow("building the services' Python"):
        assert lines == ["boxkoji: building the services' Python ..."]
    assert lines[1].startswith("boxkoji: building the services' Python: done in ")


def test_use_restores_the_previous_writer():
    outer, inner = [], []
    with progress.use(outer.append):
        with progress.use(inner.append):
            progress.say("inside")
        progress.say("outside")
    assert inner == ["boxkoji: inside"] and outer == ["boxkoji: outside"]
