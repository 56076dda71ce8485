"""Run a selection of the suite again and again on a loaded machine, and count what failed.

    python benchmarks/under_load.py [--runtime R] [--koji-source S] [--cache-dir D]
        [--runs 10] [--cpu N] [--churn] [PYTEST ARGS...]    (default: tests/integration/test_browser.py)

A user's CI is a loaded machine, and another session beside ours changes the host's network: the
harness must not fail for that. While each run goes, `stress-ng --cpu N` keeps every core busy
(N: the number of cores) and, with --churn, a loop starts throwaway containers on throwaway
networks through the engine, as another session's containers do (each one adds and removes a
bridge and a veth on this host: Chromium aborts its requests with ERR_NETWORK_CHANGED when the
host's addresses change). Prints each run's outcome and duration and the load average, then the
failures; exits 1 if any run failed. Options default to the plugin's BOXKOJI_* variables.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import common

from pytest_boxkoji.runtimes.containers import DEFAULT_BASE

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def cpu_load(workers: int) -> Iterator[None]:
    if not shutil.which("stress-ng"):
        sys.exit("benchmark failed: stress-ng is not installed (apt-get install stress-ng)")
    stress = subprocess.Popen(
        ["stress-ng", "--cpu", str(workers), "--timeout", "0", "--quiet"], stdout=subprocess.DEVNULL
    )
    try:
        yield
    finally:
        stress.terminate()
        stress.wait(30)


@contextlib.contextmanager
def network_churn(base_image: str) -> Iterator[list[int]]:
    """Containers on networks of their own, made and removed in a loop; yields [count made]."""
    from pytest_boxkoji.runtimes.containers import LABEL, PID_LABEL, probe, remove_network

    client, problem = probe()
    if client is None:
        sys.exit(f"benchmark failed: --churn needs a container engine: {problem}")
    made = [0]
    stop = threading.Event()
    # Labelled as a session of this process: if the benchmark is killed, the next session's
    # sweep removes what it left.
    labels = {LABEL: f"{os.getpid()}-churn", PID_LABEL: str(os.getpid())}

    def churn() -> None:
        while not stop.is_set():
            network = client.networks.create(f"boxkoji-churn-{secrets.token_hex(4)}", labels=labels)
            try:
                client.containers.run(base_image, ["true"], network=network.name, remove=True, labels=labels)
                made[0] += 1
            finally:
                remove_network(network)

    thread = threading.Thread(target=churn, daemon=True)
    thread.start()
    try:
        yield made
    finally:
        stop.set()
        thread.join(60)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    common.add_options(parser)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--cpu", type=int, default=os.cpu_count() or 1, help="stress-ng CPU workers")
    parser.add_argument("--churn", action="store_true", help="containers on new networks meanwhile")
    args, pytest_args = parser.parse_known_args()
    config = common.config(args)
    selection = pytest_args or ["tests/integration/test_browser.py"]
    command = [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--boxkoji",
        f"--boxkoji-runtime={config.runtime}", f"--boxkoji-cache-dir={config.cache_dir}",
        *selection,
    ]  # fmt: skip
    if config.koji_source:
        command.append(f"--boxkoji-koji-source={config.koji_source}")
    print(f"under load: {args.runs} runs of {' '.join(selection)} ({config.runtime}), "
          f"stress-ng --cpu {args.cpu}{', network churn' if args.churn else ''}")  # fmt: skip
    failed: list[tuple[int, str]] = []
    churn = network_churn(config.base_image or DEFAULT_BASE) if args.churn else contextlib.nullcontext([0])
    with cpu_load(args.cpu), churn as made:
        for run in range(1, args.runs + 1):
            started = time.monotonic()
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
            summary = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
            load = " ".join(f"{x:.1f}" for x in os.getloadavg())
            print(f"run {run}: exit {done.returncode} in {time.monotonic() - started:.0f} s, "
                  f"load {load}, networks churned {made[0]}: {summary}", flush=True)  # fmt: skip
            if done.returncode != 0:
                failed.append((run, done.stdout[-6000:] + done.stderr[-2000:]))
    for run, output in failed:
        print(f"\n== run {run} failed ==\n{output}")
    print(f"\n{args.runs - len(failed)} of {args.runs} runs passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
