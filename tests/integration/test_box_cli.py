"""The `boxkoji` verbs end to end: the installed command against real environments, on the
runtime this run uses (run the file once per runtime), and --boxkoji-reuse from a nested pytest."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml
from nested import default_signals, nested_pytest

from pytest_boxkoji import box
from pytest_boxkoji.keys import CONFIG_KEY

pytestmark = [pytest.mark.integration, pytest.mark.needs_koji]
BOXKOJI = str(Path(sys.executable).parent / "boxkoji")  # the installed entry point
SCENARIOS = Path(__file__).parent.parent.parent / "scenarios"


class Box:
    """Runs `boxkoji VERB --name NAME ...` with this run's cache, without BOXKOJI_* from outside."""

    def __init__(self, pytestconfig: pytest.Config, source: Path, name: str) -> None:
        cfg = pytestconfig.stash[CONFIG_KEY]
        self.cache, self.runtime, self.source, self.name = cfg.cache_dir, cfg.runtime, source, name
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BOXKOJI")}

    def command(self, verb: str, *args: str) -> list[str]:
        words = verb.split()
        extra = ["--runtime", self.runtime, "--koji-source", str(self.source)] if verb == "up" else []
        return [BOXKOJI, *words, "--name", self.name, "--cache-dir", str(self.cache), *extra, *args]

    def __call__(self, verb: str, *args: str, code: int | None = 0, **kwargs) -> subprocess.CompletedProcess:
        done = subprocess.run(
            self.command(verb, *args), env=self.env, capture_output=True, text=True, timeout=300, **kwargs
        )
        if code is not None:
            assert done.returncode == code, f"{verb}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def status(self) -> dict:
        done = self("status", "--json", code=None)
        try:
            return json.loads(done.stdout)
        except ValueError:
            pytest.fail(f"status --json: exit {done.returncode}\n{done.stdout}\n{done.stderr}")

    def record(self) -> box.BoxRecord:
        return box.read(self.cache, self.name)

    def down(self) -> None:
        if box.path_of(self.cache, self.name).exists():
            self("down", code=None)


def new_box(pytestconfig, source, *up_args) -> tuple[Box, subprocess.CompletedProcess]:
    made = Box(pytestconfig, source, f"test-{secrets.token_hex(3)}")
    done = made("up", "--detach", *up_args, code=None)
    if done.returncode != 0:
        made.down()
        pytest.fail(f"boxkoji up failed:\n{done.stdout}\n{done.stderr}")
    return made, done


@pytest.fixture(scope="module")
def started(pytestconfig, koji_source_path):
    """One environment with a builder for most verbs; removed at the end whatever happened."""
    made, done = new_box(pytestconfig, koji_source_path, "--workers", "1")
    yield made, done.stdout
    made.down()


@pytest.fixture
def up_box(started):
    return started[0]


def marker_of(made: Box) -> str:
    return made.record().marker


def leftovers(made_marker: str, runtime: str) -> list[str]:
    """What still carries the environment's marker: processes, or containers and networks."""
    if runtime == "containers":
        from pytest_boxkoji.runtimes.containers import LABEL, listed, probe

        client, _ = probe()
        label = f"{LABEL}={made_marker}"
        return [c.name for c in listed(client, label)] + [
            n.name for n in client.networks.list(filters={"label": label})
        ]
    from pytest_boxkoji.runtimes.processes import session_pids

    return [str(pid) for pid in session_pids(made_marker)]


def test_up_prints_the_profile_kinit_urls_and_how_to_stop(started, tmp_path):
    made, out = started
    for key in ("kdc", "postgres", "hub", "files", "profile:", "kinit:", "koji:", "shell:", "stop:"):
        assert re.search(rf"^\s+{key}\s", out, re.M), out
    assert f"stop:     boxkoji down --name {made.name}" in out
    # The printed lines work from a plain shell, as printed.
    exports = re.search(r"env:\s+export (.*)", out).group(1)
    kinit = re.search(r"kinit:\s+(kinit .*)", out).group(1)
    koji = re.search(r"koji:\s+(/\S*/koji .*)", out).group(1)
    script = f"export {exports} KRB5CCNAME=FILE:{tmp_path}/cc; {kinit} && {koji}"
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "kojiadmin" in done.stdout


