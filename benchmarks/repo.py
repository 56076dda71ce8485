"""Builder figures: starting kojid and kojira, and the time from tagging a build to its repo.

    python benchmarks/repo.py [--koji-source SPEC] [--runtime R] [--rounds N] [--timeout S]

Options default to the plugin's BOXKOJI_* variables, then its defaults.

Each round tags a fresh imported build into a tag, asks for a repo (as `koji regen-repo` does)
and waits until kojira's newRepo task, run by kojid with createrepo_c, has produced it.
"""

from __future__ import annotations

import argparse
import statistics
import time

import common

from pytest_boxkoji.environment import Environment
from pytest_boxkoji.scenario.apply import import_build
from pytest_boxkoji.scenario.schema import Build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_options(parser)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for each repo")
    args = parser.parse_args()
    env = Environment(common.config(args))
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
            common.wait_for(
                f"the repo of tag bench after event {event} (round {n + 1})",
                lambda: s.getRepo("bench", min_event=event),  # noqa: B023 (used at once)
                args.timeout,
            )
            times.append(time.perf_counter() - begin)
        print(f"  kojira + 1 kojid registered and ready       {started:7.2f} s")
        print(f"  tagBuild -> repo ready (median of {len(times)})       {statistics.median(times):7.2f} s")
        print(f"  tagBuild -> repo ready (min / max)          {min(times):7.2f} / {max(times):.2f} s")
    finally:
        env.stop()


if __name__ == "__main__":
    main()
