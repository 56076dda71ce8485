"""Fixture factories: the plugin's default fixtures are built with these, and so can yours.

# conftest.py
from pytest_boxkoji import factories
koji_packager = factories.koji_session("packager", auth="ssl")
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import koji
import pytest

from pytest_boxkoji import attach, cg, progress, reporting, runas, shared
from pytest_boxkoji.accounts import ADMIN, ORDINARY_USER
from pytest_boxkoji.browser import KojiBrowser
from pytest_boxkoji.builds import srpm, submit
from pytest_boxkoji.builds.git import GitServer
from pytest_boxkoji.clients import Auth, Via
from pytest_boxkoji.config import BoxKojiConfig
from pytest_boxkoji.coverage import session as hub_coverage
from pytest_boxkoji.environment import Environment
from pytest_boxkoji.errors import BoxKojiError, KojiSourceUnavailable
from pytest_boxkoji.keys import CONFIG_KEY, ENV_KEY, REPORT_KEY
from pytest_boxkoji.partkey import Key
from pytest_boxkoji.runtimes.processes import SESSION_MARKER
from pytest_boxkoji.scenario.apply import import_build
from pytest_boxkoji.scenario.loader import ScenarioError
from pytest_boxkoji.scenario.schema import Build
from pytest_boxkoji.services.proxy import PROXY
from pytest_boxkoji.services.web import WEB

SessionFactory = Callable[..., koji.ClientSession]


def _enabled_config(request: pytest.FixtureRequest) -> BoxKojiConfig:
    cfg = request.config.stash[CONFIG_KEY]
    if not cfg.enabled:
        pytest.skip(
            "boxkoji fixtures (kdc, postgres, orch, hub, boxkoji, koji_*) need --boxkoji "
            "(or ini boxkoji = true, or BOXKOJI=1): nothing was started"
        )
    return cfg


def environment() -> Any:
    """The session's Environment object: created on first use; services start on demand."""

    @pytest.fixture(scope="session")
    def boxkoji_environment(request: pytest.FixtureRequest) -> Iterator[Environment]:
        cfg = _enabled_config(request)
        if cfg.reuse:
            try:
                env: Environment = attach.reuse(cfg)  # left running when the session ends
            except KojiSourceUnavailable as exc:
                without_koji(cfg, exc)
            except BoxKojiError as exc:
                pytest.fail(str(exc), pytrace=False)
        else:
            env = Environment(cfg)
            shared.join(env, request.config)  # a pytest-xdist worker: the run's KDC, orch, PostgreSQL
        request.config.stash[ENV_KEY] = env
        hub_coverage.configure(request.config)
        writer = progress.pytest_writer(request.config)
        try:
            with progress.use(writer) if writer else contextlib.nullcontext():
                yield env
        finally:
            env.stop()  # with --boxkoji-keep: after our own connections closed, what stays running
            if cfg.keep:
                request.config.stash[REPORT_KEY] = env.kept
            del request.config.stash[ENV_KEY]

    return boxkoji_environment


