"""The edit-test loop: a small pytest run that starts its own environment, against the same run
with --boxkoji-reuse on an environment `boxkoji up --detach` started once.

    python benchmarks/reuse.py [--koji-source SPEC] [--runtime R] [--cache-dir DIR] [--runs N]

Options default to the plugin's BOXKOJI_* variables, then its defaults. Prints the wall time of
each run (the whole `pytest` process, as a developer waits for it) and the medians.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common

BOXKOJI = str(Path(sys.executable).parent / "boxkoji")
TEST = """
def test_a_tag(koji_admin):
    koji_admin.createTag("edited")
    assert koji_admin.getTag("edited")

def test_the_cli(koji_cli):
    assert koji_cli("hello").returncode == 0
"""


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    took = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"benchmark failed: {' '.join(command)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    common.add_options(parser)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    config = common.config(args)
    name = f"bench-{secrets.token_hex(3)}"
    where = ["--cache-dir", str(config.cache_dir)]
    options = [
        f"--boxkoji-runtime={config.runtime}",
        f"--boxkoji-koji-source={config.koji_source}",
        f"--boxkoji-cache-dir={config.cache_dir}",
    ]
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--boxkoji", *options]
    with tempfile.TemporaryDirectory(prefix="boxkoji-bench-") as tmp:
        cwd = Path(tmp)
        (cwd / "test_loop.py").write_text(TEST)
        timed(pytest, cwd)  # warm caches (services' Python, templates, images) before measuring
        up = [
            BOXKOJI,
            "up",
            "--detach",
            "--name",
            name,
            "--runtime",
            config.runtime,
            "--koji-source",
            config.koji_source,
            *where,
        ]
        print(f"boxkoji up --detach: {timed(up, cwd):.2f} s (once)")
        try:
            fresh = [timed(pytest, cwd) for _ in range(args.runs)]
            reused = [
                timed([*pytest, "--boxkoji-reuse", f"--boxkoji-box={name}"], cwd) for _ in range(args.runs)
            ]
        finally:
            subprocess.run([BOXKOJI, "down", "--name", name, *where], capture_output=True, check=False)
    print(f"runtime {config.runtime}, {args.runs} runs of a 2-test file (wall time of the pytest process)")
    for label, times in (("own environment:", fresh), ("--boxkoji-reuse:", reused)):
        each = ", ".join(f"{t:.2f}" for t in times)
        print(f"  {label:17} median {statistics.median(times):.2f} s  ({each})")
    print(f"  saved per run:    {statistics.median(fresh) - statistics.median(reused):.2f} s")


if __name__ == "__main__":
    main()
