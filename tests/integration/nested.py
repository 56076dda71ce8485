"""Helpers for tests that run a whole nested pytest session."""

import signal
import sys

# Signals a test sends to a child it started: the child must have their default action whatever
# started this run. A background job of a non-interactive shell (`pytest &` in a CI script) and
# `nohup` start us with SIGINT (and SIGQUIT, or SIGHUP) ignored, and an ignored disposition is
# inherited through exec: the child would never see the Ctrl-C the test sends.
SIGNALS_TESTS_SEND = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def default_signals() -> None:
    """`preexec_fn` for a child a test signals: the default action for SIGNALS_TESTS_SEND (Python
    then installs its KeyboardInterrupt handler for SIGINT, as in a terminal)."""
    for number in SIGNALS_TESTS_SEND:
        signal.signal(number, signal.SIG_DFL)


def nested_pytest(source, *extra):
    """The command line of a nested pytest session with boxkoji on, Koji from `source`."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "--boxkoji",
        f"--boxkoji-koji-source={source}",
        "-q",
        *extra,
    ]
