"""The cost of --cov-hub: the same test run with and without it, wall time of each.

    python benchmarks/cov_hub.py [--runs N] [pytest args...]

Default run: tests/integration/test_hub.py and test_scenarios.py of this repository.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ["tests/integration/test_hub.py", "tests/integration/test_scenarios.py"]


def run(args: list[str]) -> float:
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
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("pytest_args", nargs="*", default=DEFAULT)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="boxkoji-cov-bench-"))
    report = workdir / "hub.json"
    plain: list[float] = []
    covered: list[float] = []
    try:
        for _ in range(args.runs):  # alternating rounds: a machine getting busier weighs on both
            plain.append(run(args.pytest_args))
            covered.append(run([*args.pytest_args, "--cov-hub", f"--cov-hub-report=json:{report}"]))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"  tests: {' '.join(args.pytest_args)}")
    without, with_cov = statistics.median(plain), statistics.median(covered)
    print(f"  without --cov-hub (median of {args.runs}) {without:7.2f} s")
    print(f"  with --cov-hub    (median of {args.runs}) {with_cov:7.2f} s")
    percent = 100 * (with_cov / without - 1)
    print(f"  overhead                            {with_cov - without:7.2f} s ({percent:.0f} %)")


if __name__ == "__main__":
    main()
