"""--boxkoji-logs and --boxkoji-stats from each place, and their bad values."""

import pytest
from printer import config_printer

SHOW = """
from pytest_boxkoji.keys import CONFIG_KEY

def test_show(request):
    cfg = request.config.stash[CONFIG_KEY]
    print("CFG", cfg.logs, cfg.stats, cfg.stats_json)
"""


@pytest.fixture
def show(pytester, monkeypatch):
    return config_printer(pytester, monkeypatch, ("BOXKOJI_LOGS", "BOXKOJI_STATS"), SHOW)


def test_defaults_then_each_place(show, pytester, monkeypatch):
    assert show() == ["on-failure", "False", "None"]
    assert show("--boxkoji-logs=all", "--boxkoji-stats") == ["all", "True", "None"]
    assert show("--boxkoji-stats=out/stats.json") == [
        "on-failure",
        "True",
        str(pytester.path / "out/stats.json"),
    ]
    pytester.makeini("[pytest]\nboxkoji_logs = no\nboxkoji_stats = true\n")
    assert show() == ["no", "True", "None"]
    monkeypatch.setenv("BOXKOJI_STATS", "0")  # 0 is a value: it beats the ini's true
    monkeypatch.setenv("BOXKOJI_LOGS", "all")
    assert show() == ["all", "False", "None"]
    monkeypatch.setenv("BOXKOJI_STATS", "/tmp/s.json")
    assert show() == ["all", "True", "/tmp/s.json"]


def test_stats_swallowing_a_test_path_is_a_usage_error(pytester):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--boxkoji-stats", "tests/")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*--boxkoji-stats='tests/': expected a file name ending in .json (or 1/0, true/false). Write "
            "--boxkoji-stats=PATH.json, or put --boxkoji-stats after the test paths.*"
        ]
    )


def test_unknown_logs_mode_is_a_usage_error(pytester):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--boxkoji-logs=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--boxkoji-logs*'sometimes' is not one of on-failure, all, no*"])