def without_koji(config: BoxKojiConfig, exc: KojiSourceUnavailable) -> None:
    """Skip the test that needs Koji's code, or fail it under --boxkoji-require-koji."""
    reason = f"no Koji source tree is configured and the default could not be obtained: {exc}"
    if config.require_koji:
        pytest.fail(f"{reason}\n(--boxkoji-require-koji makes this a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def _skip_without_source(env: Environment) -> Iterator[None]:
    try:
        yield
    except KojiSourceUnavailable as exc:
        without_koji(env.config, exc)


def service(name: str, key: Key[Any], view: Callable[[Any], Any] | None = None) -> Any:
    """A session fixture `name` that starts one part of the graph (and what it needs) and
    returns its handle, or what `view` makes of it."""

    @pytest.fixture(scope="session")
    def _service(boxkoji_environment: Environment) -> Any:
        with _skip_without_source(boxkoji_environment):
            handle = boxkoji_environment.graph.get(key)
        return view(handle) if view else handle

    _service.__name__ = name
    return _service


def boxkoji() -> Any:
    """The whole environment, started: hub_url, urls, realm, ca_file, topdir, env, koji_config."""

    @pytest.fixture(scope="session")
    def _boxkoji(boxkoji_environment: Environment) -> Environment:
        with _skip_without_source(boxkoji_environment):
            return boxkoji_environment.start()

    return _boxkoji


def session_factory() -> Any:
    """`factory(user, auth=...)` -> a logged-in koji.ClientSession; logged out at session end."""

    @pytest.fixture(scope="session")
    def koji_session_factory(boxkoji: Environment) -> Iterator[SessionFactory]:
        made: list[koji.ClientSession] = []

        def factory(user: str = ORDINARY_USER, auth: Auth = "gssapi", via: Via = "hub") -> koji.ClientSession:
            session = boxkoji.session(user, auth, via)
            made.append(session)
            return session

        yield factory
        for session in made:
            with contextlib.suppress(Exception):
                session.logout()

    return koji_session_factory


def koji_session(user: str = ORDINARY_USER, auth: Auth = "gssapi", scope: str = "function") -> Any:
    """A fixture logged in as `user` through `auth`, logged out after each test."""

    @pytest.fixture(scope=scope)  # type: ignore[call-overload, untyped-decorator]
    def _session(boxkoji: Environment) -> Iterator[koji.ClientSession]:
        session = boxkoji.session(user, auth)
        yield session
        with contextlib.suppress(Exception):
            session.logout()

    return _session


def koji_admin() -> Any:
    return koji_session(ADMIN)


# Tests that use any of these get the hub restored to their scenario (or the empty hub) first.
HUB_FIXTURES = frozenset(
    {
        "hub",
        "boxkoji",
        "koji_session",
        "koji_admin",
        "koji_cli",
        "koji_session_factory",
        "koji_scenario",
        "workers",
        "koji_build_factory",
        "koji_cg_import",
        "web",
        "proxy",
        "koji_browser",
        "koji_broker",
        "koji_messages",
    }
)


def scenario_state() -> Any:
    """Autouse: before each test that touches the hub, restore its scenario's snapshot."""

    @pytest.fixture(autouse=True)
    def _boxkoji_state(request: pytest.FixtureRequest) -> Any:
        marker = request.node.get_closest_marker("koji_scenario")
        if marker is None and not HUB_FIXTURES & set(request.fixturenames):
            return None
        env: Environment = request.getfixturevalue("boxkoji")
        files = tuple(str(f) for f in marker.args) if marker else ()
        if marker and not files:
            pytest.fail(
                "@pytest.mark.koji_scenario needs at least one file name, e.g. "
                '@pytest.mark.koji_scenario("base.yaml")',
                pytrace=False,
            )
        try:
            return env.scenarios.prepare(files, request.path.parent, env.config.scenario_dirs)
        except ScenarioError as exc:
            problems = str(exc)  # failed outside the except: the message alone, no chained traceback
        pytest.fail(
            f"scenario {', '.join(files)} was not applied (nothing changed):\n{problems}", pytrace=False
        )

    return _boxkoji_state


def scenario() -> Any:
    """What the test's scenario applied: ids, objects, and sessions for its users."""

    @pytest.fixture
    def koji_scenario(_boxkoji_state: Any) -> Any:
        return _boxkoji_state

    return koji_scenario


def workers() -> Any:
    """kojid builders (--boxkoji-workers, default 1) and kojira, registered on the hub and ready."""

    @pytest.fixture(scope="session")
    def _workers(boxkoji: Environment) -> Any:
        with _skip_without_source(boxkoji):
            crew = boxkoji.workers
            crew.start(boxkoji.config.workers)
            return crew

    return _workers


def build_factory() -> Any:
    """`make("hello", "1.0", "1", arches=("noarch", "x86_64"), requires=("bash",), tag="dist")`:
    real RPMs made with rpmbuild, imported as the admin, optionally tagged; returns the build."""

    @pytest.fixture
    def koji_build_factory(boxkoji: Environment) -> Callable[..., dict[str, Any]]:

        def make(
            name: str,
            version: str = "1.0",
            release: str = "1",
            arches: tuple[str, ...] = ("noarch",),
            requires: tuple[str, ...] = (),
            tag: str | None = None,
            owner: str = ADMIN,
        ) -> dict[str, Any]:
            build = Build(
                type="build", name=f"{name}-{version}-{release}", arches=list(arches), requires=list(requires)
            )
            admin = boxkoji.admin_session()
            import_build(admin, build, boxkoji.config.cache_dir)
            if tag is not None:
                if not admin.listPackages(tagID=tag, pkgID=name, inherited=True):
                    admin.packageListAdd(tag, name, owner=owner)
                admin.tagBuildBypass(tag, build.name, force=True)
            info: dict[str, Any] = admin.getBuild(build.name, strict=True)
            return info

        return make

    return koji_build_factory


def srpm_factory() -> Any:
    """`make("hello")`: a source RPM made with rpmbuild: a noarch package, a C program
    (`noarch=False`: built by gcc on an arch builder), one whose %build fails (`fail="why"`), or
    the `spec` (and `sources`) a test wrote. Returns its path. Needs no Koji."""

    @pytest.fixture
    def koji_srpm_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
        def make(name: str, *args: Any, **kwargs: Any) -> Path:
            """The arguments of builds.srpm.package: version, release, noarch, spec, sources,
            requires, build_requires, fail."""
            spec, files = srpm.package(name, *args, **kwargs)
            return srpm.make_srpm(tmp_path_factory.mktemp(f"srpm-{name}"), spec, files)

        return make

    return koji_srpm_factory


def git_server() -> Any:
    """One `git daemon` for the session, at an address the builders reach (builds/git.py)."""

    @pytest.fixture(scope="session")
    def _boxkoji_git(boxkoji: Environment) -> Iterator[GitServer]:
        marker = {SESSION_MARKER: boxkoji.graph.workspace.marker}  # swept with the session's processes
        server = GitServer(boxkoji.directory / "git", boxkoji.graph.runtime.on_this_host(), marker)
        yield server
        server.stop()

    return _boxkoji_git


def git_factory() -> Any:
    """`make("hello")`: a git repository holding a spec (as koji_srpm_factory writes it, or the
    `spec` given) and its sources, served to the builders; returns the URL to build from,
    pinned to its commit (`koji_build(url)`, `koji build box URL`, `koji chain-build`). Called
    again with the same name, a new commit of the same repository."""

    @pytest.fixture
    def koji_git_factory(_boxkoji_git: GitServer) -> Callable[..., str]:
        def make(name: str, *args: Any, **kwargs: Any) -> str:
            """The arguments of builds.srpm.package, as koji_srpm_factory takes them."""
            spec, files = srpm.package(name, *args, **kwargs)
            return _boxkoji_git.repository(name, {**files, f"{name}.spec": spec}, f"{name}: a new commit")

        return make

    return koji_git_factory


def build(default_target: str = "box") -> Any:
    """`koji_build(srpm_or_scm_url, target="box", scratch=False)`: submitted as `user` (the admin
    by default) the way `koji build` submits it, waited for; returns a `BuildResult` (state,
    result, build, RPMs with their URLs, every task's logs). A build that FAILED is returned, not
    raised, and its build.log and root.log go into the test's report. For a build that is not
    scratch, the package is added to the target's destination tag first (as a packager would)."""

    @pytest.fixture
    def koji_build(request: pytest.FixtureRequest, boxkoji: Environment, workers: Any) -> Callable[..., Any]:
        def run(
            source: str | Path,
            target: str = default_target,
            scratch: bool = False,
            user: str = ADMIN,
            timeout: float = 900,
            arch_override: str | None = None,
        ) -> submit.BuildResult:
            session = boxkoji.admin_session() if user == ADMIN else boxkoji.session(user)
            if not scratch:
                _list_package(boxkoji.admin_session(), source, target)
            task_id = submit.submit(session, source, target, scratch, arch_override)
            submit.wait(session, task_id, timeout)
            assert boxkoji.hub is not None
            result = submit.outcome(session, task_id, boxkoji.hub.files_url)
            if not result.ok:
                for key, text in sorted(result.logs.items()):
                    if key.endswith(("/build.log", "/root.log", "/mock_output.log")):
                        request.node.add_report_section("call", f"koji task {key}", text[-20000:])
            return result

        return run

    return koji_build


def _list_package(admin: koji.ClientSession, source: str | Path, target: str) -> None:
    """The package in the destination tag's list (Koji refuses a build of an unlisted one)."""
    info = admin.getBuildTarget(target)
    if info is None:
        raise BoxKojiError(
            f"koji_build(target={target!r}): no such build target. The shipped scenario "
            '`builds.yaml` makes the target `box` (@pytest.mark.boxkoji_scenario("builds.yaml")).'
        )
    if not submit.is_scm_url(source):
        name = koji.get_header_fields(str(source), ["name"])["name"]
    else:  # an SCM URL: the repository's name, as it usually is the package's
        name = str(source).split("#")[0].rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    known = admin.getPackage(name) is not None  # listPackages fails on a package never seen
    if not known or not admin.listPackages(tagID=info["dest_tag"], pkgID=name, inherited=True):
        admin.packageListAdd(info["dest_tag"], name, owner=ADMIN)


def cg_import() -> Any:
    """`koji_cg_import(name, version, release, outputs, btype=...)`: content generator metadata for
    real files, uploaded and imported with CGImport as the scenario's content generator user;
    returns the build (cg.py). Koji's own error comes through when it refuses the import."""

    @pytest.fixture
    def koji_cg_import(koji_scenario: Any) -> Iterator[Callable[..., dict[str, Any]]]:

        sessions: dict[str, koji.ClientSession] = {}

        def run(
            name: str,
            version: str = "1.0",
            release: str = "1",
            outputs: tuple[Any, ...] | list[Any] = (),
            btype: str | None = None,
            content_generator: str | None = None,
            user: str | None = None,
            owner: str | None = None,
            edit: Callable[[dict[str, Any]], None] | None = None,
        ) -> dict[str, Any]:
            generator, login = cg.importer(koji_scenario.scenario, content_generator, user)
            if login not in sessions:
                sessions[login] = koji_scenario.session(login)
            return cg.cg_import(
                sessions[login], name, version, release, outputs, generator, btype, owner, edit
            )

        yield run
        for session in sessions.values():
            with contextlib.suppress(Exception):
                session.logout()

    return koji_cg_import


def run() -> Any:
    """`koji_run(["koji-habitude", "apply", "."], user="kojiadmin")` runs any program as a Koji
    user (runas.py): the profile and a ticket of that user; returns the CompletedProcess."""

    @pytest.fixture(scope="session")
    def koji_run(boxkoji: Environment) -> Callable[..., Any]:

        def run_as(args: Any, user: str = ORDINARY_USER, auth: Auth = "gssapi", **options: Any) -> Any:
            return runas.run(boxkoji, args, user, auth, **options)

        return run_as

    return koji_run


def hub_calls() -> Any:
    """`koji_hub_calls["createTag"].count`: the hub calls the test has made (hubcalls/)."""

    @pytest.fixture
    def koji_hub_calls(request: pytest.FixtureRequest, boxkoji: Environment) -> Any:

        return reporting.hub_calls(request.node, boxkoji)

    return koji_hub_calls


def browsers() -> Any:
    """The session's Chromium processes, one per way to kojiweb (straight or through the proxy)."""

    @pytest.fixture(scope="session")
    def _boxkoji_browsers(boxkoji: Environment) -> Iterator[dict[str, Any]]:
        launched: dict[str, Any] = {}
        yield launched
        for each in launched.values():
            each.close()

    return _boxkoji_browsers


def browser(via: Via = "hub") -> Any:
    """`koji_browser`: headless Chromium on kojiweb (straight, or via="proxy" through nginx), a
    fresh context per test; `.open(page)`, `.login(user, auth)`, `.page` (Playwright's Page).
    A failing test keeps a screenshot and the page's HTML (named in its report)."""

    @pytest.fixture
    def koji_browser(boxkoji: Environment, _boxkoji_browsers: dict[str, Any]) -> Iterator[Any]:

        if via not in _boxkoji_browsers:
            with _skip_without_source(boxkoji):
                web = boxkoji.graph.get(PROXY).web_url if via == "proxy" else boxkoji.graph.get(WEB).url
            _boxkoji_browsers[via] = KojiBrowser.launch(boxkoji, web)
        launched = _boxkoji_browsers[via]
        launched.new_context()
        yield launched
        launched.close_context()

    return koji_browser


def cli() -> Any:
    """`koji_cli("list-tags", user=..., auth=...)` runs the real koji command line."""

    @pytest.fixture(scope="session")
    def koji_cli(boxkoji: Environment) -> Callable[..., Any]:
        def run(
            *args: str,
            user: str = ORDINARY_USER,
            auth: Auth = "gssapi",
            timeout: float = 120,
            via: Via = "hub",
        ) -> Any:
            return boxkoji.cli(args, user=user, auth=auth, timeout=timeout, via=via)

        return run

    return koji_cli


def messages() -> Any:
    """`koji_messages`: what the hub sent during the test, read from the broker (koji.#), with
    `.wait("build.tag", timeout=10)` and `.messages`. The hub's protonmsg plugin sends to the
    session's broker from the first use on (the `koji_broker` fixture starts both)."""

    @pytest.fixture
    def koji_messages(koji_broker: Any, _boxkoji_state: Any) -> Iterator[Any]:
        # After the test's state is restored (and its scenario applied): only the test's own.
        subscription = koji_broker.subscribe()
        yield subscription
        subscription.close()

    return koji_messages
