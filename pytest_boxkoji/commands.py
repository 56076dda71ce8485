"""The `boxkoji` verbs that run an environment by hand: up, down, status, logs, restart, shell,
env, scenario apply/dump and snapshot save/restore/list (cli.py parses their arguments).

`up` starts an Environment as pytest would and records it (box.py); every other verb finds the
record, takes the environment over (attach.py) and leaves it running. Errors are BoxKojiError
with a message that says what to do; cli.py prints them and exits 1.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psutil

from pytest_boxkoji import attach, box, clients, runas, runtimes
from pytest_boxkoji.accounts import ADMIN
from pytest_boxkoji.attach import AttachedEnvironment
from pytest_boxkoji.box import NoBox
from pytest_boxkoji.config import BoxKojiConfig
from pytest_boxkoji.environment import Environment
from pytest_boxkoji.errors import BoxKojiError
from pytest_boxkoji.scenario import dump as dumper
from pytest_boxkoji.scenario.loader import Scenario, load
from pytest_boxkoji.scenario.snapshots import SAFE
from pytest_boxkoji.servicelogs import follow_file
from pytest_boxkoji.services.proxy import PROXY

SAVED = "saved_"  # `snapshot save NAME` keeps database boxkoji_snap_saved_NAME (pytest's are apart)


def out(line: str = "") -> None:
    print(line, flush=True)


@contextlib.contextmanager
def interrupted_by_sigterm() -> Iterator[None]:
    """SIGTERM (`boxkoji down`, a service manager, CI) stops like Ctrl-C: with teardown."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# -- up and down -------------------------------------------------------------------------------


def up(
    config: BoxKojiConfig,
    name: str,
    scenarios: Sequence[str],
    dirs: Sequence[Path],
    detach: bool,
    hub_port: int | None = None,
    web: bool = False,
) -> int:
    """Start an environment, record it, print how to use it; then wait for Ctrl-C (stopping it)
    or, detached, leave it running."""
    box.check_name(name)
    _refuse_taken(config.cache_dir, name)
    if hub_port is not None:
        _refuse_busy(hub_port)
        config = dataclasses.replace(config, hub_port=hub_port)
    scenario = load(scenarios, Path.cwd(), dirs) if scenarios else None  # bad files: nothing starts
    # keep: the processes must outlive this one (no mirakuru atexit marker) when detached.
    env = Environment(dataclasses.replace(config, enabled=True, keep=detach))
    try:
        with interrupted_by_sigterm():
            env.start()
            if config.workers:
                env.workers.start(config.workers)
            if web:  # kojiweb and the proxy in front of it all
                env.graph.get(PROXY)
            if scenario is not None:
                apply_scenario(env, scenario)
            text = report(name, env)  # before the record: it hands out the admin's keytab
            record = env.describe(name, None if detach else os.getpid())
            box.write(config.cache_dir, record, replace=False)
    except BaseException:
        env.stop(keep=False)  # nothing half-started is left behind
        raise
    out(text)
    if detach:
        env.release()
        env.detach()
        return 0
    out("Running in the foreground: Ctrl-C (or `boxkoji down` elsewhere) stops it.")
    try:
        with interrupted_by_sigterm():
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        out(f"stopping environment {name!r} ...")
    finally:
        box.remove(config.cache_dir, name)
        env.stop(keep=False)
    out(f"environment {name!r} stopped")
    return 0


def _refuse_taken(cache_dir: Path, name: str) -> None:
    with contextlib.suppress(NoBox):
        record = box.read(cache_dir, name)
        if not record.directory.is_dir():  # removed by hand, or the machine restarted: stale
            runtimes.sweep_marker(record.runtime, record.marker)
            box.remove(cache_dir, name)
            return
        raise BoxKojiError(
            f"an environment named {name!r} is already recorded (in {record.directory}); use it, stop it "
            f"with `boxkoji down --name {name}`, or start another with --name OTHER"
        )


