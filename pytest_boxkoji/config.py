"""The plugin's options, read once from the CLI, then BOXKOJI_* variables, then ini, then defaults.

Every option exists under the same name in all three places: ``--boxkoji-koji-source`` on the
command line, ``boxkoji_koji_source`` in ini, ``BOXKOJI_KOJI_SOURCE`` in the environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
import pytest

DEFAULT_KOJI_VERSION = "1.35.3"
BOX_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")  # a recorded box's name (box.py): a file name
RUNTIMES = ("auto", "processes", "containers")
LOGS = ("on-failure", "all", "no")
XDIST_SHARE = ("auto", "no")
BUILDS = ("auto", "yes", "no")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Option:
    name: str  # the ini key; the CLI flag and env variable derive from it
    help: str
    kind: str = "string"  # "string", "bool", "list" (repeatable on the CLI) or "flag" (a bool or a value)
    default: str | bool | None = None
    choices: tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        upper = self.name.upper()
        return upper if upper.startswith("BOXKOJI") else f"BOXKOJI_{upper}"


OPTIONS = (
    Option("cov_hub", "measure the coverage of Koji's hub code reached by the tests", "bool", False),
    Option("cov_web", "measure the coverage of kojiweb's code reached by the tests", "bool", False),
    Option(
        "cov_workers", "measure the coverage of kojid's and kojira's code run for the tests", "bool", False
    ),
    Option(
        "cov_koji",
        "measure every Koji service there is (this version: the hub, the web, kojid and kojira)",
        "bool",
        False,
    ),
    Option(
        "cov_hub_report",
        "hub coverage report: term, term-missing, html[:DIR], xml[:FILE], json[:FILE] (repeatable; "
        "default: term)",
        "list",
    ),
    Option("cov_hub_fail_under", "fail the run when hub coverage is below this percentage"),
    Option(
        "cov_hub_branch",
        "measure branches too, not only lines, in Koji's code (--cov-hub, --cov-web, --cov-workers; slower)",
        "bool",
        False,
    ),
    Option("boxkoji", "provision the boxkoji environment (fixtures skip without it)", "bool", False),
    Option(
        "boxkoji_runtime",
        "how services run: processes on this host, containers, or auto (default: auto)",
        default="auto",
        choices=RUNTIMES,
    ),
    Option(
        "boxkoji_koji_source",
        "Koji server code: a source tree path, a git repository (path or URL) with an optional "
        f"@ref, or a release version (default: {DEFAULT_KOJI_VERSION})",
    ),
    Option(
        "boxkoji_require_koji",
        "fail (instead of skip) the tests that need Koji's server code when no Koji source can be "
        "found (for CI)",
        "bool",
        False,
    ),
    Option("boxkoji_keep", "leave the environment running after the session", "bool", False),
    Option(
        "boxkoji_reuse",
        "use the environment `boxkoji up --detach` (or --boxkoji-keep) left running, when it was made "
        "from the same Koji source and configuration; it keeps running after the session",
        "bool",
        False,
    ),
    Option(
        "boxkoji_box",
        "the name of the environment --boxkoji-reuse uses and --boxkoji-keep records (default: default)",
        default="default",
    ),
    Option("boxkoji_cache_dir", "where sources, the services' Python and templates are cached"),
    Option(
        "boxkoji_scenarios",
        f"directories searched for scenario files after the test's own ({os.pathsep}-separated)",
    ),
    Option(
        "boxkoji_cli_plugins",
        "directories of koji CLI plugins the box's koji profiles load (their plugin_paths; "
        f"{os.pathsep}-separated)",
    ),
    Option(
        "boxkoji_validate_scenarios",
        "check the scenario files the collected tests name, without starting Koji, then exit",
        "bool",
        False,
    ),
    Option(
        "boxkoji_workers", "how many kojid builders the `workers` fixture starts (default: 1)", default="1"
    ),
    Option(
        "boxkoji_builds",
        "whether the builders build in real mock: auto (when this host allows it; build tasks are "
        "refused with the reason otherwise), yes (fail when it cannot), no (default: auto)",
        default="auto",
        choices=BUILDS,
    ),
    Option(
        "boxkoji_mock_source",
        "the builders' mock: its release tarball, a directory holding it (and "
        "templated-dictionary's), a checkout, or system (default: the host's mock, else mock's "
        "release downloaded once)",
    ),
    Option(
        "boxkoji_hubs",
        "how many hubs serve the same database behind the proxy, which spreads requests across them "
        "(default: 1)",
        default="1",
    ),
    Option(
        "boxkoji_xdist_share",
        "under pytest-xdist: auto shares one KDC, orch and PostgreSQL server among the workers (each "
        "keeps its own hub and database); no gives each worker a whole environment (default: auto)",
        default="auto",
        choices=XDIST_SHARE,
    ),
    Option(
        "boxkoji_container_memory",
        "containers runtime: memory limit of each service's container (e.g. 512m; default: none)",
    ),
    Option(
        "boxkoji_base_image",
        "containers runtime: the Debian-based image the service images start from "
        "(default: docker.io/library/debian:bookworm-slim)",
    ),
    Option(
        "boxkoji_service_user",
        "when pytest runs as root: the unprivileged user the services run as (default: nobody)",
        default="nobody",
    ),
    Option(
        "boxkoji_services_python",
        "the interpreter the services' virtualenv is made from; it must be readable by the "
        "service user (default: /usr/bin/python3)",
        default="/usr/bin/python3",
    ),
    Option(
        "boxkoji_logs",
        "attach what the services logged during a test to its report: on-failure (default), all tests, or no",
        default="on-failure",
        choices=LOGS,
    ),
    Option(
        "boxkoji_stats",
        "hub call statistics per test in the terminal summary; =PATH.json also writes them as JSON",
        "flag",
        False,
    ),
)


def default_cache_dir() -> Path:
    # root's home is private, yet the services drop to another user and must read the cache.
    if os.geteuid() == 0:
        return Path("/var/cache/pytest-boxkoji")
    return Path(platformdirs.user_cache_dir("pytest-boxkoji"))


@dataclass(frozen=True)
class BoxKojiConfig:
    """Everything the plugin was told, read once per session."""

    enabled: bool = False
    runtime: str = "auto"
    koji_source: str = DEFAULT_KOJI_VERSION
    koji_source_explicit: bool = False
    require_koji: bool = False
    keep: bool = False
    reuse: bool = False
    box: str = "default"
    cache_dir: Path = Path(".")
    service_user: str = "nobody"
    services_python: Path = Path("/usr/bin/python3")
    rootdir: Path = Path(".")
    scenario_dirs: tuple[Path, ...] = ()
    cli_plugins: tuple[Path, ...] = ()
    validate_scenarios: bool = False
    cov_hub: bool = False
    cov_web: bool = False
    cov_workers: bool = False
    workers: int = 1
    builds: str = "auto"
    mock_source: str | None = None
    hubs: int = 1
    xdist_share: bool = True  # pytest-xdist workers share the KDC, orch and PostgreSQL (shared.py)
    container_memory: str | None = None
    base_image: str | None = None
    cov_hub_reports: tuple[str, ...] = ("term",)
    cov_hub_fail_under: float | None = None
    cov_hub_branch: bool = False  # lines only unless asked: arcs cost the hub more at each call
    hub_port: int | None = None  # `boxkoji up --hub-port`: a URL that stays the same (else free)
    logs: str = "on-failure"
    stats: bool = False
    stats_json: Path | None = None
    # The hub records every call it serves (hubcalls/): always, it is cheap; off only to measure
    # what it costs (benchmarks/hub_calls.py).
    record_hub_calls: bool = True


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("boxkoji", "a real Koji environment as fixtures")
    for opt in OPTIONS:
        if opt.kind == "list":
            group.addoption(
                opt.flag, action="append", default=None, dest=opt.name, metavar="VALUE", help=opt.help
            )
            parser.addini(opt.name, opt.help, type="args", default=None)
        elif opt.kind == "bool":
            group.addoption(opt.flag, action="store_true", default=None, dest=opt.name, help=opt.help)
            parser.addini(opt.name, opt.help, type="bool", default=None)
        elif opt.kind == "flag":
            group.addoption(
                opt.flag,
                action="store",
                nargs="?",
                const="true",
                default=None,
                dest=opt.name,
                metavar="PATH",
                help=opt.help,
            )
            parser.addini(opt.name, opt.help, type="string", default=None)
        else:
            group.addoption(
                opt.flag,
                action="store",
                default=None,
                dest=opt.name,
                metavar="VALUE",
                help=opt.help,
            )
            parser.addini(opt.name, opt.help, type="string", default=None)


def _parse_bool(value: str, where: str) -> bool:
    low = value.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise pytest.UsageError(f"{where}={value!r} is not a boolean; use 1/0, true/false, yes/no or on/off.")


def _lookup(opt: Option, cli: Any, ini: Any, env: Mapping[str, str]) -> tuple[Any, bool]:
    """The option's value and whether anyone set it. 0, "" and False are values, not unset."""
    if cli is not None:
        return cli, True
    if opt.env in env:
        raw = env[opt.env]
        if opt.kind == "list":
            return [part.strip() for part in raw.split(",") if part.strip()], True
        return (_parse_bool(raw, opt.env) if opt.kind == "bool" else raw), True
    if ini is not None and ini != []:
        return ini, True
    return opt.default, False


