"""The plugin's options through pytester: CLI, ini and BOXKOJI_* variables, and the skip without --boxkoji."""

import pytest
from printer import config_printer

SHOW_CONFIG = """
from pytest_boxkoji.keys import CONFIG_KEY

def test_show(request):
    cfg = request.config.stash[CONFIG_KEY]
    print("CFG", cfg.enabled, cfg.runtime, cfg.koji_source, cfg.koji_source_explicit, cfg.keep, cfg.cache_dir)
"""


@pytest.fixture
def show(pytester, monkeypatch):
    return config_printer(
        pytester,
        monkeypatch,
        ("BOXKOJI", "BOXKOJI_RUNTIME", "BOXKOJI_KOJI_SOURCE", "BOXKOJI_KEEP", "BOXKOJI_CACHE_DIR"),
        SHOW_CONFIG,
    )


def test_defaults(show):
    enabled, runtime, source, explicit, keep, _cache = show()
    assert (enabled, runtime, source, explicit, keep) == ("False", "auto", "1.35.3", "False", "False")


def test_cli_beats_env_beats_ini(show, pytester, monkeypatch):
    pytester.makeini("[pytest]\nboxkoji_koji_source = /from/ini\nboxkoji_runtime = processes\n")
    assert show()[2:4] == ["/from/ini", "True"]
    monkeypatch.setenv("BOXKOJI_KOJI_SOURCE", "/from/env")
    assert show()[2] == "/from/env"
    assert show("--boxkoji-koji-source=/from/cli")[2] == "/from/cli"
    assert show()[1] == "processes"


def test_booleans_from_each_place(show, pytester, monkeypatch):
    assert show("--boxkoji", "--boxkoji-keep")[0::4] == ["True", "True"]
    pytester.makeini("[pytest]\nboxkoji = true\nboxkoji_keep = false\n")
    assert show()[0::4] == ["True", "False"]
    monkeypatch.setenv("BOXKOJI", "0")  # 0 is a value, not "unset": it beats the ini's true
    monkeypatch.setenv("BOXKOJI_KEEP", "yes")
    assert show()[0::4] == ["False", "True"]


def test_cache_dir_option(show, tmp_path):
    assert show(f"--boxkoji-cache-dir={tmp_path}")[5] == str(tmp_path)


def test_bad_boolean_env_is_a_usage_error(pytester, monkeypatch):
    monkeypatch.setenv("BOXKOJI", "maybe")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*BOXKOJI='maybe' is not a boolean*"])


def test_unknown_runtime_is_a_usage_error(pytester):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--boxkoji-runtime=vm")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--boxkoji-runtime*'vm' is not one of auto, processes, containers*"])


@pytest.mark.parametrize(
    "fixture", ["kdc", "orch", "postgres", "hub", "boxkoji", "koji_session", "koji_admin", "koji_cli"]
)
def test_fixtures_skip_without_boxkoji(pytester, monkeypatch, fixture):
    monkeypatch.delenv("BOXKOJI", raising=False)
    pytester.makepyfile(f"def test_uses({fixture}): raise AssertionError('must not run')")
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*need --boxkoji*nothing was started*"])


