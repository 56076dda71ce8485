"""The message broker's figures: its start, its memory, the hub's reload for protonmsg, and the
time from a hub call to koji_messages having the message it sent.

    python benchmarks/messages.py [--koji-source SPEC] [--runtime R] [--runs N] [--messages N]

Options default to the plugin's BOXKOJI_* variables, then its defaults. Each run is a fresh
environment: the hub first, then the broker alone (so its start is its own), then protonmsg.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import common
import psutil

from pytest_boxkoji.config import BoxKojiConfig
from pytest_boxkoji.environment import Environment
from pytest_boxkoji.errors import BoxKojiError


def broker_usage(env: Environment) -> tuple[float, float]:
    """(resident MB, CPU seconds so far) of the broker's processes, or its container's memory."""
    runtime: Any = env.runtime
    if runtime.own_filesystem:
        stats = runtime.containers["broker"].stats(stream=False)
        cpu = stats["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9
        return stats["memory_stats"]["usage"] / 2**20, cpu
    root = psutil.Process(runtime.executors["broker"].process.pid)
    processes = [root, *root.children(recursive=True)]
    rss = sum(p.memory_info().rss for p in processes) / 2**20
    cpu = sum(sum(p.cpu_times()[:2]) for p in processes)
    return rss, cpu


def one_run(config: BoxKojiConfig, messages: int) -> dict[str, float]:
    env = Environment(config)
    figures: dict[str, float] = {}
    try:
        env.start()
        started = time.perf_counter()
        env.graph.get("broker")
        figures["broker start s (to an AMQP 1.0 receiver)"] = time.perf_counter() - started
        figures["broker start CPU s"] = broker_usage(env)[1]
        started = time.perf_counter()
        handle = env.graph.get("messages")
        figures["protonmsg on (hub reload) s"] = time.perf_counter() - started
        admin = env.admin_session()
        admin.createTag("bench")
        subscription = handle.subscribe()
        latencies = []
        for number in range(messages):
            package = f"pkg{number}"
            started = time.perf_counter()
            admin.packageListAdd("bench", package, owner="kojiadmin")
            subscription.wait("package.add", package=package)
            latencies.append(time.perf_counter() - started)
        subscription.close()
        figures["hub call to message received ms (median)"] = statistics.median(latencies) * 1000
        figures["broker resident MB"] = broker_usage(env)[0]
    finally:
        env.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_options(parser)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--messages", type=int, default=20, help="hub calls timed per run")
    args = parser.parse_args()
    config = common.config(args)
    runs = []
    for _ in range(args.runs):
        try:
            runs.append(one_run(config, args.messages))
        except BoxKojiError as exc:
            sys.exit(f"benchmark failed: the environment did not start:\n{exc}")
    print(f"koji source: {config.koji_source}, runtime: {config.runtime}, load {psutil.getloadavg()[0]:.1f}")
    print(f"median of {len(runs)} runs (each: min .. max):")
    for key in runs[0]:
        values = [run[key] for run in runs]
        print(f"  {key:45} {statistics.median(values):8.2f}   ({min(values):.2f} .. {max(values):.2f})")


if __name__ == "__main__":
    main()