def read_config(config: pytest.Config, env: Mapping[str, str] | None = None) -> BoxKojiConfig:
    """Read all options once; raise pytest.UsageError for values that cannot work."""
    given: dict[str, tuple[Any, Any]] = {}
    for opt in OPTIONS:
        try:
            ini = config.getini(opt.name)
        except ValueError:
            raise pytest.UsageError(
                f"ini key {opt.name} in {config.inipath}: not a boolean; use true or false."
            ) from None
        given[opt.name] = (config.getoption(opt.name), ini)
    return _build(given, os.environ if env is None else env, Path(str(config.rootpath)))


def config_from_environment(
    cli: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None, rootdir: Path | None = None
) -> BoxKojiConfig:
    """The same configuration without pytest (benchmarks, scripts): `cli` values by ini name, then
    BOXKOJI_* variables, then defaults. Bad values raise pytest.UsageError with the same messages."""
    cli = cli or {}
    given = {opt.name: (cli.get(opt.name), None) for opt in OPTIONS}
    return _build(given, os.environ if env is None else env, rootdir or Path.cwd())


def _build(given: Mapping[str, tuple[Any, Any]], env: Mapping[str, str], rootdir: Path) -> BoxKojiConfig:
    """given: (command line value, ini value) of each option, None where not given."""
    values: dict[str, Any] = {}
    for opt in OPTIONS:
        cli, ini = given[opt.name]
        value, _was_set = _lookup(opt, cli, ini, env)
        if opt.choices and value not in opt.choices:
            raise pytest.UsageError(
                f"{opt.flag} / {opt.name} / {opt.env}: {value!r} is not one of {', '.join(opt.choices)}."
            )
        values[opt.name] = value
    source = values["boxkoji_koji_source"]
    fail_under = values["cov_hub_fail_under"]
    try:
        fail_under = float(fail_under) if fail_under not in (None, "") else None
    except ValueError:
        raise pytest.UsageError(
            f"--cov-hub-fail-under={fail_under!r}: not a number (a percentage, e.g. 40)"
        ) from None
    workers = _whole_number(values, "boxkoji_workers", "the number of builders", 0)
    hubs = _whole_number(values, "boxkoji_hubs", "the number of hubs", 1)

    if not BOX_NAME.match(values["boxkoji_box"] or "default"):
        raise pytest.UsageError(
            f"--boxkoji-box={values['boxkoji_box']!r}: use letters, digits, '.', '_' and '-' only"
        )
    stats, stats_json = _flag_or_path(values["boxkoji_stats"], "--boxkoji-stats", ".json")
    reports = tuple(values["cov_hub_report"] or ("term",))

    for kind in reports:
        problem = check_report_kind(kind)
        if problem:
            raise pytest.UsageError(problem)
    return BoxKojiConfig(
        enabled=bool(values["boxkoji"]),
        runtime=values["boxkoji_runtime"],
        koji_source=source or DEFAULT_KOJI_VERSION,
        koji_source_explicit=bool(source),
        require_koji=bool(values["boxkoji_require_koji"]),
        keep=bool(values["boxkoji_keep"]),
        reuse=bool(values["boxkoji_reuse"]),
        box=values["boxkoji_box"] or "default",
        cache_dir=Path(values["boxkoji_cache_dir"]).expanduser()
        if values["boxkoji_cache_dir"]
        else default_cache_dir(),
        service_user=values["boxkoji_service_user"],
        services_python=Path(values["boxkoji_services_python"]),
        rootdir=rootdir,
        scenario_dirs=tuple(
            _relative(Path(p).expanduser(), rootdir)
            for p in (values["boxkoji_scenarios"] or "").split(os.pathsep)
            if p
        ),
        cli_plugins=tuple(
            _relative(Path(p).expanduser(), rootdir)
            for p in (values["boxkoji_cli_plugins"] or "").split(os.pathsep)
            if p
        ),
        validate_scenarios=bool(values["boxkoji_validate_scenarios"]),
        cov_hub=bool(values["cov_hub"] or values["cov_koji"]),
        cov_web=bool(values["cov_web"] or values["cov_koji"]),
        cov_workers=bool(values["cov_workers"] or values["cov_koji"]),
        workers=workers,
        builds=values["boxkoji_builds"],
        mock_source=values["boxkoji_mock_source"] or None,
        hubs=hubs,
        xdist_share=values["boxkoji_xdist_share"] == "auto",
        container_memory=values["boxkoji_container_memory"] or None,
        base_image=values["boxkoji_base_image"] or None,
        cov_hub_reports=reports,
        cov_hub_fail_under=fail_under,
        cov_hub_branch=bool(values["cov_hub_branch"]),
        logs=values["boxkoji_logs"],
        stats=stats,
        stats_json=_relative(stats_json, rootdir) if stats_json else None,
    )


