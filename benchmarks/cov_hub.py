"""The cost of --cov-hub: the same test run with and without it, wall time of each.

    python benchmarks/cov_hub.py [--runs N] [--report KIND] [pytest args...]

Default run: tests/integration/test_hub.py and test_scenarios.py of this repository, the covered
runs with the default report (term; --report json adds coverage's JSON with every line's tests,
a few seconds of its own). Prints each run and the load average: other work on the machine
weighs on the figures.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_boxkoji.config import config_from_environment

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ["tests/integration/test_hub.py", "tests/integration/test_scenarios.py"]


def cpu_of_children() -> float:
    # The processes runtime's services are descendants of pytest, reaped in turn, so their CPU
    # time counts here too: a figure that other work on the machine changes less than wall time.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(args: list[str]) -> tuple[float, float]:
    """(wall time, CPU time of pytest and the services it ran)."""
    cpu = cpu_of_children()
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--boxkoji", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"pytest failed ({done.returncode}):\n{done.stdout[-3000:]}")
    return elapsed, cpu_of_children() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument(
        "--report", default="term", help="--cov-hub-report's kind (json: to a temporary file)"
    )
    parser.add_argument(
        "--cold-parse",
        action="store_true",
        help="forget Koji's files parsed for reports before each covered run (as a first run)",
    )
    parser.add_argument("pytest_args", nargs="*", default=DEFAULT)
    args = parser.parse_args()
    kept_parses = config_from_environment().cache_dir / "coverage-parsed"
    workdir = Path(tempfile.mkdtemp(prefix="boxkoji-cov-bench-"))
    report = (
        f"{args.report}:{workdir / 'hub.report'}" if args.report in ("json", "xml", "html") else args.report
    )
    plain: list[tuple[float, float]] = []
    covered: list[tuple[float, float]] = []
    cold = ", Koji's files parsed anew each time" if args.cold_parse else ""
    print(f"  tests: {' '.join(args.pytest_args)}; covered: --cov-hub --cov-hub-report={args.report}{cold}")
    try:
        for number in range(1, args.runs + 1):  # alternating rounds: a machine getting busier weighs on both
            plain.append(run(args.pytest_args))
            if args.cold_parse:
                shutil.rmtree(kept_parses, ignore_errors=True)
            covered.append(run([*args.pytest_args, "--cov-hub", f"--cov-hub-report={report}"]))
            load = " ".join(f"{figure:.1f}" for figure in os.getloadavg())
            (wall, cpu), (cov_wall, cov_cpu) = plain[-1], covered[-1]
            times = f"without {wall:6.2f} s (CPU {cpu:6.2f} s), with {cov_wall:6.2f} s (CPU {cov_cpu:6.2f} s)"
            print(f"  round {number}: {times} (load average {load})", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for index, what in enumerate(("wall time", "CPU time (pytest and the services)")):
        without = statistics.median(figures[index] for figures in plain)
        with_cov = statistics.median(figures[index] for figures in covered)
        print(f"  {what}, median of {args.runs}:")
        print(f"    without --cov-hub {without:7.2f} s")
        print(f"    with --cov-hub    {with_cov:7.2f} s")
        percent = 100 * (with_cov / without - 1)
        print(f"    overhead          {with_cov - without:7.2f} s ({percent:.0f} %)")


if __name__ == "__main__":
    main()
