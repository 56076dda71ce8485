"""The `boxkoji` command: `boxkoji doctor` and `boxkoji scenario validate`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from pytest_boxkoji.config import RUNTIMES


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="boxkoji", description="pytest-boxkoji tools")
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

    scenario = sub.add_parser("scenario", help="scenario files").add_subparsers(dest="action", required=True)
    check = scenario.add_parser("validate", help="check scenario files without starting Koji")
    check.add_argument("files", nargs="+", help="scenario files; together they form one scenario")
    check.add_argument("--dir", action="append", default=[], type=Path, help="also search this directory")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "doctor":
        from pytest_boxkoji import doctor
        from pytest_boxkoji.config import config_from_environment

        given = {
            "boxkoji_runtime": args.runtime,
            "boxkoji_koji_source": args.koji_source,
            "boxkoji_cache_dir": args.cache_dir,
        }
        try:
            config = config_from_environment(given)
        except pytest.UsageError as exc:
            print(f"boxkoji doctor: {exc}", file=sys.stderr)
            return 2
        return doctor.main(config)
    from pytest_boxkoji.scenario.validate import validate_files

    return validate_files(args.files, args.dir)


if __name__ == "__main__":
    sys.exit(main())
