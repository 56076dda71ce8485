"""The hub's state between tests: snapshots, and the empty state every test starts from.

Scenarios restore snapshots; builders change the empty state (their hosts and sessions must be
in every state, "rebase"). Both talk to this coordinator, not to each other: a builder crew
registers what must happen before each restore, scenarios ask for the restore.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pytest_boxkoji.scenario.snapshots import Snapshots
from pytest_boxkoji.services.postgres import Cluster

EMPTY = "empty"


class HubState:
    def __init__(
        self, cluster: Cluster, topdir: Path, store: Path, forget_sessions: Callable[[], None]
    ) -> None:
        self.snapshots = Snapshots(cluster, topdir, store)
        self._forget_sessions = forget_sessions  # sessions live in the database: restores end them
        self._before_restore: list[Callable[[HubState], None]] = []
        self._on_rebase: list[Callable[[], None]] = []

    def take_empty(self) -> None:
        """The hub as it is now (as it started: nothing but the admin) is what every test
        starts from."""
        self.snapshots.take(EMPTY)

    def before_each_test(self, hook: Callable[[HubState], None]) -> None:
        """Run `hook(self)` when a test's state is prepared (a builder crew checks itself and may
        rebase)."""
        self._before_restore.append(hook)

    def new_test(self) -> None:
        for hook in self._before_restore:
            hook(self)

    def on_rebase(self, hook: Callable[[], None]) -> None:
        """Run `hook()` after every rebase (scenario states forget what they applied)."""
        self._on_rebase.append(hook)

    def restore(self, name: str) -> None:
        self.snapshots.restore(name)
        self._forget_sessions()

    def take(self, name: str) -> None:
        self.snapshots.take(name)

    def drop(self, name: str) -> None:
        self.snapshots.drop(name)

    def close(self) -> None:
        self.snapshots.close()

    def discard(self) -> None:
        """Drop every snapshot, the hub left as it is now (a `boxkoji` verb that changed it)."""
        for name in list(self.snapshots.taken):
            self.snapshots.drop(name)
        self.snapshots.close()

    def give_back(self) -> None:
        """The hub as it was when this state was made, no snapshot left: an environment that
        outlives the session (--boxkoji-reuse) is left as the session found it."""
        self.snapshots.restore(EMPTY)
        self._forget_sessions()
        for name in list(self.snapshots.taken):
            self.snapshots.drop(name)

    def __contains__(self, name: str) -> bool:
        return name in self.snapshots

    def rebase(self, change: Callable[[], None]) -> None:
        """Make `change` (builders joining or leaving) part of the empty state every test starts
        from; snapshots taken before it are dropped and applied again when next used."""
        self.snapshots.restore(EMPTY)
        self._forget_sessions()
        change()
        self.snapshots.take(EMPTY)
        for name in list(self.snapshots.taken - {EMPTY}):
            self.snapshots.drop(name)
        for hook in self._on_rebase:
            hook()
