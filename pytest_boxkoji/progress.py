"""Lines on the terminal for slow start-up work, so that a cold first run never looks hung.

Under pytest the lines go to pytest's terminal reporter with output capture suspended (the plugin
installs `pytest_writer` with `use`): services start during fixture setup, where capture would
swallow them. Without pytest (benchmarks, scripts) they go to stderr.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

Writer = Callable[[str], None]
# A phase that has not finished after this long says what it is doing.
PATIENCE = 2.0


def _stderr(line: str) -> None:
    out = sys.__stderr__ or sys.stderr
    out.write(line + "\n")
    out.flush()


_writer: Writer = _stderr
_lock = threading.Lock()


def say(text: str) -> None:
    """One line, prefixed like pytest's own plugins' lines."""
    with _lock:
        _writer(f"boxkoji: {text}")


def pytest_writer(config: Any) -> Writer | None:
    """Write through pytest's terminal reporter, past its output capture (as pytest's own
    plugins do for messages during a test's setup)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return None

    def write(line: str) -> None:
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.write_line(line)

    return write


@contextlib.contextmanager
def use(writer: Writer) -> Iterator[None]:
    """Send the lines to `writer` (the terminal reporter's write_line) while inside."""
    global _writer
    previous, _writer = _writer, writer
    try:
        yield
    finally:
        _writer = previous


@contextlib.contextmanager
def slow(what: str) -> Iterator[None]:
    """Work known to be slow (a cache being built): say so at once, and when it is done."""
    say(f"{what} ...")
    start = time.monotonic()
    yield
    say(f"{what}: done in {time.monotonic() - start:.1f} s")


@contextlib.contextmanager
def phase(what: str, patience: float = PATIENCE) -> Iterator[None]:
    """Work that is usually quick: speak only if it is still running after `patience` seconds."""
    start = time.monotonic()
    timer = threading.Timer(patience, say, (f"{what} ...",))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        if time.monotonic() - start >= patience:
            say(f"{what}: done in {time.monotonic() - start:.1f} s")