def _flag_or_path(value: Any, flag: str, suffix: str) -> tuple[bool, Path | None]:
    """A "flag" option: off, on, or on with a file to write (its name ends with `suffix`)."""
    if isinstance(value, bool) or value is None:
        return bool(value), None
    low = str(value).strip().lower()
    if low in _TRUE:
        return True, None
    if low in _FALSE:
        return False, None
    if not low.endswith(suffix):
        # `--boxkoji-stats tests/` takes tests/ as the option's value (argparse's optional value).
        raise pytest.UsageError(
            f"{flag}={value!r}: expected a file name ending in {suffix} (or 1/0, true/false). Write "
            f"{flag}=PATH{suffix}, or put {flag} after the test paths."
        )
    return True, Path(value).expanduser()


def _whole_number(values: Mapping[str, Any], name: str, what: str, minimum: int) -> int:
    flag = "--" + name.replace("_", "-")
    try:
        number = int(values[name])
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise pytest.UsageError(f"{flag}={values[name]!r}: {what} must be a whole number >= {minimum}")
    return number


def _relative(path: Path, rootdir: Path) -> Path:
    # Relative directories are relative to the rootdir, as pytest's own ini paths are.
    return path if path.is_absolute() else rootdir / path


REPORT_KINDS = ("term", "term-missing", "html", "xml", "json")


def check_report_kind(kind: str) -> str | None:
    """An error message for a report spec that cannot work, else None."""
    name, sep, where = kind.partition(":")
    if name not in REPORT_KINDS:
        kinds = ", ".join(REPORT_KINDS)
        return f"--cov-hub-report={kind}: unknown report; use one of {kinds} (html/xml/json take :PATH)"
    if sep and name.startswith("term"):
        return f"--cov-hub-report={kind}: {name} takes no path"
    return None
