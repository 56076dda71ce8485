"""Start-up figures: each phase, the total to "hub answers an authenticated call", and memory.

    python benchmarks/startup.py [--koji-source SPEC] [--cold] [--runs N]

--cold first removes the cached services' Python and PostgreSQL templates (the Koji source
stays: it cannot be downloaded here), so the first run pays for building them.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

import psutil

from pytest_boxkoji.config import DEFAULT_KOJI_VERSION, BoxKojiConfig, default_cache_dir
from pytest_boxkoji.environment import Environment


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
    from pytest_boxkoji.runtimes.containers import engine

    client = engine()
    for image in client.images.list(filters={"label": "io.pytest-boxkoji.image"}):
        client.images.remove(image.id, force=True)


def one_run(config: BoxKojiConfig) -> dict[str, float]:
    env = Environment(config)
    start = time.perf_counter()
    try:
        env.start()
        ready = time.perf_counter() - start
        session = env.session("kojiadmin", "gssapi")
        assert session.getLoggedInUser()["name"] == "kojiadmin"
        authed = time.perf_counter() - start
        figures = dict(env.timings)
        figures["ready (hub answers getAPIVersion)"] = ready
        figures["total to authenticated call"] = authed
        if env.in_containers:
            figures["containers"] = len(env.runtime.containers)
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
    parser.add_argument("--koji-source", default=DEFAULT_KOJI_VERSION)
    parser.add_argument("--cache-dir", default=str(default_cache_dir()))
    parser.add_argument("--cold", action="store_true", help="drop cached venvs and templates first")
    parser.add_argument("--runs", type=int, default=3, help="warm runs after the first")
    parser.add_argument("--runtime", default="auto", choices=("auto", "processes", "containers"))
    args = parser.parse_args()
    config = BoxKojiConfig(
        runtime=args.runtime,
        enabled=True,
        koji_source=args.koji_source,
        koji_source_explicit=True,
        cache_dir=Path(args.cache_dir),
    )
    if args.cold:
        for part in ("venvs", "templates", "wheelhouse"):
            shutil.rmtree(config.cache_dir / part, ignore_errors=True)
        if args.runtime == "containers":
            drop_images()
    first = one_run(config)
    print(f"first run ({'cold: services Python and templates built' if args.cold else 'as cached'}):")
    for key, value in first.items():
        print(f"  {key:40} {value:8.3f}")
    warm = [one_run(config) for _ in range(args.runs)]
    if warm:
        print(f"warm runs (median of {len(warm)}):")
        for key in warm[0]:
            print(f"  {key:40} {statistics.median(run[key] for run in warm):8.3f}")


if __name__ == "__main__":
    main()