def test_help_lists_every_option(pytester):
    result = pytester.runpytest("--help")
    for flag in (
        "--boxkoji ",
        "--boxkoji-runtime",
        "--boxkoji-koji-source",
        "--boxkoji-keep",
        "--boxkoji-cache-dir",
        "--boxkoji-service-user",
        "--boxkoji-services-python",
    ):
        result.stdout.fnmatch_lines([f"*{flag}*"])
    result.stdout.fnmatch_lines(["*boxkoji_koji_source*"])  # the ini key


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--cov-hub-report=pdf"],
            "*--cov-hub-report=pdf: unknown report; use one of term, term-missing, html, xml, json*",
        ),
        (["--cov-hub-report=term:out.txt"], "*--cov-hub-report=term:out.txt: term takes no path*"),
        (["--cov-hub-fail-under=most"], "*--cov-hub-fail-under='most': not a number*"),
    ],
)
def test_bad_coverage_options_are_usage_errors(pytester, args, message):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_coverage_options_from_env_and_ini(pytester, monkeypatch):
    pytester.makeini("[pytest]\ncov_hub_report = term-missing json:out.json\n")
    pytester.makepyfile(
        """
        from pytest_boxkoji.keys import CONFIG_KEY
        def test_show(request):
            cfg = request.config.stash[CONFIG_KEY]
            print("COV", cfg.cov_hub, list(cfg.cov_hub_reports), cfg.cov_hub_fail_under)
        """
    )
    monkeypatch.setenv("BOXKOJI_COV_KOJI", "1")
    monkeypatch.setenv("BOXKOJI_COV_HUB_FAIL_UNDER", "12.5")
    result = pytester.runpytest("-s")
    result.stdout.fnmatch_lines(["*COV True [[]'term-missing', 'json:out.json'[]] 12.5*"])
    monkeypatch.setenv("BOXKOJI_COV_HUB_REPORT", "xml:a.xml,term")
    result = pytester.runpytest("-s")
    result.stdout.fnmatch_lines(["*COV True [[]'xml:a.xml', 'term'[]] 12.5*"])


def test_workers_option(pytester, monkeypatch):
    pytester.makepyfile(
        """
        from pytest_boxkoji.keys import CONFIG_KEY
        def test_show(request):
            print("WORKERS", request.config.stash[CONFIG_KEY].workers)
        """
    )
    pytester.runpytest("-s").stdout.fnmatch_lines(["*WORKERS 1*"])
    pytester.runpytest("-s", "--boxkoji-workers=3").stdout.fnmatch_lines(["*WORKERS 3*"])
    monkeypatch.setenv("BOXKOJI_WORKERS", "0")
    pytester.runpytest("-s").stdout.fnmatch_lines(["*WORKERS 0*"])
    result = pytester.runpytest("--boxkoji-workers=many")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--boxkoji-workers='many': the number of builders must be a whole number >= 0*"]
    )


def test_container_options(pytester, monkeypatch):
    pytester.makepyfile(
        """
        from pytest_boxkoji.keys import CONFIG_KEY
        def test_show(request):
            cfg = request.config.stash[CONFIG_KEY]
            print("CONTAINERS", cfg.runtime, cfg.container_memory, cfg.base_image)
        """
    )
    pytester.runpytest("-s").stdout.fnmatch_lines(["*CONTAINERS auto None None*"])
    monkeypatch.setenv("BOXKOJI_BASE_IMAGE", "localhost/my-debian:12")
    result = pytester.runpytest("-s", "--boxkoji-runtime=containers", "--boxkoji-container-memory=512m")
    result.stdout.fnmatch_lines(["*CONTAINERS containers 512m localhost/my-debian:12*"])


def test_require_koji_turns_the_skip_into_a_failure(pytester, monkeypatch, tmp_path):
    from pytest_boxkoji import kojisrc

    for name in ("BOXKOJI_KOJI_SOURCE", "BOXKOJI_REQUIRE_KOJI", "BOXKOJI_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    # The default release, from a place that cannot answer: as on a machine offline.
    monkeypatch.setattr(kojisrc, "RELEASE_URL", "http://127.0.0.1:9/koji-{version}.tar.bz2")
    pytester.makepyfile("def test_needs_the_hub(hub): raise AssertionError('must not run')")
    args = ("-p", "no:cacheprovider", "--boxkoji", f"--boxkoji-cache-dir={tmp_path}", "-rs")
    result = pytester.runpytest(*args)
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no Koji source tree is configured and the default could not be obtained*"])
    monkeypatch.setenv("BOXKOJI_REQUIRE_KOJI", "1")
    result = pytester.runpytest(*args)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*--boxkoji-require-koji makes this a failure, not a skip*"])
