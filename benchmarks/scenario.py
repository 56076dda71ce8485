"""Scenario figures: applying base.yaml and a generated 200-object scenario, the per-test restore,
and in the same run the alternatives: the naive reset (drop the database, reload Koji's schema,
reapply) and the reset suites of Koji tools use (stop Apache, drop, reload, start Apache).

    python benchmarks/scenario.py [--koji-source SPEC] [--runtime R] [--restores N] [--workers N]

Options default to the plugin's BOXKOJI_* variables, then its defaults. The slow resets run first,
before any builder starts (they end the builders' sessions); with --workers the restores are then
measured with the builders running. The load average is printed: other work on the machine
weighs on every figure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import common
import psycopg2

from pytest_boxkoji.environment import Environment
from pytest_boxkoji.scenario import apply as applier
from pytest_boxkoji.services.postgres import DB_NAME, load_schema


def generated(count: int, packages_per_tag: int = 1) -> str:
    """`count` objects of several types: users in groups, hosts, tags in inheritance chains
    (each with `packages_per_tag` package entries, which are not counted as objects), targets."""
    users, groups, hosts, targets = count // 5, count // 20, count // 20, count // 10
    tags = count - users - groups - hosts - targets
    docs = [f"type: group\nname: group{i}\npermissions: [tag]" for i in range(groups)]
    docs += [f"type: user\nname: user{i}\ngroups: [group{i % groups}]" for i in range(users)]
    docs += [f"type: host\nname: host{i}.koji.box\narches: [x86_64]\ncapacity: 2" for i in range(hosts)]
    for i in range(tags):
        parent = f"\ninheritance: [tag{i - 1}]" if i % 10 else ""
        packages = "".join(
            f"\n  - {{name: pkg{i}-{j}, owner: user{(i + j) % users}}}" for j in range(packages_per_tag)
        )
        docs.append(f"type: tag\nname: tag{i}\narches: [x86_64]{parent}\npackages:{packages or ' []'}")
    docs += [
        f"type: target\nname: target{i}\nbuild-tag: tag{i}\ndest-tag: tag{i + 1}" for i in range(targets)
    ]
    return "\n---\n".join(docs) + "\n"


def timed(action) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def new_database(env: Environment) -> None:
    """Drop the hub's database and make it again from Koji's schema.sql (with the admin)."""
    assert env.postgres is not None
    conn = psycopg2.connect(env.postgres.dsn("postgres"))
    conn.autocommit = True
    conn.cursor().execute(f"DROP DATABASE {DB_NAME} WITH (FORCE)")
    conn.close()
    load_schema(env.postgres, env.source().schema, env.realm_name)
    env.forget_sessions()


def naive_reset(env: Environment, files: list[str]) -> None:
    """What a suite without snapshots would do: a new database from schema.sql, then reapply."""
    new_database(env)
    scenario = env.scenarios.load(files, None, [])
    applier.apply(scenario, env.admin_session(), env.config.cache_dir)


def apache_reset(env: Environment) -> None:
    """The reset test suites of Koji tools use today: stop Apache, drop and create the database,
    load schema.sql, insert the admin, start Apache, wait for the first successful call."""
    hub = env.graph.get("hub")
    env.runtime.stop(hub.service)
    new_database(env)
    env.runtime.start(hub.service)  # returns once getAPIVersion answers
    env.admin_session().getLoggedInUser()


def median_of(runs: int, action, between=None) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        if between is not None:
            between()
        times.append(timed(action))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_options(parser)
    parser.add_argument("--restores", type=int, default=7)
    parser.add_argument("--resets", type=int, default=3, help="runs of each slow reset")
    parser.add_argument("--workers", type=int, default=0, help="kojid builders running meanwhile")
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between restores (a test)")
    args = parser.parse_args()
    env = Environment(common.config(args))
    work = Path(tempfile.mkdtemp(prefix="boxkoji-bench-"))
    big = work / "generated-200.yaml"
    big.write_text(generated(200))
    heavy = work / "generated-200-heavy.yaml"
    heavy.write_text(generated(200, packages_per_tag=4))
    try:
        env.start()
        states = env.scenarios
        # Each from the empty hub (restored, not timed): a naive reset leaves the topdir alone.
        empty_hub = lambda: states.prepare([])  # noqa: E731
        naive = median_of(args.resets, lambda: naive_reset(env, ["base.yaml"]), empty_hub)
        apache = median_of(args.resets, lambda: apache_reset(env), empty_hub)
        states.prepare([])
        naive_big = timed(lambda: naive_reset(env, [str(big)]))
        states.prepare([])
        if args.workers:
            env.workers.start(args.workers)
        figures = {
            "apply base.yaml (first use: apply + snapshot)": timed(lambda: states.prepare(["base.yaml"])),
            "apply generated 200 objects (first use)": timed(lambda: states.prepare([str(big)])),
            "apply 200 objects with 4 packages per tag (first use)": timed(
                lambda: states.prepare([str(heavy)])
            ),
        }

        def a_test() -> None:  # what happens between two restores: a test, using the hub
            env.admin_session().createTag(f"bench-{time.monotonic_ns()}")
            time.sleep(args.pause)

        n = args.restores
        base = median_of(n, lambda: states.prepare(["base.yaml"]), a_test)
        empty = median_of(n, lambda: states.prepare([]), a_test)
        figures[f"restore base.yaml per test (median of {n})"] = base
        figures[f"restore the empty hub per test (median of {n})"] = empty
        figures[f"naive: new database from schema.sql + reapply base.yaml ({args.resets})"] = naive
        figures[f"Koji tools' reset: stop Apache, drop, schema.sql, start ({args.resets})"] = apache
        figures["naive: new database from schema.sql + reapply 200 objects"] = naive_big
        load = " ".join(f"{figure:.1f}" for figure in os.getloadavg())
        print(f"  runtime {env.runtime.name}, restores with {args.workers} builders, load average {load}")
        for name, seconds in figures.items():
            print(f"  {name:66} {seconds:7.3f} s")
        print(f"  the empty hub's restore is {apache / empty:.0f}x as fast as Koji tools' reset")
        print(f"  base.yaml's restore is {apache / base:.0f}x as fast as Koji tools' reset")
        print(f"  base.yaml's restore is {naive / base:.0f}x as fast as the naive reset")
    finally:
        env.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
