"""Helpers for tests that run a whole nested pytest session."""

import sys


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
