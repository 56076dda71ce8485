"""The cost of recording the hub's calls (hubcalls/): the same calls against a hub that records
them and one that does not, both running, measured in alternating rounds.

    python benchmarks/hub_calls.py [--koji-source SPEC] [--runtime R] [--rounds N] [--calls N]

Options default to the plugin's BOXKOJI_* variables, then its defaults. Prints the median time
per call of each kind with and without recording (on a busy machine the difference is within the
noise), then what recording adds to one call, measured alone: the recording app's wrapper
around a dispatch that does nothing, against that dispatch unwrapped.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import common
import koji

from pytest_boxkoji.environment import Environment
from pytest_boxkoji.hubcalls.stats import APP

KINDS: dict[str, Callable[[koji.ClientSession], object]] = {
    # the smallest call: a logged-in session checked, nothing else
    "getLoggedInUser": lambda s: s.getLoggedInUser(),
    # a database read
    "getTag": lambda s: s.getTag("bench-tag"),
    # 50 calls dispatched in one request: 51 records
    "multiCall of 50 getTag": lambda s: _multicall(s),
}


def _multicall(session: koji.ClientSession) -> None:
    with session.multicall() as m:
        for _ in range(50):
            m.getTag("bench-tag")


def per_call(session: koji.ClientSession, call: Callable[[koji.ClientSession], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        call(session)
    return (time.perf_counter() - start) / n


STUB_HUB = """
class ModXMLRPCRequestHandler:
    def _dispatch(self, method, params):
        return None

    def handle_upload(self, environ):
        return None

def application(environ, start_response):
    return []
"""


def wrapper_cost(n: int = 200_000) -> tuple[float, float]:
    """Seconds per call of a do-nothing dispatch, unwrapped and wrapped by the recording app
    (loaded as the hub loads it, over a stand-in for Koji's kojihub.kojixmlrpc)."""
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "kojihub").mkdir()
        (Path(scratch) / "kojihub" / "__init__.py").write_text("")
        (Path(scratch) / "kojihub" / "kojixmlrpc.py").write_text(STUB_HUB)
        sys.path.insert(0, scratch)
        os.environ["BOXKOJI_HUB_CALLS"] = str(Path(scratch) / "calls.tsv")
        from kojihub.kojixmlrpc import ModXMLRPCRequestHandler as Handler

        handler = Handler()
        plain = Handler._dispatch
        start = time.perf_counter()
        for _ in range(n):
            plain(handler, "getTag", ())
        unwrapped = (time.perf_counter() - start) / n
        spec = importlib.util.spec_from_file_location("recording_app", APP)
        assert spec is not None and spec.loader is not None
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
        start = time.perf_counter()
        for _ in range(n):
            handler._dispatch("getTag", ())
        wrapped = (time.perf_counter() - start) / n
        sys.path.remove(scratch)
    return unwrapped, wrapped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_options(parser)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=50, help="calls of each kind per round")
    args = parser.parse_args()
    config = common.config(args)
    envs = {
        "recording": Environment(config),
        "not recording": Environment(dataclasses.replace(config, record_hub_calls=False)),
    }
    try:
        sessions = {}
        for name, env in envs.items():
            env.start()
            session = env.session("kojiadmin", "gssapi")
            if session.getTag("bench-tag") is None:
                session.createTag("bench-tag")
            for call in KINDS.values():  # warm: the hub's first calls load its code
                per_call(session, call, 10)
            sessions[name] = session
        figures: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for kind, call in KINDS.items():
                for name, session in sessions.items():
                    figures.setdefault((name, kind), []).append(per_call(session, call, args.calls))
        records = envs["recording"].graph.get("hub").calls_log.read_text().count("\n")
    finally:
        for env in envs.values():
            env.stop()
    print(f"  runtime: {config.runtime}, {args.rounds} rounds of {args.calls} calls of each kind")
    print(f"  {'call':<24}{'not recording':>15}{'recording':>12}{'difference':>22}   rounds (min-max)")
    for kind in KINDS:
        plain, recorded = (sorted(figures[(name, kind)]) for name in ("not recording", "recording"))
        a, b = statistics.median(plain) * 1000, statistics.median(recorded) * 1000
        change = f"{b - a:>+9.3f} ms ({100 * (b / a - 1):+.1f} %)"
        spread = " / ".join(f"{r[0] * 1000:.1f}-{r[-1] * 1000:.1f}" for r in (plain, recorded)) + " ms"
        print(f"  {kind:<24}{a:>12.3f} ms{b:>9.3f} ms{change}   {spread}")
    print(f"  the recording hub wrote {records} records")
    unwrapped, wrapped = wrapper_cost()
    print(
        f"  recording one call, measured alone: {(wrapped - unwrapped) * 1e6:.1f} µs "
        f"(a do-nothing dispatch: {unwrapped * 1e6:.2f} µs, recorded: {wrapped * 1e6:.1f} µs)"
    )


if __name__ == "__main__":
    main()
