"""The `boxkoji` command: `doctor`, the verbs that run an environment by hand (commands.py) and
scenario files."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_boxkoji import commands, doctor
from pytest_boxkoji.config import RUNTIMES, config_from_environment
from pytest_boxkoji.errors import BoxKojiError
from pytest_boxkoji.scenario.validate import validate_files

EPILOG = "Reads the same BOXKOJI_* variables as the plugin (BOXKOJI_CACHE_DIR, BOXKOJI_KOJI_SOURCE...)."


def _box_options(parser: argparse.ArgumentParser) -> None:
    """Which recorded environment: every verb but doctor and scenario validate takes these."""
    parser.add_argument(
        "--name",
        default=os.environ.get("BOXKOJI_BOX", "default"),
        help="the environment's name (default: BOXKOJI_BOX, else 'default')",
    )
    parser.add_argument("--cache-dir", type=Path, help="default: BOXKOJI_CACHE_DIR, else the user cache")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="boxkoji", description="pytest-boxkoji tools", epilog=EPILOG)
    sub = top.add_subparsers(dest="command", required=True)

    doctor = sub.add_parser(
        "doctor",
        help="check what a runtime needs on this machine and print how to install what is missing",
        description="Checks everything the chosen runtime needs and prints, for what is missing, the "
        "command that installs it here. Exit code 0: ready; 1: not ready. Reads the same BOXKOJI_* "
        "variables as the plugin.",
    )
    doctor.add_argument("--runtime", choices=RUNTIMES, help="default: BOXKOJI_RUNTIME, else auto")
    doctor.add_argument("--koji-source", help="default: BOXKOJI_KOJI_SOURCE, else the default release")
    doctor.add_argument("--cache-dir", type=Path, help="default: BOXKOJI_CACHE_DIR, else the user cache")

    up = sub.add_parser(
        "up",
        help="start an environment and print how to use it",
        description="Starts the KDC, PostgreSQL and the hub (and builders, scenarios, and with --web "
        "kojiweb and the proxy), records the "
        "environment so that the other verbs find it, and prints the koji profile, the kinit line, the "
        "URLs and how to stop it. It then runs until Ctrl-C or SIGTERM, which stop it; with --detach it "
        "is left running until `boxkoji down`.",
        epilog=EPILOG,
    )
    _box_options(up)
    up.add_argument("--scenario", action="append", default=[], metavar="FILE", help="apply (repeatable)")
    up.add_argument("--dir", action="append", default=[], type=Path, help="also search scenarios here")
    up.add_argument(
        "--workers", type=int, default=0, metavar="N", help="kojid builders and kojira (default 0)"
    )
    up.add_argument("--runtime", choices=RUNTIMES, help="default: BOXKOJI_RUNTIME, else auto")
    up.add_argument("--koji-source", help="default: BOXKOJI_KOJI_SOURCE, else the default release")
    up.add_argument("--detach", action="store_true", help="leave it running and return")
    up.add_argument(
        "--web",
        action="store_true",
        help="also kojiweb and nginx in front of everything (the proxy, with /health)",
    )
    up.add_argument(
        "--builds",
        action="store_true",
        help="builders that build in real mock, offline: --boxkoji-builds=yes, at least one builder, "
        "and the scenario builds.yaml (the target `box`)",
    )
    up.add_argument(
        "--hub-port", type=int, metavar="PORT", help="serve the hub on this port (default: a free one)"
    )

    simple = {
        "down": (
            "stop an environment and remove everything it had",
            "Stops every service (also a "
            "foreground `boxkoji up`), removes its directories, containers and record.",
        ),
        "status": (
            "each service: up or down, pid or container, URL, memory",
            "Exit code 0 when every service runs, 1 otherwise.",
        ),
    }
    for verb, (short, long) in simple.items():
        made = sub.add_parser(verb, help=short, description=long, epilog=EPILOG)
        _box_options(made)
        if verb == "status":
            made.add_argument("--json", action="store_true", help="as JSON")

    logs = sub.add_parser(
        "logs",
        help="a service's logs",
        description="The service's output and the logs it writes itself (the hub: Apache's error log).",
        epilog=EPILOG,
    )
    _box_options(logs)
    logs.add_argument(
        "service", help="kdc, postgres, hub, web, health, proxy, kojira, or a builder's host name"
    )
    logs.add_argument("--follow", "-f", action="store_true", help="then print what it writes, until Ctrl-C")

    restart = sub.add_parser(
        "restart",
        help="restart one service",
        description="Stops and starts one "
        "service and waits until it is ready; the hub's application reloads (Koji's "
        "code is read again).",
        epilog=EPILOG,
    )
    _box_options(restart)
    restart.add_argument(
        "service", help="kdc, postgres, hub, web, health, proxy, kojira, or a builder's host name"
    )

    shell = sub.add_parser(
        "shell",
        help="a shell acting as a Koji user",
        description="Runs $SHELL with the realm's KRB5_* variables, a fresh ticket for the user (made "
        "on first use), the koji profile `boxkoji` in ~/.koji/config (HOME is the user's home in the "
        "environment) and the koji command on PATH, so any Koji tool works as that user. With -c, runs "
        "that command; without, reads commands from stdin (interactive on a terminal).",
        epilog=EPILOG,
    )
    _box_options(shell)
    shell.add_argument("--user", default="kojiadmin", help="default: kojiadmin")
    shell.add_argument("-c", dest="command_line", metavar="COMMAND", help="run this and exit with its code")

    env = sub.add_parser(
        "env",
        help="the shell's variables as export lines",
        description='What `boxkoji shell` sets, as `export` lines: eval "$(boxkoji env --user kojiadmin)".',
        epilog=EPILOG,
    )
    _box_options(env)
    env.add_argument("--user", default="kojiadmin", help="default: kojiadmin")

    scenario = sub.add_parser("scenario", help="scenario files").add_subparsers(dest="action", required=True)
    check = scenario.add_parser("validate", help="check scenario files without starting Koji")
    check.add_argument("files", nargs="+", help="scenario files; together they form one scenario")
    check.add_argument("--dir", action="append", default=[], type=Path, help="also search this directory")
    apply = scenario.add_parser(
        "apply",
        help="apply scenario files to a running environment",
        description="Checks the files, then applies them onto the running hub "
        "(hub settings and policies merged into its own). Refused by the hub "
        "half-way, the hub is put back as it was.",
        epilog=EPILOG,
    )
    _box_options(apply)
    apply.add_argument("files", nargs="+", help="scenario files; together they form one scenario")
    apply.add_argument("--dir", action="append", default=[], type=Path, help="also search this directory")
    dump = scenario.add_parser(
        "dump",
        help="a running hub's objects as scenario YAML",
        description="Writes what the hub holds as a scenario that `scenario apply` "
        "and @pytest.mark.koji_scenario accept back.",
        epilog=EPILOG,
    )
    _box_options(dump)
    dump.add_argument("-o", "--output", type=Path, help="write here (default: stdout)")

    snapshot = sub.add_parser("snapshot", help="save and restore the hub's state").add_subparsers(
        dest="action", required=True
    )
    for action, short in (
        ("save", "save the database and topdir as NAME"),
        ("restore", "put the database and topdir back as NAME was saved"),
        ("list", "the saved snapshots"),
    ):
        made = snapshot.add_parser(
            action,
            help=short,
            description=short.capitalize() + " (hub.conf is not part of a snapshot).",
            epilog=EPILOG,
        )
        _box_options(made)
        if action != "list":
            made.add_argument("snapshot", metavar="NAME", help="lowercase letters, digits and _")
    return top


def _config(args: argparse.Namespace) -> Any:

    given = {
        "boxkoji_runtime": getattr(args, "runtime", None),
        "boxkoji_koji_source": getattr(args, "koji_source", None),
        "boxkoji_cache_dir": getattr(args, "cache_dir", None),
        "boxkoji_workers": str(args.workers) if getattr(args, "workers", None) is not None else None,
    }
    if getattr(args, "builds", False):
        given["boxkoji_builds"] = "yes"
        given["boxkoji_workers"] = str(max(1, args.workers or 0))
    return config_from_environment(given)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    verb = args.command + (f" {args.action}" if getattr(args, "action", None) else "")
    try:
        if args.command == "scenario" and args.action == "validate":
            return validate_files(args.files, args.dir)
        config = _config(args)
        if args.command == "doctor":
            return doctor.main(config)
        return _run(args, config)
    except pytest.UsageError as exc:
        print(f"boxkoji {verb}: {exc}", file=sys.stderr)
        return 2
    except BoxKojiError as exc:
        print(f"boxkoji {verb}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace, config: Any) -> int:

    name = args.name
    if args.command == "up":
        scenarios = [*args.scenario, *(["builds.yaml"] if args.builds else [])]
        return commands.up(config, name, scenarios, args.dir, args.detach, args.hub_port, args.web)
    if args.command == "down":
        return commands.down(config, name)
    if args.command == "status":
        return commands.status(config, name, args.json)
    if args.command == "logs":
        return commands.logs(config, name, args.service, args.follow)
    if args.command == "restart":
        return commands.restart(config, name, args.service)
    if args.command == "shell":
        return commands.shell(config, name, args.user, args.command_line)
    if args.command == "env":
        return commands.env_lines(config, name, args.user)
    if args.command == "scenario":
        if args.action == "apply":
            return commands.scenario_apply(config, name, args.files, args.dir)
        return commands.scenario_dump(config, name, args.output)
    return commands.snapshot(config, name, args.action, getattr(args, "snapshot", None))


if __name__ == "__main__":
    sys.exit(main())
