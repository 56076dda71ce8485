"""Hub call statistics from the real hub: the `koji_hub_calls` fixture, and --boxkoji-stats in
nested pytest runs (table and JSON, with pytest-xdist too). Needs Koji."""

import json

import koji
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.needs_koji]


def test_known_calls_are_counted_with_their_faults(koji_admin, koji_session, koji_cli, koji_hub_calls):
    koji_admin.createTag("counted-tag")
    with pytest.raises(koji.GenericError):
        koji_admin.createTag("counted-tag")  # exists
    with pytest.raises(koji.ActionNotAllowed):
        koji_session.createTag("refused-tag")  # kojiuser is not an admin
    with koji_admin.multicall() as m:
        m.getTag("counted-tag")
        m.getTag("no-such-tag", strict=True)
    created = koji_cli("add-tag", "cli-tag", user="kojiadmin")  # another process: the hub counts it
    assert created.returncode == 0, created.stderr

    tags = koji_hub_calls["createTag"]  # nobody else creates tags
    assert (tags.count, tags.faults) == (4, 2)
    assert 0 < tags.max <= tags.total
    assert [c.fault for c in koji_hub_calls.calls() if c.method == "createTag"] == [
        "",
        "GenericError",
        "ActionNotAllowed",
        "",
    ]
    # Builders and kojira may call the hub meanwhile (other modules start them): ask for ours.
    admin = koji_hub_calls.methods(user="kojiadmin")
    assert (admin["getTag"].count, admin["getTag"].faults) == (2, 1)
    assert (admin["multiCall"].count, admin["multiCall"].faults) == (1, 0)
    assert {c.nested for c in koji_hub_calls.calls("kojiadmin") if c.method == "getTag"} == {True}
    (refused,) = koji_hub_calls.calls(user="kojiuser")
    assert (refused.method, refused.fault) == ("createTag", "ActionNotAllowed")
    assert "getUser" not in admin  # the fixtures' setup (users looked up) is not the test's

    koji_hub_calls.reset()
    assert koji_hub_calls.calls("kojiuser") == []
    koji_session.getLoggedInUser()
    assert list(koji_hub_calls.methods(user="kojiuser")) == ["getLoggedInUser"]


STATS_TESTS = """
import koji, pytest

def test_two_tags(koji_admin):
    koji_admin.createTag("one")
    koji_admin.createTag("two")

def test_a_refusal(koji_session):
    with pytest.raises(koji.ActionNotAllowed):
        koji_session.createTag("three")
    koji_session.getTag("three")
"""


def test_stats_table_and_json(pytester, koji_source_path, child_env, run):
    pytester.makepyfile(test_stats=STATS_TESTS)
    result = run(pytester, koji_source_path, "--boxkoji-stats=out/stats.json")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*- Koji hub calls (--boxkoji-stats) -*",
            "test_stats.py::test_two_tags: * calls, 0 faults, * ms in the hub",
            "  method * calls  faults    total ms     max ms",
            "  createTag * 2       0 *",
            "test_stats.py::test_a_refusal: * calls, 1 faults, * ms in the hub",
            "  createTag * 1       1 *",
            "  getTag * 1       0 *",
            "all 2 tests:",
            "  createTag * 3       1 *",
            f"written to {pytester.path / 'out' / 'stats.json'}",
        ]
    )
    data = json.loads((pytester.path / "out" / "stats.json").read_text())
    two, refusal = (
        data["tests"]["test_stats.py::test_two_tags"],
        data["tests"]["test_stats.py::test_a_refusal"],
    )
    assert two["methods"]["createTag"]["count"] == 2 and two["faults"] == 0
    assert refusal["methods"]["createTag"] == {**refusal["methods"]["createTag"], "count": 1, "faults": 1}
    assert data["methods"]["createTag"]["count"] == 3 and data["methods"]["createTag"]["faults"] == 1
    assert all(t["seconds"] > 0 for t in data["tests"].values())


def test_stats_from_xdist_workers_reach_the_controller(pytester, koji_source_path, child_env, run):
    pytester.makepyfile(test_stats=STATS_TESTS)
    result = run(pytester, koji_source_path, "-n", "2", "--boxkoji-stats=stats.json")
    result.assert_outcomes(passed=2)
    data = json.loads((pytester.path / "stats.json").read_text())
    assert set(data["tests"]) == {"test_stats.py::test_two_tags", "test_stats.py::test_a_refusal"}
    assert data["methods"]["createTag"]["count"] == 3
