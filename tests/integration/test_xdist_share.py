"""pytest-xdist workers share one KDC, orch and PostgreSQL server; each keeps its own hub and
database (shared.py). A real nested `-n 2` run, on this run's runtime."""

import json
import os
import socket
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.integration

# --dist each: every worker runs this test. Each makes a tag named after itself, waits until the
# other has made its own, then looks for both on its hub.
EACH_WORKER = """
import json, os, time
from pathlib import Path

def test_share(request, boxkoji, koji_admin, kdc, postgres, worker_id):
    out = Path(os.environ["RECORD"])
    koji_admin.createTag(f"tag-{worker_id}")
    (out / f"{worker_id}.made").touch()
    deadline = time.monotonic() + 300
    while len(list(out.glob("*.made"))) < 2:
        assert time.monotonic() < deadline, "the other worker never made its tag"
        time.sleep(0.2)
    others = [p.stem for p in out.glob("*.made") if p.stem != worker_id]
    with postgres.connect("postgres") as conn, conn.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database")
        databases = sorted(row[0] for row in cur.fetchall())
    env = boxkoji
    info = {
        "worker": worker_id,
        "mine": koji_admin.getTag(f"tag-{worker_id}") is not None,
        "theirs": [koji_admin.getTag(f"tag-{other}") for other in others],
        "kdc": [kdc.port, str(kdc.directory)],
        "postgres": [postgres.port, str(postgres.directory), postgres.database],
        "databases": databases,
        "hub": env.hub_url,
        "directories": [str(d) for d in env.workspace.directories],
        "shared": request.config.workerinput.get("boxkoji_shared", {}).get("directory"),
        "pids": env.runtime.pids(),
        "runtime": env.runtime.name,
    }
    (out / f"{worker_id}.json").write_text(json.dumps(info))
"""


def naming(directories):
    """Processes whose command line or environment names one of `directories` (as the sweep
    finds a session's processes)."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            text = " ".join(proc.cmdline()) + " " + " ".join(proc.environ().values())
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if proc.pid != os.getpid() and any(d in text for d in directories):
            found.append(proc.pid)
    return found


def containers_of(directories):
    """Containers and networks labelled with one of `directories` (the containers runtime's)."""
    import docker

    from pytest_boxkoji.runtimes.containers import DIR_LABEL, listed

    client = docker.from_env()
    # listed(): the other worker's session removes its containers while this one looks.
    found = [c.name for c in listed(client, DIR_LABEL) if c.labels.get(DIR_LABEL) in directories]
    found += [
        n.name
        for n in client.networks.list(filters={"label": DIR_LABEL})
        if (n.attrs.get("Labels") or {}).get(DIR_LABEL) in directories
    ]
    return found


def each_worker(pytester, run, koji_source_path, record: Path, *options: str) -> list[dict]:
    """A nested run of EACH_WORKER on two workers (every test on each); what each recorded."""
    record.mkdir()
    pytester.makepyfile(test_each=EACH_WORKER)
    result = run(pytester, koji_source_path, "-p", "xdist", "-n", "2", "--dist", "each", *options)
    assert result.ret == 0, "\n".join(result.outlines[-60:])
    infos = [json.loads(p.read_text()) for p in sorted(record.glob("*.json"))]
    assert [i["worker"] for i in infos] == ["gw0", "gw1"]
    return infos


def test_workers_share_the_kdc_and_postgres_not_the_hub(
    pytester, run, koji_source_path, shared_tmp, child_env, monkeypatch
):
    monkeypatch.setenv("RECORD", str(shared_tmp / "record"))
    first, second = each_worker(pytester, run, koji_source_path, shared_tmp / "record")

    # One KDC and one PostgreSQL server for both...
    assert first["kdc"] == second["kdc"]
    assert first["postgres"][:2] == second["postgres"][:2]
    # ...each worker its own database, snapshots and hub.
    assert [first["postgres"][2], second["postgres"][2]] == ["koji_gw0", "koji_gw1"]
    for database in (
        "koji",
        "koji_gw0",
        "koji_gw1",
        "boxkoji_koji_gw0_snap_empty",
        "boxkoji_koji_gw1_snap_empty",
    ):
        assert database in first["databases"]
    assert first["hub"] != second["hub"]
    assert first["shared"] == second["shared"]
    # A tag one worker made is on its hub only.
    for info in (first, second):
        assert info["mine"] is True and info["theirs"] == [None], info

    # Nothing is left: processes, directories (the workers', the shared services', the run's),
    # and under containers the containers and networks.
    directories = [
        *first["directories"],
        *second["directories"],
        first["shared"],
        first["kdc"][1],
        first["postgres"][1],
    ]
    assert [d for d in directories if Path(d).exists()] == []
    assert naming(directories) == []
    assert [p for p in first["pids"] + second["pids"] if psutil.pid_exists(p)] == []
    if first["runtime"] == "containers":
        assert containers_of(directories) == []
    # Nor a port forward: the shared services' ports are not sent to an address nobody has (the
    # engine's rules for the workers' networks outlived the containers once, and a later service
    # given one of those ports was unreachable).
    for port in (first["kdc"][0], first["postgres"][0]):
        assert not forwarded_nowhere(port), port


def forwarded_nowhere(port: int) -> bool:
    """A connection to 127.0.0.1:port neither is refused nor succeeds: unreachable, or no answer."""
    with socket.socket() as sock:
        sock.settimeout(5)
        try:
            sock.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return False
        except OSError:
            return True
    return False  # someone listens there now: another session was given the port


def test_without_sharing_each_worker_has_its_own_kdc(
    pytester, run, koji_source_path, shared_tmp, child_env, monkeypatch
):
    monkeypatch.setenv("RECORD", str(shared_tmp / "record"))
    first, second = each_worker(
        pytester, run, koji_source_path, shared_tmp / "record", "--boxkoji-xdist-share=no"
    )
    assert first["kdc"] != second["kdc"] and first["postgres"][:2] != second["postgres"][:2]
    assert first["postgres"][2] == second["postgres"][2] == "koji"
