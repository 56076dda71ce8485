"""pytest-xdist figures: the integration suite (or a selection) at -n 0, 2 and 4: wall time, the
speed-up against -n 0, and the peak memory of the environment's services.

    python benchmarks/xdist.py [--koji-source SPEC] [--runtime R] [--cache-dir DIR]
                               [--workers 0,2,4] [--interval 0.5] [--share auto|no]
                               [SELECTION ...] [-- PYTEST ARGS]

SELECTION defaults to tests/integration. Options default to the plugin's BOXKOJI_* variables.

Memory: every ~0.5 s, the processes the pytest run started for the environment: everything
below the pytest process except pytest's own (the controller, the xdist workers, nested pytest
runs of the suite's tests); with the containers runtime also the processes of the containers
whose workspace belongs to this run (their cgroup). The Chromium that koji_browser drives (and
Playwright's driver) is a client, not a service: its memory is printed apart, not in the sums.
RSS counts a page shared by forked processes (Apache's, PostgreSQL's) once per process; PSS
divides it among them (/proc/PID/smaps_rollup), so the PSS sum is what the run really holds.
The peak of each sum is printed, with what made it up.
Exits non-zero when a pytest run fails.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import common
import psutil

from pytest_boxkoji.workspace import OWNER_FILE

PYTEST_MARKS = ("pytest", "exec(eval(sys.stdin.readline()))")  # pytest, and xdist's worker bootstrap
BROWSER = ("chrom", "node", "playwright")  # koji_browser's Chromium and Playwright's driver


def _pss(pid: int) -> int:
    """Proportional set size in bytes (0 when it cannot be read)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _is_pytest(proc: psutil.Process) -> bool:
    try:
        command = " ".join(proc.cmdline())
    except psutil.Error:
        return False
    return any(mark in command for mark in PYTEST_MARKS) and "python" in command