def _refuse_busy(port: int) -> None:
    """The port can be served on 127.0.0.1, or an error naming who holds it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return
        except OSError as exc:
            problem = exc.strerror
    holders = []
    with contextlib.suppress(psutil.Error):
        for conn in psutil.net_connections("tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
                with contextlib.suppress(psutil.Error):
                    holders.append(f"pid {conn.pid} ({psutil.Process(conn.pid).name()})")
    by = f" by {', '.join(sorted(set(holders)))}" if holders else ""
    raise BoxKojiError(
        f"--hub-port {port}: the port is in use{by} ({problem}); nothing was started. Stop what "
        "holds it, choose another port, or leave --hub-port out for a free one"
    )


def report(name: str, env: Environment) -> str:
    """What `up` prints: the profile, the kinit line, the URLs and how to stop it."""
    realm = env.realm
    assert realm is not None
    keytab = env.start_orch().checkout(ADMIN, "keytab", holder=f"user:{ADMIN}").path
    flag = f" --name {name}" if name != "default" else ""
    lines = [f"boxkoji environment {name!r} ({env.runtime.name}) in {env.directory}"]
    width = max([9, *(len(key) for key in env.urls)])  # proxy-files (up --web) is the longest
    lines += [f"  {key:{width}} {url}" for key, url in env.urls.items()]
    lines += [
        f"  profile:  {env.koji_config} (profile {clients.PROFILE})",
        f"  env:      export {' '.join(f'{k}={v}' for k, v in realm.env.items())}",
        f"  kinit:    kinit -k -t {keytab} {ADMIN}@{realm.realm}",
        f"  koji:     {clients.koji_command()} -c {env.koji_config} -p {clients.PROFILE} hello",
        f"  shell:    boxkoji shell{flag} --user {ADMIN}",
        f"  stop:     boxkoji down{flag}",
    ]
    return "\n".join(lines)


def down(config: BoxKojiConfig, name: str) -> int:
    """Stop every service of the environment and remove its directories and its record."""
    record = box.read(config.cache_dir, name, any_format=True)
    if record.owner is not None and psutil.pid_exists(record.owner):
        return _stop_foreground(config.cache_dir, record)
    try:
        if record.format != box.FORMAT:
            raise BoxKojiError(f"environment {name!r} was recorded by another version of pytest-boxkoji")
        env = attach.attach(record, config)
    except BoxKojiError as exc:  # its directory or network is gone: remove what carries its marker
        out(f"{exc}; removing what is left")
        runtimes.sweep_marker(record.runtime, record.marker)
    else:
        for service in reversed(env.services()):
            env.runtime.stop(service)
        env.runtime.close()  # the sweep by marker: PostgreSQL's workers, a container left over
        env.workspace.restore_environ()
        env.workspace.remove()
    for directory in record.directories:
        shutil.rmtree(directory, ignore_errors=True)
    box.remove(config.cache_dir, name)
    out(f"environment {name!r} stopped and removed")
    return 0


def _stop_foreground(cache_dir: Path, record: box.BoxRecord, timeout: float = 120) -> int:
    """`boxkoji up` runs in the foreground: it stops the environment itself on SIGTERM."""
    assert record.owner is not None
    owner = psutil.Process(record.owner)
    owner.terminate()
    deadline = time.monotonic() + timeout
    while _lives(owner):  # not wait(): a zombie whose parent has not reaped it yet is done too
        if time.monotonic() > deadline:
            raise BoxKojiError(
                f"`boxkoji up` (pid {record.owner}) did not stop environment {record.name!r} within "
                f"{timeout:.0f} s; look at its terminal"
            )
        time.sleep(0.1)
    out(f"environment {record.name!r} stopped by its `boxkoji up` (pid {record.owner})")
    return 0


def _lives(process: psutil.Process) -> bool:
    try:
        return bool(process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


# -- looking at it -----------------------------------------------------------------------------


def status(config: BoxKojiConfig, name: str, as_json: bool) -> int:
    """Each service: up or down, its pid or container, its URL and memory. Exit 1 if one is down."""
    rows: list[dict[str, Any]] = []
    with attach.attached(config, name, running_only=False) as env:
        record = env.record
        for service in env.services():
            alive = env.runtime.alive(service)
            used = env.runtime.memory_used(service) if alive else None
            rows.append(
                {
                    "service": service.name,
                    "state": "up" if alive else "down",
                    "where": env.runtime.where(service),
                    "url": record.urls.get(service.name, ""),
                    "memory": used,
                }
            )
    mode = f"foreground, `boxkoji up` pid {record.owner}" if record.owner else "detached"
    if as_json:
        out(
            json.dumps(
                {
                    "name": name,
                    "runtime": record.runtime,
                    "directory": str(record.directory),
                    "mode": mode,
                    "urls": record.urls,
                    "services": rows,
                },
                indent=2,
            )
        )
    else:
        out(f"environment {name!r} ({record.runtime}, {mode}) in {record.directory}")
        out(f"  Koji: {record.identity.get('koji source', '?')}")
        out(f"  {'service':24} {'state':5} {'where':40} {'memory':>9}  url")
        for row in rows:
            memory = f"{row['memory'] / 2**20:.1f} MB" if row["memory"] is not None else "-"
            out(f"  {row['service']:24} {row['state']:5} {row['where']:40} {memory:>9}  {row['url']}")
    return 0 if all(row["state"] == "up" for row in rows) else 1


def _service(env: AttachedEnvironment, name: str) -> Any:
    for service in env.services():
        if service.name == name or service.name == f"kojid:{name}":
            return service
    known = ", ".join(s.name for s in env.services())
    raise BoxKojiError(f"environment {env.record.name!r} has no service {name!r}; it has: {known}")


def logs(config: BoxKojiConfig, name: str, service_name: str, follow: bool) -> int:
    """The service's output and the logs it writes itself; with `follow`, what comes next too."""
    with attach.attached(config, name, running_only=False) as env:
        return _logs(env, service_name, follow)


