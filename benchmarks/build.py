"""Build figures: real builds in mock, from submit to COMPLETE, with where the time goes.

    python benchmarks/build.py [--koji-source SPEC] [--runtime R] [--mock-source SPEC] [--builds N]

Options default to the plugin's BOXKOJI_* variables (BOXKOJI_MOCK_SOURCE...), then its defaults.
Builds are required here (--boxkoji-builds=yes): a host that cannot build fails loudly.

Prints: the buildroot repository (made or found in the cache), the builders' start, then for each
build of the shipped scenario builds.yaml's target (noarch, then a C program, alternately) the
time from submit to COMPLETE and each task's share (the build tag's repo, the SRPM, the arch
build, tagging), and beside them a plain `mock --init` of the same buildroot, run by hand in the
builder as kojid runs mock. Fails (exit 1) when a build fails; the targets live in the README
(docs/performance.md): a noarch build within 30 s warm, the second one within 15 s.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import common
import koji

from pytest_boxkoji import progress
from pytest_boxkoji.builds import buildroot, srpm, submit
from pytest_boxkoji.environment import Environment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_options(parser)
    parser.add_argument("--mock-source", help="as --boxkoji-mock-source (default: BOXKOJI_MOCK_SOURCE)")
    parser.add_argument("--builds", type=int, default=4, help="how many builds, one after another")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for each build")
    args = parser.parse_args()
    config = replace(common.config(args), builds="yes")
    if args.mock_source:
        config = replace(config, mock_source=args.mock_source)

    begin = time.perf_counter()
    repo = buildroot.buildroot_repo(config.cache_dir, progress.say)
    made_repo = time.perf_counter() - begin
    env = Environment(config)
    try:
        env.start()
        begin = time.perf_counter()
        env.workers.start(1)
        started = time.perf_counter() - begin
        env.scenarios.prepare(["builds.yaml"])
        admin = env.admin_session()
        assert env.hub is not None
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            for n in range(args.builds):
                noarch = n % 2 == 0
                name = f"bench{'noarch' if noarch else 'cc'}{n}"
                spec, sources = srpm.spec_for(name, "1.0", "1", noarch)
                path = srpm.make_srpm(Path(tmp) / name, spec, sources)
                admin.packageListAdd("box-candidate", name, owner="kojiadmin")
                begin = time.perf_counter()
                task_id = submit.submit(admin, path, "box")
                submit.wait(admin, task_id, args.timeout)
                took = time.perf_counter() - begin
                result = submit.outcome(admin, task_id, env.hub.files_url)
                if not result.ok:
                    sys.exit(f"benchmark failed: build {n + 1} ({name}) {result.state}: {result.error}")
                rows.append((name, took, _shares(admin, task_id)))
        plain = _plain_mock_init(env)
        print(f"  buildroot repository ({repo.packages} rpms, cached by content)   {made_repo:7.2f} s")
        print(f"  kojira + 1 kojid with mock, ready                      {started:7.2f} s")
        for n, (name, took, shares) in enumerate(rows, 1):
            detail = ", ".join(f"{method} {seconds:.1f}" for method, seconds in shares)
            print(f"  build {n} {name:<14} submit -> COMPLETE   {took:7.2f} s  ({detail})")
        print(f"  plain `mock --init` of the same buildroot, in the builder   {plain:7.2f} s")
    finally:
        env.stop()


def _shares(session: koji.ClientSession, task_id: int) -> list[tuple[str, float]]:
    """Each subtask's run time, by method, in the order they started."""
    tasks = sorted(session.getTaskChildren(task_id), key=lambda t: t["start_ts"] or 0)
    return [(t["method"], (t["completion_ts"] or 0) - (t["start_ts"] or 0)) for t in tasks if t["start_ts"]]


def _plain_mock_init(env: Environment) -> float:
    """`mock --init` of the last buildroot's config, under a new root name, as kojid runs it
    (its user and group, in the builder's namespace or container)."""
    (builder,) = list(env.workers.builders.values())[:1]
    assert builder.service is not None
    runtime = env.graph.runtime
    script = (
        "set -e; cfg=$(ls -t /etc/mock/koji/*.cfg | head -1); "
        "sed \"s/config_opts\\['root'\\] = .*/config_opts['root'] = 'boxkoji-bench'/\" \"$cfg\" "
        "> /etc/mock/koji/boxkoji-bench.cfg; "
        "as_mock='setpriv --reuid=kojibuilder --regid=mock --init-groups /usr/bin/mock'; "
        "$as_mock -r koji/boxkoji-bench --init >/dev/null 2>&1; "
        "$as_mock -r koji/boxkoji-bench --scrub=all >/dev/null 2>&1"
    )
    if runtime.own_filesystem:
        container = runtime.containers[builder.service.name]  # type: ignore[attr-defined]
        begin = time.perf_counter()
        code, output = container.exec_run(["sh", "-c", script])
        took = time.perf_counter() - begin
        if code != 0:
            sys.exit(f"benchmark failed: plain mock --init: {output.decode(errors='replace')}")
        return took
    pid = runtime.executors[builder.service.name].process.pid  # type: ignore[attr-defined]
    begin = time.perf_counter()
    subprocess.run(["nsenter", "-t", str(pid), "-m", "sh", "-c", script], check=True)
    return time.perf_counter() - begin


if __name__ == "__main__":
    main()
