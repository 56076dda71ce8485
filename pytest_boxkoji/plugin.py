"""pytest-boxkoji's pytest wiring: options, the default fixtures and the safety net."""

from __future__ import annotations

import signal
from collections.abc import Generator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from pytest_boxkoji import factories, reporting, shared
from pytest_boxkoji.browser import artifacts_directory
from pytest_boxkoji.config import add_options, read_config
from pytest_boxkoji.coverage import session as hub_coverage
from pytest_boxkoji.keys import CONFIG_KEY, ENV_KEY, REPORT_KEY
from pytest_boxkoji.orch import ORCH
from pytest_boxkoji.scenario.validate import validate_markers
from pytest_boxkoji.services.broker import MESSAGES
from pytest_boxkoji.services.hub import HUB
from pytest_boxkoji.services.kdc import KDC
from pytest_boxkoji.services.postgres import POSTGRES
from pytest_boxkoji.services.proxy import PROXY
from pytest_boxkoji.services.web import WEB


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    cfg = read_config(config)
    config.stash[CONFIG_KEY] = cfg
    config.pluginmanager.register(reporting.Reporting(config), "boxkoji-reporting")
    shared.register(config)  # pytest-xdist's controller: the services its workers share
    if cfg.enabled and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        # CI systems stop jobs with SIGTERM, which would end Python without any teardown and
        # leave every service running: treat it as Ctrl-C, which pytest tears down after.
        signal.signal(signal.SIGTERM, _interrupt)
    config.addinivalue_line(
        "markers",
        "koji_scenario(*files): start the test from the hub state these scenario YAML files describe "
        "(a clean copy per test; later files extend earlier ones)",
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_collection_finish(session: pytest.Session) -> None:
    cfg = session.config.stash[CONFIG_KEY]
    if not cfg.validate_scenarios:
        return

    code, report = validate_markers(session.items, cfg.scenario_dirs)
    pytest.exit(report, returncode=code)


@pytest.hookimpl(trylast=True)  # after pytest's own teardown of the session fixtures
def pytest_sessionfinish(session: pytest.Session) -> None:
    # Safety net: fixture finalizers normally stop everything; this catches what they did not.
    env = session.config.stash.get(ENV_KEY, None)
    if env is not None:
        env.stop()
    hub_coverage.finish(session)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    hub_coverage.set_phase(item, "setup")
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    hub_coverage.set_phase(item, "run")
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    hub_coverage.set_phase(item, "teardown")
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    browser = getattr(item, "funcargs", {}).get("koji_browser")
    if report.when == "call" and report.failed and browser is not None:
        # Now, while the page is still open: the fixture's teardown closes it.

        try:
            kept = browser.save_artifacts(artifacts_directory(item))
            report.sections.append(("boxkoji browser", "\n".join(f"kept: {path}" for path in kept)))
        except Exception as exc:  # the page may be what broke
            report.sections.append(("boxkoji browser", f"could not keep the page: {exc}"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    hub_coverage.summary(terminalreporter)
    report = terminalreporter.config.stash.get(REPORT_KEY, None)
    if report:
        terminalreporter.write_sep("=", "boxkoji --boxkoji-keep")
        terminalreporter.write_line(report)


def pytest_report_header(config: pytest.Config) -> str | None:
    cfg = config.stash.get(CONFIG_KEY, None)
    if cfg is None or not cfg.enabled:
        return None
    where = Path(__file__).resolve().parent
    return (
        f"boxkoji: pytest-boxkoji {version('pytest-boxkoji')} from {where}, runtime={cfg.runtime}, "
        f"koji-source={cfg.koji_source}, cache={cfg.cache_dir}"
    )


boxkoji_environment = factories.environment()
kdc = factories.service("kdc", KDC)
orch = factories.service("orch", ORCH)
postgres = factories.service("postgres", POSTGRES)
# The hub's configuration: url, ca, topdir...
hub = factories.service("hub", HUB, lambda hub: hub.settings)
web = factories.service("web", WEB)  # kojiweb's configuration: url, ca, ...
# nginx in front of them all: url, hub_url, web_url, health_url...
proxy = factories.service("proxy", PROXY)
# The AMQP 1.0 broker protonmsg sends to (and protonmsg on in the hub): url, subscribe()
koji_broker = factories.service("koji_broker", MESSAGES)
_boxkoji_browsers = factories.browsers()
koji_browser = factories.browser()
boxkoji = factories.boxkoji()
koji_session_factory = factories.session_factory()
koji_session = factories.koji_session()
koji_admin = factories.koji_admin()
koji_cli = factories.cli()
koji_run = factories.run()
koji_hub_calls = factories.hub_calls()
_boxkoji_state = factories.scenario_state()
koji_scenario = factories.scenario()
workers = factories.workers()
koji_build_factory = factories.build_factory()
koji_srpm_factory = factories.srpm_factory()
koji_build = factories.build()
_boxkoji_git = factories.git_server()
koji_git_factory = factories.git_factory()
koji_cg_import = factories.cg_import()
koji_messages = factories.messages()
