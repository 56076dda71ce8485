"""The pytest side of --cov-hub, --cov-web and --cov-workers: tell the services which test runs,
combine the data, report, fail under."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

import coverage
import pytest

from pytest_boxkoji import kojisrc
from pytest_boxkoji.coverage.data import measured, report, source_files
from pytest_boxkoji.coverage.parsed import ParsedSources
from pytest_boxkoji.errors import KojiSourceUnavailable
from pytest_boxkoji.keys import CONFIG_KEY, COVERAGE_RESULT_KEY, ENV_KEY

# Not ".coverage.*": pytest-cov combines those into the test process's own data.
DATA_FILE = ".coverage-hub"


def set_phase(item: pytest.Item, phase: str) -> None:
    """pytest-cov's context style: `<nodeid>|setup`, `|run`, `|teardown`."""
    env = item.config.stash.get(ENV_KEY, None)
    if env is not None and env.coverage is not None:
        env.coverage.set_test(f"{item.nodeid}|{phase}")


def _worker_id(config: pytest.Config) -> str | None:
    workerinput = getattr(config, "workerinput", None)
    return workerinput["workerid"] if workerinput else None


# The process parsing Koji's files for the report while the tests run (parsed.py).
PARSING_KEY = pytest.StashKey[subprocess.Popen[bytes]]()


def configure(config: pytest.Config) -> None:
    """Under pytest-xdist each worker has its own hub: its data goes to a file of its own.
    The report's parsing of Koji's files starts now, in the background (one xdist worker does it
    for the controller, which runs no fixture)."""
    worker = _worker_id(config)
    env = config.stash.get(ENV_KEY, None)
    if env is not None and worker:
        env.coverage_target = Path(str(config.rootpath)) / f"{DATA_FILE}.xdist-{worker}"
    cfg = config.stash.get(CONFIG_KEY, None)
    if cfg is None or not measured(cfg) or worker not in (None, "gw0") or PARSING_KEY in config.stash:
        return
    with contextlib.suppress(KojiSourceUnavailable):  # the environment's start says why
        files = source_files(_koji_src(config), measured(cfg))
        config.stash[PARSING_KEY] = ParsedSources(cfg.cache_dir).prepare(files)


def finish(session: pytest.Session) -> None:
    cfg = session.config.stash.get(CONFIG_KEY, None)
    if cfg is None or not (cfg.cov_hub or cfg.cov_web or cfg.cov_workers) or _worker_id(session.config):
        return  # workers only write data; the controller (or a plain run) reports
    root = Path(str(session.config.rootpath))
    target = root / DATA_FILE
    parts = sorted(root.glob(f"{DATA_FILE}.xdist-*"))
    if parts:
        target.unlink(missing_ok=True)  # this run's workers only, not an older run's data
        combined = coverage.Coverage(data_file=str(target))
        combined.combine([str(p) for p in parts])  # and removes them
        combined.save()
    lines: list[str] = []
    if not target.exists():
        lines.append(
            "no Koji coverage data: did any test use the hub (or, with --cov-web, the web; with "
            "--cov-workers, the workers)?"
        )
        session.config.stash[COVERAGE_RESULT_KEY] = lines
        return
    koji_src = _koji_src(session.config)
    parsing = session.config.stash.get(PARSING_KEY, None)
    if parsing is not None:
        try:  # what it has not parsed yet, the report would parse all the same
            parsing.wait(timeout=120)
        except subprocess.TimeoutExpired:
            parsing.kill()  # the report parses what is missing itself
    parsed = ParsedSources(cfg.cache_dir)
    total = 0.0
    for kind in cfg.cov_hub_reports:
        total, text = report(target, kind, koji_src, parsed)
        lines.append(text.rstrip("\n"))
    lines.append(f"Koji coverage data kept in {target} (combine with `coverage combine`)")
    if cfg.cov_hub_fail_under is not None and total < cfg.cov_hub_fail_under:
        lines.append(
            f"FAIL Required Koji coverage of {cfg.cov_hub_fail_under}% not reached. Total: {total:.2f}%"
        )
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    session.config.stash[COVERAGE_RESULT_KEY] = lines


def _koji_src(config: pytest.Config) -> Path:

    cfg = config.stash[CONFIG_KEY]
    return kojisrc.resolve(cfg.koji_source, cfg.cache_dir, cfg.koji_source_explicit).path


def summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = terminalreporter.config.stash.get(COVERAGE_RESULT_KEY, None)
    if lines:
        terminalreporter.write_sep("-", "Koji coverage (--cov-hub, --cov-web, --cov-workers)")
        for line in lines:
            terminalreporter.write_line(line)
