"""Start-up figures: each phase, the total to "hub answers an authenticated call", and memory.

    python benchmarks/startup.py [--koji-source SPEC] [--runtime R] [--cold] [--runs N]
                                 [--compare-sequential]

Options default to the plugin's BOXKOJI_* variables, then its defaults.

--cold first removes the cached services' Python and PostgreSQL templates (the Koji source
stays: it cannot be downloaded here), so the first run pays for building them.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time

import common
import psutil

from pytest_boxkoji.config import BoxKojiConfig
from pytest_boxkoji.environment import Environment
from pytest_boxkoji.errors import BoxKojiError


def resident_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


def drop_images() -> None:
    """Remove pytest-boxkoji's images so that the first run builds them (not the Debian base)."""
    from pytest_boxkoji.runtimes.containers import probe

    client, problem = probe()
    if client is None:
        sys.exit(f"benchmark failed: {problem}")
    for image in client.images.list(filters={"label": "io.pytest-boxkoji.image"}):
        client.images.remove(image.id, force=True)


def one_run(config: BoxKojiConfig, sequential: bool = False) -> dict[str, float]:
    env = Environment(config)
    env.graph.parallel = not sequential
    figures: dict[str, float] = {}
    start = time.perf_counter()
    try:
        env.start()
        ready = time.perf_counter() - start
        session = env.session("kojiadmin", "gssapi")
        assert session.getLoggedInUser()["name"] == "kojiadmin"
        authed = time.perf_counter() - start
        figures.update(env.graph.timings)
        figures["ready (hub answers getAPIVersion)"] = ready
        figures["total to authenticated call"] = authed
        if env.runtime.own_filesystem:
            figures["services"] = len(env.graph.services)
        else:
            figures["resident memory MB"] = resident_mb(env.runtime.pids())
            figures["processes"] = len(env.runtime.pids())
        session.logout()
    finally:
        stop = time.perf_counter()
        env.stop()
        figures["teardown"] = time.perf_counter() - stop
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_options(parser)
    parser.add_argument("--cold", action="store_true", help="drop cached venvs and templates first")
    parser.add_argument("--runs", type=int, default=3, help="warm runs after the first")
    parser.add_argument(
        "--compare-sequential", action="store_true", help="also warm runs starting one part at a time"
    )
    args = parser.parse_args()
    config = common.config(args)
    if args.cold:
        for part in ("venvs", "templates", "wheelhouse"):
            shutil.rmtree(config.cache_dir / part, ignore_errors=True)
        if config.runtime == "containers":
            drop_images()
    try:
        first = one_run(config)
    except BoxKojiError as exc:  # a failed start is the result, not a traceback from the report
        sys.exit(f"benchmark failed: the environment did not start:\n{exc}")
    print(f"first run ({'cold: services Python and templates built' if args.cold else 'as cached'}):")
    for key, value in first.items():
        print(f"  {key:40} {value:8.3f}")
    print(f"koji source: {config.koji_source}, runtime: {config.runtime}")
    # Interleaved, so that both kinds of run see the same machine.
    warm, sequential = [], []
    for _ in range(args.runs):
        warm.append(one_run(config))
        if args.compare_sequential:
            sequential.append(one_run(config, sequential=True))
    for title, runs in (("parallel start", warm), ("one part at a time", sequential)):
        if runs:
            print(f"warm runs, {title} (median of {len(runs)}):")
            for key in runs[0]:
                print(f"  {key:40} {statistics.median(run[key] for run in runs):8.3f}")
    if warm and sequential:
        total = "total to authenticated call"
        ratio = statistics.median(r[total] for r in sequential) / statistics.median(r[total] for r in warm)
        print(f"parallel start is {ratio:.2f}x as fast to an authenticated call")


if __name__ == "__main__":
    main()
