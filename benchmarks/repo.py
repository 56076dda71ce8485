"""Builder figures: starting kojid and kojira, and the time from tagging a build to its repo.

    python benchmarks/repo.py [--rounds N]

Each round tags a fresh imported build into a tag, asks for a repo (as `koji regen-repo` does)
and waits until kojira's newRepo task, run by kojid with createrepo_c, has produced it.
"""

from __future__ import annotations

import argparse
import statistics
import time

from pytest_boxkoji.config import BoxKojiConfig, default_cache_dir
from pytest_boxkoji.environment import Environment
from pytest_boxkoji.scenario.apply import import_build
from pytest_boxkoji.scenario.schema import Build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    env = Environment(BoxKojiConfig(enabled=True, cache_dir=default_cache_dir()))
    try:
        env.start()
        start = time.perf_counter()
        env.workers.start(1)
        started = time.perf_counter() - start
        s = env.admin_session()
        s.createTag("bench", arches="x86_64")
        s.packageListAdd("bench", "benchpkg", owner="kojiadmin")
        times = []
        for n in range(args.rounds):
            build = Build(type="build", name=f"benchpkg-1.{n}-1", arches=["noarch"])
            import_build(s, build, env.config.cache_dir)
            begin = time.perf_counter()
            s.tagBuildBypass("bench", build.name, force=True)
            event = s.getLastEvent()["id"]
            s.repo.request("bench", min_event=event)
            while True:
                repo = s.getRepo("bench", min_event=event)
                if repo:
                    break
                time.sleep(0.1)
            times.append(time.perf_counter() - begin)
        print(f"  kojira + 1 kojid registered and ready       {started:7.2f} s")
        print(f"  tagBuild -> repo ready (median of {len(times)})       {statistics.median(times):7.2f} s")
        print(f"  tagBuild -> repo ready (min / max)          {min(times):7.2f} / {max(times):.2f} s")
    finally:
        env.stop()


if __name__ == "__main__":
    main()
