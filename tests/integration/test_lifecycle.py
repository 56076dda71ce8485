"""Start-up failures, teardown, Ctrl-C and side-by-side sessions (real processes, run everywhere)."""

import contextlib
import json
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from nested import default_signals, nested_pytest

from pytest_boxkoji.errors import ServiceStartError
from pytest_boxkoji.runtimes.processes import ProcessesRuntime
from pytest_boxkoji.services import Check, Service

pytestmark = pytest.mark.integration

RECORD_PIDS = """
import json, os, signal, time
def test_record(boxkoji_environment, kdc, postgres{extra}):
    with postgres.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT name FROM users")
        assert cur.fetchall() == [("kojiadmin",)]
    info = {{"pids": boxkoji_environment.runtime.pids(), "dir": str(boxkoji_environment.directory),
             "ports": [kdc.port, postgres.port],
             "sigint": signal.getsignal(signal.SIGINT) is signal.default_int_handler,
             "sigterm": signal.getsignal(signal.SIGTERM) != signal.SIG_IGN}}
    with open(os.environ["RECORD"], "w") as f:
        json.dump(info, f)
    time.sleep(float(os.environ.get("LINGER", "0")))
"""


def wait_gone(pids, timeout=10):
    """Wait for the processes to end (one may end while we look: that is fine)."""
    procs = []
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            procs.append(psutil.Process(pid))
    psutil.wait_procs(procs, timeout=timeout)


def alive(pids):
    found = []
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):  # one may end while we look
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                found.append(pid)
    return found


def pytest_command(source, cache):
    # The processes runtime's own lifecycle (pids, signals); test_containers.py has the containers'.
    return nested_pytest(source, "--boxkoji-runtime=processes", f"--boxkoji-cache-dir={cache}")


def test_a_service_that_dies_fails_at_once_with_its_log(tmp_path):
    runtime = ProcessesRuntime(None, "test-dies")
    service = Service(
        "doomed",
        ["sh", "-c", "echo 'cannot bind: boom' >&2; exit 3"],
        ready=Check("never", lambda: False),
        log=tmp_path / "doomed.log",
        deadline=30,
    )
    # "exited with code 3", not "not ready within 30 s": the exit was noticed, not the deadline.
    with pytest.raises(ServiceStartError, match=r"(?s)doomed exited with code 3.*cannot bind: boom"):
        runtime.start(service)


def test_a_service_that_never_gets_ready_fails_at_its_deadline(tmp_path):
    runtime = ProcessesRuntime(None, "test-slow")
    service = Service(
        "sleepy",
        ["sh", "-c", "echo waiting; exec sleep 30"],
        ready=Check("a check that never passes", lambda: False),
        log=tmp_path / "sleepy.log",
        deadline=1,
    )
    with pytest.raises(
        ServiceStartError,
        match=r"(?s)sleepy was not ready within 1 s \(check: a check that never passes; last answer: not yet\).*waiting",
    ):
        runtime.start(service)
    assert runtime.pids() == []


def test_no_process_outlives_the_session(pytester, fake_koji, shared_tmp, child_env, monkeypatch):
    record = shared_tmp / "record.json"
    monkeypatch.setenv("RECORD", str(record))
    pytester.makepyfile(test_record=RECORD_PIDS.format(extra=""))
    result = pytester.run(*pytest_command(fake_koji, shared_tmp / "cache"))
    assert result.ret == 0, result.outlines
    # A cold cache: the slow step says so on the terminal, through pytest's output capture.
    result.stdout.fnmatch_lines(
        ["boxkoji: building the database template with Koji's schema in * (once) ...", "*: done in *s"]
    )
    info = json.loads(record.read_text())
    assert len(info["pids"]) >= 3  # krb5kdc, postgres and its workers
    assert alive(info["pids"]) == []
    assert not Path(info["dir"]).exists()


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_and_sigterm_stop_everything(pytester, fake_koji, shared_tmp, child_env, stop_signal):
    record = shared_tmp / "record.json"
    pytester.makepyfile(test_record=RECORD_PIDS.format(extra=""))
    child = subprocess.Popen(
        pytest_command(fake_koji, shared_tmp / "cache"),
        cwd=pytester.path,
        env={**child_env, "RECORD": str(record), "LINGER": "60"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=default_signals,  # whatever started this run (`pytest &` ignores SIGINT)
    )
    deadline = time.monotonic() + 120
    while not record.exists() or not record.read_text():
        assert child.poll() is None, child.stdout.read()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(0.2)
    info = json.loads(record.read_text())
    assert alive(info["pids"])
    # The child would act on the signal as in a terminal (else this test proves nothing).
    assert info["sigint"] and info["sigterm"], info
    child.send_signal(stop_signal)
    out, _ = child.communicate(timeout=60)
    assert "KeyboardInterrupt" in out
    assert alive(info["pids"]) == []
    assert not Path(info["dir"]).exists()


def test_a_failure_half_way_stops_what_had_started(pytester, fake_koji, shared_tmp, child_env, monkeypatch):
    (fake_koji / "schemas" / "schema.sql").write_text("CREATE TABLE broken (;\n")
    record = shared_tmp / "record.json"
    monkeypatch.setenv("RECORD", str(record))
    pytester.makepyfile(
        test_record="""
import json, os
def test_kdc_then_postgres(request, boxkoji_environment, kdc):
    with open(os.environ["RECORD"], "w") as f:
        json.dump(boxkoji_environment.runtime.pids(), f)
    request.getfixturevalue("postgres")
"""
    )
    result = pytester.run(*pytest_command(fake_koji, shared_tmp / "cache"))
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*Loading Koji's schema*schema.sql failed*"])
    pids = json.loads(record.read_text())
    assert pids and alive(pids) == []
    assert not list((shared_tmp / "cache" / "templates" / "pg").glob("*/data"))  # nothing half-built cached


def test_two_sessions_side_by_side(pytester, fake_koji, shared_tmp, child_env):
    pytester.makepyfile(test_record=RECORD_PIDS.format(extra=""))
    children = []
    for n in range(2):
        env = {**child_env, "RECORD": str(shared_tmp / f"record{n}.json"), "LINGER": "2"}
        children.append(
            subprocess.Popen(
                pytest_command(fake_koji, shared_tmp / "cache"),
                cwd=pytester.path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [child.communicate(timeout=180)[0] for child in children]
    assert [child.returncode for child in children] == [0, 0], outputs
    infos = [json.loads((shared_tmp / f"record{n}.json").read_text()) for n in range(2)]
    assert not set(infos[0]["ports"]) & set(infos[1]["ports"])
    assert infos[0]["dir"] != infos[1]["dir"]


def test_the_next_session_stops_what_a_killed_session_left(
    pytester, fake_koji, shared_tmp, child_env, monkeypatch
):
    record = shared_tmp / "record.json"
    monkeypatch.setenv("RECORD", str(record))
    pytester.makepyfile(
        test_record=RECORD_PIDS.format(extra="") + "    os.kill(os.getpid(), 9)  # no teardown at all\n"
    )
    result = pytester.run(*pytest_command(fake_koji, shared_tmp / "cache"))
    assert result.ret == -9
    info = json.loads(record.read_text())
    assert alive(info["pids"])  # nothing stopped them
    from pytest_boxkoji.workspace import sweep_stale

    swept = sweep_stale()  # what the next session does first
    assert Path(info["dir"]) in swept
    wait_gone(info["pids"])
    assert alive(info["pids"]) == []
    assert not Path(info["dir"]).exists()
