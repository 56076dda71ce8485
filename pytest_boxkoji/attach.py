"""Taking over an environment that another process started and left running (`boxkoji up`,
--boxkoji-keep): each part restores its handle from the record (box.py) with its own `restore`
facet, rebuilding its services from the same service descriptions for the runtime to adopt by
ref. Nothing is started. The `boxkoji` verbs and --boxkoji-reuse work on the result as on any
Environment.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from filelock import FileLock, Timeout

from pytest_boxkoji import box, kojisrc
from pytest_boxkoji.box import BoxRecord, NoBox
from pytest_boxkoji.builds import capability
from pytest_boxkoji.config import BoxKojiConfig
from pytest_boxkoji.environment import Environment
from pytest_boxkoji.runtimes import choose_runtime
from pytest_boxkoji.services import Service, hub_plugins
from pytest_boxkoji.services.hub import HUB
from pytest_boxkoji.workers import Builder
from pytest_boxkoji.workspace import Workspace

log = logging.getLogger(__name__)


class AttachedEnvironment(Environment):
    """An environment that outlives this process: stopping it leaves it running as it was."""

    record: BoxRecord
    service_of: dict[str, Service]  # the recorded services of the graph's parts, by name
    _reuse_lock: FileLock | None = None  # --boxkoji-reuse: one pytest run at a time

    def stop(self, keep: bool | None = None) -> None:
        """Give the hub's state back as it was when this process attached (a pytest session's
        snapshots dropped), stop what this process started (a session's extra builders), bring
        the record up to date, and forget the rest without stopping it."""
        try:
            if self._state is not None:
                self._state.give_back()
            hub = self.graph.running(HUB)
            recorded = self.record.parts.get("hub", {}).get("settings", {})
            if hub is not None and recorded:  # scenarios' hub settings and policies undone
                plugin_files = hub_plugins.parse_files(recorded.get("plugin_files", ()))
                hub.reconfigure(dict(recorded["extra_settings"]), recorded["policy"], plugin_files)
        except Exception as exc:  # the hub keeps running; say why its state may differ
            log.warning("could not give the hub's state back: %s", exc)
        self.release()
        for name, problem in self.graph.stop():
            log.warning("could not stop %s: %s", name, problem)
        self.save()
        self.runtime.detach()
        self.workspace.restore_environ()
        if self._reuse_lock is not None:
            self._reuse_lock.release()

    def save(self) -> None:
        """Write the record again: refs change with restarts, credentials with new users."""
        if box.path_of(self.config.cache_dir, self.record.name).exists():
            box.write(self.config.cache_dir, self.describe(self.record.name, self.record.owner))

    def let_go(self) -> None:
        """Forget the environment without changing it: this process's hub sessions closed, its
        services left running, the test process's environment variables as they were."""
        self.accounts.close()
        self.runtime.detach()
        self.workspace.restore_environ()

    def services_by_name(self) -> dict[str, Service]:
        """The recorded services, and those this process started since."""
        return {**self.service_of, **super().services_by_name()}

    def dead(self) -> list[str]:
        """The recorded services that no longer run."""
        return [s.name for s in self.runtime.dead(self.services())]

    def services(self) -> list[Service]:
        """Every recorded service, in start order (the KDC, PostgreSQL, the hub, kojira, kojid)."""
        found = list(self.service_of.values())
        if self._workers is not None:
            crew = self._workers
            found += [s for s in [crew.kojira] if s is not None]
            found += [b.service for b in crew.builders.values() if b.service is not None]
        return found


def attach(record: BoxRecord, config: BoxKojiConfig) -> AttachedEnvironment:
    """The environment of `record`: each part's handle restored by the part itself (in the
    order the parts are declared) and its services adopted, nothing started."""
    directories = [Path(d) for d in record.directories]
    if not directories[0].is_dir():
        raise NoBox(
            f"environment {record.name!r}: its directory {directories[0]} is gone (removed, or the "
            f"machine restarted); `boxkoji down --name {record.name}` removes what is left of it"
        )
    # keep: processes this process starts (a restart) must outlive it, as the recorded ones do.
    config = replace(
        config,
        enabled=True,
        runtime=record.runtime,
        keep=True,
        cov_hub=False,
        cov_web=False,
        cov_workers=False,
    )
    workspace = Workspace.reopen(directories, record.marker, config.service_user)
    runtime = choose_runtime(config, record.marker, workspace.directory, attach=True)
    for mount in record.mounts:
        runtime.mount(Path(mount))
    env = AttachedEnvironment(config, workspace, runtime)
    env.record = record
    env.service_of = env.graph.restore(record.parts, record.refs, record.credentials)
    if record.builders or "kojira" in record.refs:
        builders = [
            Builder(
                b["name"], b["arches"], b["channels"], b["capacity"], "program" in (b.get("builds") or {})
            )
            for b in record.builders
        ]
        found = [b.get("builds") for b in record.builders if "program" in (b.get("builds") or {})]
        builds = capability.restored(found[0] if found else (record.builders or [{}])[0].get("builds"))
        env.workers.adopt(builders, record.refs, builds)
    return env


def running(cache_dir: Path, name: str, config: BoxKojiConfig) -> AttachedEnvironment:
    """The recorded environment `name`, taken over; NoBox when a service of it has died."""
    env = attach(box.read(cache_dir, name), config)
    dead = env.dead()
    if dead:
        env.runtime.detach()
        env.workspace.restore_environ()
        raise NoBox(
            f"environment {name!r} is recorded but not running: {', '.join(dead)} "
            f"{'has' if len(dead) == 1 else 'have'} stopped. `boxkoji down --name {name}` removes what "
            f"is left of it; `boxkoji logs --name {name} SERVICE` shows why"
        )
    return env


@contextlib.contextmanager
def attached(config: BoxKojiConfig, name: str, running_only: bool = True) -> Iterator[AttachedEnvironment]:
    """The recorded environment `name` for one `boxkoji` verb, let go of when the verb is done
    (left running, this process's hold on it released, the test process's environment as it
    was). `running_only`: refuse one a service of which has died (NoBox)."""
    env = (
        running(config.cache_dir, name, config)
        if running_only
        else attach(box.read(config.cache_dir, name), config)
    )
    env.takes_empty_state = False  # a verb takes only the snapshots it asks for
    try:
        yield env
    finally:
        env.let_go()


def reuse(config: BoxKojiConfig) -> AttachedEnvironment:
    """--boxkoji-reuse: the recorded environment, when it was made from what this run would
    make it from; NoBox saying why not otherwise."""
    name = config.box
    record = box.read(config.cache_dir, name)
    runtime = record.runtime if config.runtime == "auto" else config.runtime
    source = kojisrc.resolve(config.koji_source, config.cache_dir, config.koji_source_explicit)
    wanted = box.identity_of(config, runtime, source)
    if box.digest(wanted) != record.digest:
        reasons = "\n  ".join(box.differences(record.identity, wanted))
        raise NoBox(
            f"--boxkoji-reuse: environment {name!r} was not made from what this run asks for:\n  {reasons}\n"
            f"Stop it (`boxkoji down --name {name}`) and start one that matches, or run without "
            "--boxkoji-reuse"
        )
    env = running(config.cache_dir, name, config)
    lock = FileLock(str(env.directory / "reuse.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        env.runtime.detach()
        env.workspace.restore_environ()
        raise NoBox(
            f"--boxkoji-reuse: environment {name!r} is in use by another pytest run; wait for it or "
            "start another environment (`boxkoji up --detach --name OTHER`, --boxkoji-box=OTHER)"
        ) from None
    env._reuse_lock = lock
    return env
