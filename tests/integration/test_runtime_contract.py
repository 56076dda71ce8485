"""The runtime contract (runtimes/__init__.py), the same tests for both runtimes.

A small HTTP server stands in for a service: what a runtime must do with it (start and wait,
fail with the logs, publish its port, mount, restart, kill, detach) does not depend on Koji.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from pytest_boxkoji.config import BoxKojiConfig
from pytest_boxkoji.errors import ServiceStartError
from pytest_boxkoji.keys import CONFIG_KEY
from pytest_boxkoji.runtimes import choose_runtime
from pytest_boxkoji.runtimes.containers import probe
from pytest_boxkoji.services import Check, Service

pytestmark = pytest.mark.integration
PYTHON = "/usr/bin/python3"  # in the images too; readable by the service user, unlike a pyenv


@pytest.fixture(params=["processes", "containers"])
def runtime(request, pytestconfig, tmp_path_factory):
    if request.param == "containers" and probe()[0] is None:
        pytest.skip(probe()[1])
    directory = Path(tempfile.mkdtemp(prefix="boxkoji-contract-"))
    directory.chmod(0o777)  # the services run as an unprivileged user and write here
    config = BoxKojiConfig(runtime=request.param, cache_dir=pytestconfig.stash[CONFIG_KEY].cache_dir)
    made = choose_runtime(config, f"contract-{directory.name}", directory)
    made.directory = directory  # for the tests
    made.started = []
    yield made
    for service in made.started:
        made.stop(service)
    made.close()
    shutil.rmtree(directory, ignore_errors=True)


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return answer.read().decode()


def web(runtime, name: str = "web", extra_dir: Path | None = None, **overrides) -> Service:
    """Writes `<name>.started`, prints a greeting read from extra_dir (if any), serves its directory."""
    end = runtime.endpoint(name, 8080)
    directory = runtime.directory
    greeting = f"open('{extra_dir}/greeting.txt').read()" if extra_dir else "'hello'"
    code = (
        "import http.server, pathlib, signal, sys\n"
        # A container's first process ignores SIGTERM unless it handles it (as real services do).
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
        f"pathlib.Path('{directory}/{name}.started').write_text('yes')\n"
        f"print('serving', {greeting}, flush=True)\n"
        f"http.server.HTTPServer(('{end.bind}', {end.port}), http.server.SimpleHTTPRequestHandler).serve_forever()\n"
    )
    url = f"http://{end.client_address}/{name}.started"
    settings = {
        "name": name,
        "command": [PYTHON, "-c", code],
        "ready": Check(f"GET {url}", lambda: get(url) == "yes"),
        "log": directory / f"{name}.log",
        "cwd": directory,
        "image": "kdc",
        "deadline": 60,
    }
    settings.update(overrides)
    service = Service(**settings)
    service.url = url
    service.endpoint = end
    return service


def start(runtime, service: Service) -> Service:
    runtime.start(service)
    runtime.started.append(service)
    return service


def until(condition, timeout: float = 30) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_start_waits_until_ready_and_stop_ends_it(runtime):
    service = start(runtime, web(runtime))
    assert runtime.alive(service)
    assert get(service.url) == "yes"  # through the endpoint's published address
    assert "serving hello" in runtime.logs(service)
    runtime.stop(service)
    assert not runtime.alive(service)
    with pytest.raises(OSError):
        get(service.url)
    runtime.stop(service)  # a service already gone: no error


def test_a_mounted_directory_is_seen_at_the_same_path(runtime, tmp_path_factory):
    extra = Path(tempfile.mkdtemp(prefix="boxkoji-contract-extra-"))
    extra.chmod(0o755)
    try:
        (extra / "greeting.txt").write_text("from a mounted directory")
        (extra / "greeting.txt").chmod(0o644)
        runtime.mount(extra)
        service = start(runtime, web(runtime, extra_dir=extra))
        assert "serving from a mounted directory" in runtime.logs(service)
    finally:
        shutil.rmtree(extra, ignore_errors=True)


def test_a_service_that_exits_while_starting_fails_with_its_output(runtime):
    doomed = web(runtime, "doomed", command=["sh", "-c", "echo 'cannot bind: boom' >&2; exit 3"])
    with pytest.raises(ServiceStartError, match=r"(?s)doomed .*exited.* while starting.*cannot bind: boom"):
        runtime.start(doomed)
    assert not runtime.alive(doomed)


def test_a_service_never_ready_fails_at_its_deadline_naming_its_check(runtime):
    sleepy = web(runtime, "sleepy", ready=Check("a check that never passes", lambda: False), deadline=2)
    with pytest.raises(
        ServiceStartError,
        match=r"(?s)sleepy was not ready within 2 s \(check: a check that never passes; last answer: not yet\)",
    ):
        runtime.start(sleepy)
    assert not runtime.alive(sleepy)


def test_restart_runs_it_again_and_waits_until_ready(runtime):
    service = start(runtime, web(runtime))
    (runtime.directory / "web.started").unlink()
    runtime.restart(service)
    assert runtime.alive(service)
    assert get(service.url) == "yes"  # written again by the new process


def relay(runtime, target: Service) -> Service:
    """Answers each GET with what it reads from `target`'s web, reached as services reach each
    other (the endpoint's host: a name on the containers' network)."""
    end = runtime.endpoint("relay", 8080)
    source = f"http://{target.endpoint.address}/{target.name}.started"
    code = (
        "import http.server, signal, sys, urllib.request\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
        "class Relay(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        f"        body = urllib.request.urlopen('{source}', timeout=3).read()\n"
        "        self.send_response(200); self.end_headers(); self.wfile.write(body)\n"
        f"http.server.HTTPServer(('{end.bind}', {end.port}), Relay).serve_forever()\n"
    )
    url = f"http://{end.client_address}/"
    service = Service(
        name="relay",
        command=[PYTHON, "-c", code],
        ready=Check(f"GET {url}", lambda: get(url) == "yes"),
        log=runtime.directory / "relay.log",
        cwd=runtime.directory,
        image="kdc",
        deadline=60,
    )
    service.url = url
    return service


def test_a_restarted_service_is_reached_by_the_others_at_once(runtime):
    """Another service reaches it by its name the moment the restart returns: in containers it
    keeps its address (the others' /etc/hosts names it) and its MAC (their neighbour caches)."""
    target = start(runtime, web(runtime))
    other = start(runtime, relay(runtime, target))
    assert get(other.url) == "yes"  # the relay has just talked to it: its caches are fresh
    (runtime.directory / "web.started").write_text("again")
    runtime.restart(target)  # the new process writes "yes" again once it is up
    assert get(other.url) == "yes"
    if runtime.name == "containers":
        hosts = runtime.containers["relay"].exec_run(["cat", "/etc/hosts"]).output.decode()
        address = runtime.addresses["web"][0]
        assert f"{address}\tweb.koji.box" in hosts


def test_kill_is_abrupt_and_seen(runtime):
    service = start(runtime, web(runtime))
    runtime.kill(service)
    assert until(lambda: not runtime.alive(service))


def test_dead_names_the_services_that_stopped_among_those_running(runtime):
    survivor = start(runtime, web(runtime))
    victim = start(runtime, web(runtime, name="victim"))
    assert runtime.dead([survivor, victim]) == []
    runtime.kill(victim)
    assert until(lambda: runtime.dead([survivor, victim]) == [victim])


def test_detach_leaves_it_running_and_the_stop_hint_stops_it(runtime):
    service = web(runtime)
    runtime.start(service)
    runtime.detach()
    assert get(service.url) == "yes"  # forgotten, still serving
    hint = runtime.stop_hint([runtime.directory])
    done = subprocess.run(hint, shell=True, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert until(lambda: not _answers(service.url))
    assert not runtime.directory.exists()


def _answers(url: str) -> bool:
    try:
        get(url)
        return True
    except OSError:
        return False