def test_status_shows_each_service(up_box):
    status = up_box.status()
    by_name = {row["service"]: row for row in status["services"]}
    assert set(by_name) == {"kdc", "postgres", "hub", "kojira", "kojid:worker1.koji.box"}
    assert all(row["state"] == "up" for row in by_name.values()), by_name
    assert all(row["memory"] and row["memory"] > 0 for row in by_name.values()), by_name
    kind = "container" if status["runtime"] == "containers" else "pid"
    assert all(row["where"].startswith(kind) for row in by_name.values())
    assert by_name["hub"]["url"].startswith("https://localhost:") and by_name["hub"]["url"].endswith(
        "/kojihub"
    )
    text = up_box("status").stdout
    assert re.search(r"^\s+hub\s+up\s+", text, re.M), text


def test_shell_acts_as_the_user_with_any_koji_tool(up_box):
    done = up_box("shell", "--user", "alice", "-c", "koji hello && klist")
    assert "alice" in done.stdout and "Default principal: alice@KOJI.BOX" in done.stdout
    # Commands from stdin; the profile by its name, as the example writes it.
    done = up_box("shell", "--user", "kojiadmin", input="koji -p boxkoji hello\n")
    assert "kojiadmin" in done.stdout
    # A third-party tool reading the profile through koji.read_config, as Koji tools do.
    code = "import koji; c = koji.read_config('boxkoji'); s = koji.ClientSession(c['server'], c); s.gssapi_login(); print(s.getLoggedInUser()['name'])"
    done = up_box("shell", "--user", "alice", "-c", f'python3 -c "{code}"')
    assert done.stdout.strip() == "alice"
    assert up_box("shell", "-c", "exit 3", code=3).returncode == 3  # the command's exit code


