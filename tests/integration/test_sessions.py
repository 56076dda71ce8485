"""Whole pytest sessions against the real hub: side by side, and kept for a shell (needs Koji)."""

import contextlib
import json
import os
import re
import subprocess
from pathlib import Path

import psutil
import pytest
from nested import nested_pytest

pytestmark = [pytest.mark.integration, pytest.mark.needs_koji]

HELLO = """
import json, os
def test_hello(boxkoji, koji_session, koji_cli):
    assert koji_session.getLoggedInUser()["name"] == "kojiuser"
    assert koji_cli("hello").returncode == 0
    with open(os.environ["RECORD"], "w") as f:
        json.dump({"hub": boxkoji.hub_url, "urls": boxkoji.urls, "dir": str(boxkoji.directory)}, f)
"""


def test_two_environments_side_by_side(pytester, koji_source_path, shared_tmp, child_env, outer_args):
    pytester.makepyfile(test_hello=HELLO)
    children = [
        subprocess.Popen(
            nested_pytest(koji_source_path, *outer_args),
            cwd=pytester.path,
            env={**child_env, "RECORD": str(shared_tmp / f"{n}.json")},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in range(2)
    ]
    outputs = [child.communicate(timeout=300)[0] for child in children]
    assert [child.returncode for child in children] == [0, 0], outputs
    first, second = (json.loads((shared_tmp / f"{n}.json").read_text()) for n in range(2))
    assert first["hub"] != second["hub"]
    assert not set(first["urls"].values()) & set(second["urls"].values())


def hello_from_a_shell(out, shared_tmp):
    """The report's export, kinit and koji lines, run in a shell as printed."""
    shell_env = dict(pair.split("=", 1) for pair in re.search(r"shell:\s+export (.*)", out).group(1).split())
    kinit = re.search(r"kinit:\s+(kinit .*)", out).group(1)
    koji_cmd = re.search(r"koji:\s+(/\S*/koji .*)", out).group(1)
    env = {**os.environ, **shell_env, "KRB5CCNAME": f"FILE:{shared_tmp}/ccache"}
    assert subprocess.run(kinit, shell=True, env=env).returncode == 0
    hello = subprocess.run(koji_cmd, shell=True, env=env, capture_output=True, text=True)
    assert hello.returncode == 0, hello.stderr
    assert "kojiuser" in hello.stdout


def check_kept_containers(out, shared_tmp):
    """The kept containers answer from a shell; the printed stop line removes all of them."""
    from pytest_boxkoji.runtimes.containers import probe

    stop = re.search(r"stop:\s+(.*)", out).group(1)
    names = re.search(r"rm -f ([^;]+);", stop).group(1).split()
    client, _ = probe()
    try:
        assert names and all(client.containers.get(n).status == "running" for n in names)
        hello_from_a_shell(out, shared_tmp)
    finally:
        done = subprocess.run(stop, shell=True, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    left = {summary["Names"][0].lstrip("/") for summary in client.api.containers(all=True)} & set(names)
    assert left == set()
    assert not Path(re.search(r"environment kept in (\S+)", out).group(1)).exists()


def test_keep_leaves_a_working_environment_for_the_shell(
    pytester, koji_source_path, shared_tmp, child_env, outer_args
):
    pytester.makepyfile(test_hello=HELLO)
    result = subprocess.run(
        nested_pytest(koji_source_path, "--boxkoji-keep", *outer_args),
        cwd=pytester.path,
        env={**child_env, "RECORD": str(shared_tmp / "kept.json")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = result.stdout
    stop_line = re.search(r"stop:\s+(.*)", out)
    if result.returncode != 0:
        if stop_line:  # what started must not outlive a failed run
            subprocess.run(stop_line.group(1), shell=True, check=False)
        pytest.fail(out + result.stderr)
    if "--boxkoji-runtime=containers" in outer_args:
        check_kept_containers(out, shared_tmp)
        return
    stop = re.search(r"stop:\s+(kill .*)", out).group(1)
    pids = [int(p) for p in re.search(r"kill ([\d ]+) 2>/dev/null;", stop).group(1).split()]
    try:
        assert len([p for p in pids if psutil.pid_exists(p)]) >= 3  # KDC, PostgreSQL, Apache at least
        hello_from_a_shell(out, shared_tmp)
    finally:
        subprocess.run(stop, shell=True, check=False)
    procs = []
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):  # one may end while we look
            procs.append(psutil.Process(pid))
    psutil.wait_procs(procs, timeout=30)
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    kept = re.search(r"environment kept in (\S+)", out).group(1)
    survivors = [p.pid for p in psutil.process_iter(["cmdline"]) if kept in " ".join(p.info["cmdline"] or [])]
    assert survivors == []  # PostgreSQL (whose title hides its environment) stopped too
