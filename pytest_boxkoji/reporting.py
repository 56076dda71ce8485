"""What the services did during each test, on its report: the lines their logs gained
(--boxkoji-logs) and the hub calls it made (the `koji_hub_calls` fixture, --boxkoji-stats).

Where every log and the hub's call records end is noted as a test's setup begins; at report
time what was added since is read. Only tests that use a boxkoji fixture are looked at.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from pytest_boxkoji.errors import BoxKojiError
from pytest_boxkoji.hubcalls import stats
from pytest_boxkoji.keys import CONFIG_KEY, ENV_KEY
from pytest_boxkoji.servicelogs import Marks
from pytest_boxkoji.services.hub import HUB

if TYPE_CHECKING:
    from pathlib import Path

    from pytest_boxkoji.environment import Environment

REPORT_ATTRIBUTE = "boxkoji_hub_calls"  # on teardown reports; pytest-xdist carries it to the controller


@dataclass
class TestMarks:
    """Where a test began in the services' logs and the hub's call records."""

    env: Environment | None = None
    logs: Marks | None = None  # None: every log from its start (the test started the services)
    end: int = 0  # how far the hub's call records have been read
    calls: list[stats.Call] = field(default_factory=list)  # the test's calls read so far

    def read_calls(self) -> list[stats.Call]:
        path = calls_log(self.env)
        if path is not None:
            found, self.end = stats.read(path, self.end)  # once the workspace is gone: nothing
            self.calls.extend(found)
        return self.calls


MARKS = pytest.StashKey[TestMarks]()


def _uses_boxkoji(item: pytest.Item) -> bool:
    return "boxkoji_environment" in getattr(item, "fixturenames", ())


def calls_log(env: Environment | None) -> Path | None:
    hub = env.graph.running(HUB) if env is not None else None
    return hub.calls_log if hub is not None else None


def hub_calls(item: pytest.Item, env: Environment) -> stats.HubCalls:
    """The `koji_hub_calls` fixture's value (reset as the test's body begins)."""
    path = calls_log(env)
    if path is None:
        raise BoxKojiError("this environment's hub does not record its calls (record_hub_calls is off)")
    why = stats.unsupported(path)
    if why:
        raise BoxKojiError(f"hub call statistics are not available: {why}")
    return stats.HubCalls(path, stats.size(path))


class Reporting:
    """The hooks; registered by plugin.py."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.results: dict[str, dict[str, Any]] = {}  # nodeid -> that test's hub calls

    @property
    def env(self) -> Environment | None:
        return self.config.stash.get(ENV_KEY, None)

    @pytest.hookimpl(tryfirst=True)  # before the test's fixtures are set up
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        env, cfg = self.env, self.config.stash[CONFIG_KEY]
        marks = item.stash[MARKS] = TestMarks(env)
        if env is None or not _uses_boxkoji(item):
            return  # the first test to use boxkoji starts it: its logs are read from their start
        if cfg.logs != "no":
            marks.logs = Marks.take(env.runtime, list(env.graph.services))
        path = calls_log(env)
        marks.end = stats.size(path) if path else 0

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        self._remember_env(item)
        calls = getattr(item, "funcargs", {}).get("koji_hub_calls")
        if isinstance(calls, stats.HubCalls):
            calls.reset()  # the test's own calls, not its fixtures'

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        marks = self._remember_env(item)
        if marks is not None and self.config.stash[CONFIG_KEY].stats:
            marks.read_calls()  # the last test's teardown stops the environment, files and all

    def _remember_env(self, item: pytest.Item) -> TestMarks | None:
        marks = item.stash.get(MARKS, None) if _uses_boxkoji(item) else None
        if marks is not None and marks.env is None:
            marks.env = self.env  # started by this test's setup
        return marks

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        marks = item.stash.get(MARKS, None)
        env = marks.env or self.env if marks is not None else None
        if env is None or marks is None or not _uses_boxkoji(item):
            return
        marks.env = env
        cfg = self.config.stash[CONFIG_KEY]
        attach_logs = cfg.logs == "all" and report.when == "call" or cfg.logs != "no" and report.failed
        if not attach_logs and not (cfg.stats and report.when == "teardown"):
            return
        calls = marks.read_calls()
        if attach_logs:
            logs = marks.logs or Marks()  # no marks: every log from its start
            report.sections.extend(logs.sections(env.runtime, list(env.graph.services)))
            if calls:
                report.sections.append(("boxkoji hub calls", "\n".join(stats.table(stats.by_method(calls)))))
        if cfg.stats and report.when == "teardown":
            setattr(report, REPORT_ATTRIBUTE, summary(calls))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        found = getattr(report, REPORT_ATTRIBUTE, None)
        if found is not None:
            self.results[report.nodeid] = found

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        cfg = self.config.stash[CONFIG_KEY]
        if cfg.stats_json is None or hasattr(self.config, "workerinput"):
            return  # pytest-xdist's workers send theirs to the controller
        totals = stats.merge(stats.from_dicts(t["methods"]) for t in self.results.values())
        document = {"tests": self.results, "methods": {m: s.as_dict() for m, s in totals.items()}}
        cfg.stats_json.parent.mkdir(parents=True, exist_ok=True)
        cfg.stats_json.write_text(json.dumps(document, indent=1) + "\n")

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        cfg = self.config.stash[CONFIG_KEY]
        if not cfg.stats:
            return
        write = terminalreporter.write_line
        terminalreporter.write_sep("-", "Koji hub calls (--boxkoji-stats)")
        if not self.results:
            write("no test used the hub")
            return
        for nodeid, test in self.results.items():
            write(
                f"{nodeid}: {test['calls']} calls, {test['faults']} faults, "
                f"{test['seconds'] * 1000:.1f} ms in the hub"
            )
            if test["methods"]:
                for line in stats.table(stats.from_dicts(test["methods"])):
                    write(line)
        totals = stats.merge(stats.from_dicts(t["methods"]) for t in self.results.values())
        write(f"all {len(self.results)} tests:")
        for line in stats.table(totals):
            write(line)
        if cfg.stats_json is not None:
            write(f"written to {cfg.stats_json}")


def summary(calls: list[stats.Call]) -> dict[str, Any]:
    """One test's calls as plain data (a report attribute, JSON): per method, and the time spent
    in the hub (a multiCall's inner calls are in its own time, counted once)."""
    outer = [c for c in calls if not c.nested]
    return {
        "calls": len(calls),
        "faults": sum(bool(c.fault) for c in calls),
        "seconds": sum(c.seconds for c in outer),
        "methods": {m: s.as_dict() for m, s in stats.by_method(calls).items()},
    }