def test_env_prints_export_lines_for_scripts(up_box):
    exports = up_box("env", "--user", "bob").stdout
    assert all(line.startswith("export ") for line in exports.splitlines())
    done = subprocess.run(
        ["bash", "-c", f'eval "$({" ".join(up_box.command("env", "--user", "bob"))})"; koji hello'],
        env=up_box.env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "bob" in done.stdout


class Follower:
    """`boxkoji logs --follow` in the background, its output read as it comes (signals at their
    defaults whatever started this run: the test stops it with SIGTERM)."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=default_signals
        )
        os.set_blocking(self.process.stdout.fileno(), False)
        self.seen = ""

    def wait_for(self, text: str, count: int = 1, timeout: float = 30) -> str:
        """Read until `text` has been printed `count` times (fails after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while self.seen.count(text) < count:
            assert self.process.poll() is None, f"the follower ended:\n{self.seen[-3000:]}"
            assert time.monotonic() < deadline, f"{text!r} x{count} never came:\n{self.seen[-3000:]}"
            self.seen += (self.process.stdout.read() or b"").decode(errors="replace")  # None when idle
            time.sleep(0.1)
        return self.seen

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)


def test_logs_and_follow(up_box):
    existing = up_box("logs", "kdc").stdout
    assert "AS_REQ" in existing  # the KDC's own log: every ticket it issued
    assert "==> output of hub" in up_box("logs", "hub").stdout
    carol = "carol@KOJI.BOX for krbtgt"  # an AS_REQ of carol's
    before = existing.count(carol)
    last_line = existing.strip().splitlines()[-1]
    follower = Follower(up_box.command("logs", "kdc", "--follow"), up_box.env)
    try:
        follower.wait_for(last_line, existing.count(last_line))  # all that was there: what comes next is new
        up_box("shell", "--user", "carol", "-c", "true")  # a ticket for carol: a new KDC log line
        follower.wait_for(carol, before + 1)
        assert follower.process.poll() is None  # still following
    finally:
        code = follower.stop()
    assert code == 0


def test_restart_each_service(up_box):
    before = up_box.record().refs  # pid and start time, or container id
    for service in ("kdc", "postgres", "hub", "kojira", "worker1.koji.box"):
        assert "restarted" in up_box("restart", service).stdout
    after = up_box.record().refs
    assert all(row["state"] == "up" for row in up_box.status()["services"])
    assert after["kdc"] != before["kdc"] and after["postgres"] != before["postgres"]
    assert "kojiadmin" in up_box("shell", "-c", "koji hello").stdout


def test_snapshots_save_restore_list(up_box):
    up_box("shell", "-c", "koji add-tag before-snap")
    assert "saved" in up_box("snapshot save", "first").stdout
    up_box("shell", "-c", "koji add-tag after-snap && koji remove-tag before-snap")
    assert "first" in up_box("snapshot list").stdout.split()  # beside other tests' snapshots
    up_box("snapshot restore", "first")
    tags = up_box("shell", "-c", "koji list-tags").stdout.split()
    assert "before-snap" in tags and "after-snap" not in tags


def test_scenario_apply_writes_plugin_config(up_box):
    """`scenario apply` gives a scenario's hub plugins and their files (plugin-config) as the
    marker does: sidetag's name_template comes from the written sidetag.conf."""
    up_box("snapshot save", "before_sidetag")
    try:
        up_box("scenario apply", str(SCENARIOS / "base.yaml"), str(SCENARIOS / "sidetag.yaml"))
        made = up_box("shell", "--user", "packager", "-c", "koji add-sidetag dist-build").stdout
        assert re.search(r"dist-build-box-\d+", made), made
    finally:
        up_box("snapshot restore", "before_sidetag")


def test_scenario_apply_starts_the_broker_a_protonmsg_scenario_needs(
    pytestconfig, koji_source_path, tmp_path
):
    """As the marker does: a scenario enabling protonmsg gets the box's broker (it had none),
    recorded with the box so that later verbs know it, and the hub's messages arrive there."""
    from pytest_boxkoji.messages import KojiMessages

    made, _ = new_box(pytestconfig, koji_source_path)
    marker = marker_of(made)
    try:
        (tmp_path / "told.yaml").write_text("type: hub\nplugins: [protonmsg]\n---\ntype: tag\nname: told\n")
        made("scenario apply", str(tmp_path / "told.yaml"))
        states = {row["service"]: row["state"] for row in made.status()["services"]}
        assert states.get("broker") == "up", states
        messages = KojiMessages(made.record().urls["broker"], "/topic/koji.#")
        try:
            made("shell", "-c", "koji add-pkg --owner kojiadmin told hello")
            messages.wait("package.add", timeout=30, tag="told", package="hello")
        finally:
            messages.close()
    finally:
        made.down()
    assert leftovers(marker, made.runtime) == []  # the broker stopped with the box


def test_bad_input_is_refused_with_a_reason(up_box, tmp_path):
    for verb in ("logs", "restart"):
        done = up_box(verb, "nginx", code=1)
        assert (
            "has no service 'nginx'; it has: kdc, postgres, hub, kojira, kojid:worker1.koji.box"
            in done.stderr
        )
    done = up_box("snapshot restore", "never_saved", code=1)
    assert "no snapshot 'never_saved'" in done.stderr
    # The name is taken: nothing starts.
    done = up_box("up", "--detach", code=1)
    assert f"an environment named {up_box.name!r} is already recorded" in done.stderr
    # A scenario the hub refuses half-way: the hub is put back as it was.
    (tmp_path / "clash.yaml").write_text("type: tag\nname: new-tag\n---\ntype: tag\nname: worker-tag\n")
    up_box("shell", "-c", "koji add-tag worker-tag")
    done = up_box("scenario apply", str(tmp_path / "clash.yaml"), code=1)
    assert "worker-tag" in done.stderr and "the hub refused" in done.stderr
    assert "new-tag" not in up_box("shell", "-c", "koji list-tags").stdout.split()
    # No environment of that name.
    nobody = Box(up_box_config(up_box), up_box.source, "never-started")
    for verb in ("status", "down", "shell", "logs hub", "scenario dump", "snapshot list"):
        done = nobody(verb, code=1)
        assert "no environment named 'never-started' is running" in done.stderr, verb


def up_box_config(made: Box):
    class Config:  # enough of pytest.Config for Box
        stash = {CONFIG_KEY: type("C", (), {"cache_dir": made.cache, "runtime": made.runtime})()}

    return Config()


def test_bad_input_to_up_starts_nothing(pytestconfig, koji_source_path, tmp_path):
    (tmp_path / "bad.yaml").write_text("type: tag\nname: dist-build\ninheritance: [dist-base]\n")
    made = Box(pytestconfig, koji_source_path, f"test-{secrets.token_hex(3)}")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cases = [
            (
                ["--scenario", str(tmp_path / "bad.yaml")],
                "bad.yaml:3: tag[dist-build].inheritance[0].name: no tag 'dist-base'",
            ),
            (
                ["--hub-port", str(port)],
                # This process holds it: `python` or `pytest`, however this run was started.
                f"--hub-port {port}: the port is in use by pid {os.getpid()} ({psutil.Process().name()})",
            ),
        ]
        for args, message in cases:
            command = made.command("up", "--detach", *args)
            child = subprocess.Popen(
                command, env=made.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            _, err = child.communicate(timeout=120)
            assert child.returncode == 1, err
            assert message in err
            assert not box.path_of(made.cache, made.name).exists()
            # No workspace was made by it (other sessions may make theirs meanwhile).
            owners = [
                (d / "owner.pid").read_text()
                for d in Path("/tmp").glob("boxkoji-*")
                if (d / "owner.pid").exists()
            ]
            assert str(child.pid) not in owners


def test_a_box_whose_service_died(pytestconfig, koji_source_path):
    made, _ = new_box(pytestconfig, koji_source_path)
    try:
        marker = marker_of(made)
        hub = next(row for row in made.status()["services"] if row["service"] == "hub")
        if made.runtime == "containers" or hub["where"].startswith("container"):
            from pytest_boxkoji.runtimes.containers import probe

            probe()[0].containers.get(hub["where"].split()[1]).kill()
        else:
            os.kill(int(hub["where"].split()[1]), signal.SIGKILL)
        status = made("status", code=1).stdout
        assert re.search(r"^\s+hub\s+down\s", status, re.M), status
        done = made("shell", "-c", "true", code=1)
        assert f"environment {made.name!r} is recorded but not running: hub has stopped" in done.stderr
        made("down")
        assert leftovers(marker, made.runtime) == []
    finally:
        made.down()


def test_foreground_up_runs_until_down(pytestconfig, koji_source_path):
    made = Box(pytestconfig, koji_source_path, f"test-{secrets.token_hex(3)}")
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    command = made.command("up", "--hub-port", str(port))
    child = subprocess.Popen(
        command, env=made.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 180
        while not box.path_of(made.cache, made.name).exists():
            assert child.poll() is None, child.stdout.read()
            assert time.monotonic() < deadline
            time.sleep(0.2)
        record = made.record()
        assert record.owner == child.pid
        assert record.urls["hub"] == f"https://localhost:{port}/kojihub"  # --hub-port
        assert "kojiadmin" in made("shell", "-c", "koji hello").stdout  # other verbs find it
        made("down")  # signals `boxkoji up`, which stops everything
        out, _ = child.communicate(timeout=60)
        assert child.returncode == 0, out
        assert "stopped" in out
        assert leftovers(record.marker, made.runtime) == []
        assert not record.directory.exists()
        assert not box.path_of(made.cache, made.name).exists()
    finally:
        if child.poll() is None:
            child.kill()
        made.down()


def test_scenario_round_trip_and_reuse(pytestconfig, koji_source_path, shared_tmp, child_env, outer_args):
    """apply, dump; the dump applied to a fresh box by the marker (through --boxkoji-reuse) and by
    `scenario apply`; dumped again: the same."""
    first, _ = new_box(pytestconfig, koji_source_path)
    fresh = None
    try:
        first("scenario apply", str(SCENARIOS / "release-policy.yaml"), str(SCENARIOS / "builders.yaml"))
        dumped = shared_tmp / "dump.yaml"
        first("scenario dump", "-o", str(dumped))
        docs = list(yaml.safe_load_all(dumped.read_text()))
        kinds = {doc["type"] for doc in docs}
        assert {
            "permission",
            "group",
            "user",
            "channel",
            "host",
            "external-repo",
            "build-type",
            "archive-type",
            "tag",
            "target",
            "content-generator",
            "build",
            "policy",
            "hub",
        } <= kinds
        first("down")

        fresh, _ = new_box(pytestconfig, koji_source_path)
        (shared_tmp / "test_reuse.py").write_text(REUSING)
        result = subprocess.run(
            nested_pytest(koji_source_path, "--boxkoji-reuse", f"--boxkoji-box={fresh.name}", *outer_args),
            cwd=shared_tmp,
            env=child_env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "3 passed" in result.stdout
        status = fresh.status()
        assert all(row["state"] == "up" for row in status["services"])  # it survived the run
        tags = fresh("shell", "-c", "koji list-tags").stdout.split()
        assert tags == []  # the session gave the hub back as it found it

        fresh("scenario apply", str(dumped))
        again = fresh("scenario dump").stdout
        assert list(yaml.safe_load_all(again)) == docs
    finally:
        first.down()
        if fresh is not None:
            fresh.down()


REUSING = """
import os
import pytest

@pytest.mark.koji_scenario("dump.yaml")
def test_the_dump_as_a_marker(koji_admin):
    assert koji_admin.getTag("dist-release")["locked"]
    assert koji_admin.getChannel("image-builders")
    koji_admin.createTag("made-in-a-test")

def test_next_test_starts_from_the_box_as_it_was(koji_admin):
    assert koji_admin.getTag("made-in-a-test") is None
    assert koji_admin.getTag("dist-release") is None

def test_the_cli_fixture(koji_cli):
    assert koji_cli("hello").returncode == 0
"""


def test_reuse_refuses_what_does_not_match(up_box, child_env, outer_args, shared_tmp):
    (shared_tmp / "test_x.py").write_text("def test_x(koji_admin):\n    pass\n")
    other = "/work/shared/koji/koji-1.34.3.tar.bz2"
    runs = {
        "no box": nested_pytest(up_box.source, "--boxkoji-reuse", "--boxkoji-box=never-started", *outer_args),
        "other source": nested_pytest(other, "--boxkoji-reuse", f"--boxkoji-box={up_box.name}", *outer_args),
    }
    if not Path(other).exists():
        del runs["other source"]
    for why, command in runs.items():
        result = subprocess.run(
            command, cwd=shared_tmp, env=child_env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 1, why
        if why == "no box":
            assert "no environment named 'never-started' is running" in result.stdout
        else:
            assert "was not made from what this run asks for" in result.stdout
            assert "koji source: the environment has" in result.stdout
    assert all(row["state"] == "up" for row in up_box.status()["services"])


def test_workers_of_the_box_serve_a_reusing_session(up_box, child_env, outer_args, shared_tmp):
    (shared_tmp / "test_w.py").write_text(
        "import time, koji\n"
        "def test_builders(workers, koji_admin):\n"
        "    assert workers.names == ['worker1.koji.box']\n"
        "    task = koji_admin.makeTask('sleep', [0], arch='noarch')  # the box's kojid runs it\n"
        "    deadline = time.monotonic() + 120\n"
        "    while koji_admin.getTaskInfo(task)['state'] not in (2, 3, 5) and time.monotonic() < deadline:\n"
        "        time.sleep(0.2)\n"
        "    info = koji_admin.getTaskInfo(task)\n"
        "    assert info['state'] == koji.TASK_STATES['CLOSED']\n"
        "    assert koji_admin.getHost(info['host_id'])['name'] == 'worker1.koji.box'\n"
    )
    before = {row["service"]: row["where"] for row in up_box.status()["services"]}
    result = subprocess.run(
        nested_pytest(up_box.source, "--boxkoji-reuse", f"--boxkoji-box={up_box.name}", *outer_args),
        cwd=shared_tmp,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    after = {row["service"]: row["where"] for row in up_box.status()["services"]}
    assert after == before  # the same builder, not a second one


def test_down_leaves_nothing(pytestconfig, koji_source_path):
    made, _ = new_box(pytestconfig, koji_source_path)
    record = made.record()
    assert leftovers(record.marker, made.runtime)
    made("down")
    assert leftovers(record.marker, made.runtime) == []
    assert not any(Path(d).exists() for d in record.directories)
    assert not box.path_of(made.cache, made.name).exists()
    assert psutil.pid_exists(os.getpid())