def _container_pids(tree: set[int]) -> set[int]:
    """Host pids of the processes in the containers this run made (their workspace's owner is
    a process of the run), read from each container's cgroup."""
    try:
        import docker

        from pytest_boxkoji.runtimes.containers import DIR_LABEL, listed

        client = docker.from_env(timeout=10)
        containers = listed(client, DIR_LABEL)
    except Exception:
        return set()
    found: set[int] = set()
    for container in containers:
        try:
            owner = int((Path(container.labels[DIR_LABEL]) / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if owner not in tree:
            continue
        pid = container.attrs.get("State", {}).get("Pid") or 0
        try:
            cgroup = Path(f"/proc/{pid}/cgroup").read_text().strip().split("::", 1)[-1]
            procs = Path(f"/sys/fs/cgroup{cgroup}/cgroup.procs").read_text().split()
        except OSError:
            continue
        found.update(int(p) for p in procs)
    return found


@dataclass
class Sample:
    rss: int = 0
    pss: int = 0
    browser_pss: int = 0
    by_name: dict[str, tuple[int, int]] = field(default_factory=dict)  # name: (count, pss)


def sample(root: psutil.Process, containers: bool) -> Sample:
    try:
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return Sample()
    pids = {p.pid for p in tree if not _is_pytest(p)}
    if containers:
        pids |= _container_pids({p.pid for p in tree})
    taken = Sample()
    names: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            rss, name = proc.memory_info().rss, proc.name()
        except psutil.Error:
            continue
        pss = _pss(pid)
        if any(mark in name.lower() for mark in BROWSER):
            taken.browser_pss += pss
            continue
        taken.rss += rss
        taken.pss += pss
        names[name][0] += 1
        names[name][1] += pss
    taken.by_name = {name: (count, pss) for name, (count, pss) in names.items()}
    return taken


@dataclass
class Run:
    workers: int
    seconds: float = 0.0
    peak_rss: Sample = field(default_factory=Sample)
    peak_pss: Sample = field(default_factory=Sample)
    peak_browser: int = 0
    code: int = 0
    summary: str = ""


def run(workers: int, command: list[str], interval: float, containers: bool, log: Path) -> Run:
    done = Run(workers)
    with open(log, "w") as out:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        root = psutil.Process(child.pid)
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                now = sample(root, containers)
                if now.rss > done.peak_rss.rss:
                    done.peak_rss = now
                if now.pss > done.peak_pss.pss:
                    done.peak_pss = now
                done.peak_browser = max(done.peak_browser, now.browser_pss)
                stop.wait(interval)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        done.code = child.wait()
        done.seconds = time.perf_counter() - started
        stop.set()
        watcher.join()
    lines = log.read_text(errors="replace").splitlines()
    done.summary = lines[-1] if lines else "(no output)"
    return done


def mb(value: int) -> str:
    return f"{value / 2**20:7.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    common.add_options(parser)
    parser.add_argument(
        "--workers", default="0,2,4", help="xdist worker counts, comma-separated (default 0,2,4)"
    )
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between memory samples")
    parser.add_argument("--share", choices=("auto", "no"), help="as --boxkoji-xdist-share (default: auto)")
    parser.add_argument("--logs", default=".", help="directory for each run's pytest output (xdist-N.log)")
    parser.add_argument("selection", nargs="*", default=["tests/integration"], help="tests to run")
    argv = sys.argv[1:]
    extra: list[str] = []
    if "--" in argv:
        argv, extra = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    args = parser.parse_args(argv)
    config = common.config(args)  # checks the options as the plugin would
    try:
        counts = [int(n) for n in args.workers.split(",")]
    except ValueError:
        sys.exit(f"--workers={args.workers!r}: expected whole numbers separated by commas, e.g. 0,2,4")
    base = [sys.executable, "-m", "pytest", "--boxkoji", "-p", "no:cacheprovider", "-q", "-p", "xdist"]
    base += [f"--boxkoji-runtime={config.runtime}", f"--boxkoji-cache-dir={config.cache_dir}"]
    base += [f"--boxkoji-koji-source={config.koji_source}"] if config.koji_source_explicit else []
    base += [f"--boxkoji-xdist-share={args.share}"] if args.share else []
    containers = config.runtime == "containers"
    logs = Path(args.logs)
    logs.mkdir(parents=True, exist_ok=True)
    print(f"selection: {' '.join(args.selection)}; runtime {config.runtime}; {os.cpu_count()} CPUs")
    print("memory: peak sums over the run's service processes (see the module's docstring), MB")
    runs: list[Run] = []
    for count in counts:
        load = os.getloadavg()
        command = [*base, "-n", str(count), *extra, *args.selection]
        log = logs / f"xdist-{count}.log"
        done = run(count, command, args.interval, containers, log)
        runs.append(done)
        print(
            f"-n {count}: {done.seconds:7.1f} s, peak RSS {mb(done.peak_rss.rss)} MB, peak PSS "
            f"{mb(done.peak_pss.pss)} MB; load before {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}, "
            f"after {'/'.join(f'{x:.1f}' for x in os.getloadavg())}; pytest: {done.summary} "
            f"(exit {done.code})",
            flush=True,
        )
        top = sorted(done.peak_pss.by_name.items(), key=lambda item: -item[1][1])[:8]
        print(
            "        at the PSS peak: "
            + ", ".join(f"{name} x{n} {pss / 2**20:.0f}" for name, (n, pss) in top)
        )
        print(f"        browsers (not counted above): peak PSS {done.peak_browser / 2**20:.0f} MB")
    baseline = next((r for r in runs if r.workers == 0), None)
    print()
    print(" workers   wall s  speed-up  peak RSS MB  peak PSS MB")
    for done in runs:
        ratio = f"{baseline.seconds / done.seconds:8.2f}x" if baseline else "       -"
        print(
            f" {done.workers:>7} {done.seconds:8.1f} {ratio} "
            f"{mb(done.peak_rss.rss):>12} {mb(done.peak_pss.pss):>12}"
        )
    failed = [r for r in runs if r.code != 0]
    if failed:
        for done in failed:
            print(
                f"pytest failed at -n {done.workers} (exit {done.code}); "
                f"its output: {logs}/xdist-{done.workers}.log"
            )
        sys.exit(1)


if __name__ == "__main__":
    main()