def _logs(env: AttachedEnvironment, service_name: str, follow: bool) -> int:
    service = _service(env, service_name)
    sources: list[tuple[str, Iterator[str]]] = [
        (f"output of {service.name} ({env.runtime.where(service)})", env.runtime.output(service, follow))
    ]
    for path in service.extra_logs:
        sources.append((str(path), follow_file(path, lambda: follow and env.runtime.alive(service))))
    if not follow:
        for title, chunks in sources:
            out(f"==> {title} <==")
            sys.stdout.write("".join(chunks))
        sys.stdout.flush()
        return 0
    lock = threading.Lock()

    def pump(chunks: Iterator[str]) -> None:
        for chunk in chunks:
            with lock:
                sys.stdout.write(chunk)
                sys.stdout.flush()

    threads = [threading.Thread(target=pump, args=(chunks,), daemon=True) for _, chunks in sources]
    for thread in threads:
        thread.start()
    try:
        with interrupted_by_sigterm():
            while any(thread.is_alive() for thread in threads):
                time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    return 0


# -- changing it -------------------------------------------------------------------------------


def restart(config: BoxKojiConfig, name: str, service_name: str) -> int:
    """Stop and start one service (the hub: its application reloads, Koji's code read again)."""
    with attach.attached(config, name, running_only=False) as env:
        service = _service(env, service_name)
        started = time.monotonic()
        env.runtime.restart(service)
        env.save()
        out(f"{service.name} restarted in {time.monotonic() - started:.1f} s ({env.runtime.where(service)})")
    return 0


def user_environment(env: AttachedEnvironment, user: str) -> dict[str, str]:
    """What a shell needs to act as `user`: what koji_run gives a program (runas.py: the realm, a
    fresh ticket, the koji profile in a home of its own, as Koji tools read it), and the koji
    command on PATH."""

    koji_bin = str(Path(clients.koji_command()).parent)
    return {
        **runas.environ(env, user),
        "PATH": f"{koji_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "BOXKOJI_BOX": env.record.name,
        "BOXKOJI_USER": user,
        "BOXKOJI_KOJI_CONFIG": str(env.koji_config),
    }


def shell(config: BoxKojiConfig, name: str, user: str, command: str | None) -> int:
    with attach.attached(config, name) as env:
        variables = user_environment(env, user)
        env.save()  # the user's credentials, for the next verb
    program = os.environ.get("SHELL") or shutil.which("bash") or "/bin/sh"
    variables["PS1"] = f"(boxkoji {name}: {user}) \\w\\$ "
    args = [program, "-c", command] if command is not None else [program]
    return subprocess.call(args, env={**os.environ, **variables})


def env_lines(config: BoxKojiConfig, name: str, user: str) -> int:
    with attach.attached(config, name) as env:
        variables = user_environment(env, user)
        env.save()
    for key, value in variables.items():
        out(f"export {key}={shlex.quote(value)}")
    return 0


def apply_scenario(env: Environment, scenario: Scenario) -> None:
    """Apply onto the running hub, as the marker does (scenario/state.py); refused half-way, the
    hub is put back as it was. No snapshot is left behind."""
    try:
        env.scenarios.add(scenario)
    finally:
        env.hub_state.discard()


def scenario_apply(config: BoxKojiConfig, name: str, files: Sequence[str], dirs: Sequence[Path]) -> int:
    scenario = load(files, Path.cwd(), dirs)
    with attach.attached(config, name) as env:
        apply_scenario(env, scenario)
        env.save()  # hub settings and policies, the broker a scenario started
    out(f"applied {', '.join(files)} to environment {name!r}: {len(scenario.objects)} objects")
    return 0


def scenario_dump(config: BoxKojiConfig, name: str, output: Path | None) -> int:
    with attach.attached(config, name) as env:
        docs = dumper.of_environment(env)
    text = dumper.to_yaml(docs)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)
        out(f"wrote {len(docs)} objects to {output}")
    return 0


# -- snapshots ---------------------------------------------------------------------------------


def _snapshot_name(name: str) -> str:
    if not SAFE.match(name):
        raise BoxKojiError(f"snapshot name {name!r}: use lowercase letters, digits and _ only")
    return SAVED + name


def saved(env: AttachedEnvironment) -> list[str]:
    store = env.directory / "snapshots"
    return (
        sorted(p.name[len(SAVED) :] for p in store.glob(SAVED + "*") if p.is_dir()) if store.is_dir() else []
    )


def snapshot(config: BoxKojiConfig, name: str, action: str, snapshot_name: str | None) -> int:
    """save NAME, restore NAME, list: the hub's database and topdir (not hub.conf)."""
    with attach.attached(config, name) as env:
        if action == "list":
            for found in saved(env):
                out(found)
            return 0
        assert snapshot_name is not None
        internal = _snapshot_name(snapshot_name)
        if action == "restore" and snapshot_name not in saved(env):
            known = ", ".join(saved(env)) or "none"
            raise BoxKojiError(f"no snapshot {snapshot_name!r} in environment {name!r}; saved: {known}")
        state = env.hub_state  # the hub's snapshots, none taken but this one
        try:
            started = time.monotonic()
            if action == "save":
                state.take(internal)
            else:
                state.restore(internal)
        finally:
            state.close()
        done = "saved" if action == "save" else "restored"
        out(f"snapshot {snapshot_name!r} {done} in {time.monotonic() - started:.1f} s")
        return 0
