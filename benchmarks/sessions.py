"""N pytest sessions started at the same moment on one machine: how long until every one has its
KDC, PostgreSQL and orch ready and checked as its own, the peak memory of them all, and failures.

    python benchmarks/sessions.py [--runtime R] [--cache-dir DIR] [--sizes 1,5,20]

Each session is a real `pytest --boxkoji` process held at a barrier and released with the others
(tests/integration/crowd.py, the same crowd tests/integration/test_scale.py starts), with the
fake Koji of tests/data (no hub). Options default to the plugin's BOXKOJI_* variables, then its
defaults. Prints, for each N: the time from the barrier's release to the last session ready
(median and slowest session too), to the last one done (teardown included), the peak of the
memory every session's processes (pytest and its services; in containers the containers'
processes) used together, sampled every 0.5 s (PSS: pages shared between processes count once),
and the sessions that failed. The machine's load average is printed with them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import common

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))  # the crowd the scale test starts, unchanged

from crowd import Crowd, tree_memory  # noqa: E402

FAKE_KOJI = ROOT / "tests" / "data" / "fake-koji"


class ContainerPids:
    """The host pids of the crowd's containers (their main process; tree_memory adds children)."""

    def __init__(self) -> None:
        from pytest_boxkoji.runtimes.containers import probe

        self.client, problem = probe()
        if self.client is None:
            sys.exit(problem)
        self.known: dict[str, int] = {}

    def of(self, sessions: set[int]) -> list[int]:
        from pytest_boxkoji.runtimes.containers import LABEL, listed

        found = []
        with contextlib.suppress(Exception):  # a container removed while we look
            for container in listed(self.client, LABEL):
                if int(container.labels.get(LABEL, "0-").split("-")[0]) not in sessions:
                    continue
                if container.id not in self.known:
                    self.known[container.id] = int(container.attrs["State"]["Pid"] or 0)
                found.append(self.known[container.id])
        return [pid for pid in found if pid]


@dataclass
class Result:
    size: int
    ready: list[float]  # seconds from the barrier's release to each session's services checked
    done: float  # to the last session's end
    peak: int  # bytes
    failed: dict[int, str]  # session: the first line saying why
    load: tuple[float, float]  # 1-minute load average before and after


def run(size: int, runtime: str, options: list[str], tmp: Path) -> Result:
    fake = tmp / f"fake-koji-{size}"
    shutil.copytree(FAKE_KOJI, fake)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOXKOJI")}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--boxkoji"]
    command += [f"--boxkoji-koji-source={fake}", *options]
    crowd = Crowd(tmp / f"crowd-{size}", size, command, env)
    containers = ContainerPids() if runtime == "containers" else None
    peak, sampling = 0, True

    def sample() -> None:
        nonlocal peak
        while sampling:
            pids = [child.pid for child in crowd.children]
            if containers is not None:
                pids += containers.of(set(pids))
            peak = max(peak, tree_memory(pids))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    load = os.getloadavg()[0]
    try:
        crowd.start()
        codes = crowd.wait_all()
        done = time.time()
    finally:
        sampling = False
        crowd.kill_all()
        sampler.join()
    ready = [r["ready"] - crowd.went for i in range(size) if (r := crowd.record(i)) is not None]
    failed = {i: _reason(crowd.output(i)) for i, code in enumerate(codes) if code != 0}
    return Result(size, ready, done - crowd.went, peak, failed, (load, os.getloadavg()[0]))


def _reason(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("E ") or "Error" in line]
    return (lines[0] if lines else output.strip().splitlines()[-1] if output.strip() else "no output")[:200]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    common.add_options(parser)
    parser.add_argument("--sizes", default="1,5,20", help="how many sessions at once, each in turn")
    args = parser.parse_args()
    config = common.config(args)
    runtime = config.runtime if config.runtime != "auto" else "processes"
    options = [f"--boxkoji-runtime={runtime}", f"--boxkoji-cache-dir={config.cache_dir}"]
    print(f"sessions at once, runtime {runtime}, {os.cpu_count()} CPUs (KDC, PostgreSQL, orch each)")
    print(
        f"{'N':>3} {'ready: last':>12} {'median':>8} {'all done':>9} {'peak memory':>12}  failed"
        "  load (1 min) before/after"
    )
    for size in (int(n) for n in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="boxkoji-bench-sessions-") as name:
            tmp = Path(name)
            tmp.chmod(0o755)  # the service user reaches the fake Koji
            result = run(size, runtime, options, tmp)
        last, median = (max(result.ready), statistics.median(result.ready)) if result.ready else (0, 0)
        print(
            f"{size:>3} {last:>11.1f}s {median:>7.1f}s {result.done:>8.1f}s "
            f"{result.peak / 2**20:>9.0f} MB  {len(result.failed):>6}  "
            f"{result.load[0]:.1f} / {result.load[1]:.1f}",
            flush=True,
        )
        for index, reason in result.failed.items():
            print(f"      session {index}: {reason}")


if __name__ == "__main__":
    main()
