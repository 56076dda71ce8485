"""Scenario figures: applying base.yaml and a generated 200-object scenario, one per-test restore,
and the naive alternative (drop the database, reload Koji's schema, reapply) in the same run.

    python benchmarks/scenario.py [--koji-source SPEC] [--runtime R] [--restores N]

Options default to the plugin's BOXKOJI_* variables, then its defaults.
"""

from __future__ import annotations

import argparse
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


def naive_reset(env: Environment, files: list[str]) -> None:
    """What a suite without snapshots would do: a new database from schema.sql, then reapply."""
    assert env.postgres is not None
    conn = psycopg2.connect(env.postgres.dsn("postgres"))
    conn.autocommit = True
    conn.cursor().execute(f"DROP DATABASE {DB_NAME} WITH (FORCE)")
    conn.close()
    load_schema(env.postgres, env.source().schema, env.realm_name)
    env.forget_sessions()
    scenario = env.scenarios.load(files, None, [])
    applier.apply(scenario, env.admin_session(), env.realm_name, env.config.cache_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_options(parser)
    parser.add_argument("--restores", type=int, default=5)
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
        figures = {
            "apply base.yaml (first use: apply + snapshot)": timed(lambda: states.prepare(["base.yaml"])),
            "apply generated 200 objects (first use)": timed(lambda: states.prepare([str(big)])),
            "apply 200 objects with 4 packages per tag (first use)": timed(
                lambda: states.prepare([str(heavy)])
            ),
        }
        restores = []
        for _ in range(args.restores):
            states.prepare([])  # leave the base state, as the previous test would have
            restores.append(timed(lambda: states.prepare(["base.yaml"])))
        figures[f"restore base.yaml per test (median of {len(restores)})"] = statistics.median(restores)
        figures["restore the empty hub per test"] = timed(lambda: states.prepare([]))
        figures["naive: new database from schema.sql + reapply base.yaml"] = timed(
            lambda: naive_reset(env, ["base.yaml"])
        )
        figures["naive: new database from schema.sql + reapply 200 objects"] = timed(
            lambda: naive_reset(env, [str(big)])
        )
        for name, seconds in figures.items():
            print(f"  {name:62} {seconds:7.3f} s")
    finally:
        env.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
