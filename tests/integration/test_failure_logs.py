"""What the services logged during a failing test is on its report (--boxkoji-logs), in nested
pytest runs against the real hub, kojid and kojira. Needs Koji."""

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.needs_koji]

TESTS = """
import koji, pytest

def test_passes(koji_admin):
    koji_admin.createTag("passing-tag")
    with pytest.raises(koji.GenericError):
        koji_admin.createTag("passing-tag")
    print("this passing test's report")  # -rP shows the report (and its sections)

def test_fails(koji_admin):
    koji_admin.createTag("failing-tag")
    koji_admin.createTag("failing-tag")  # refused: the hub logs the traceback
"""


def sections(result, test):
    """The text of `test`'s report in the output (failures, or -rP passes)."""
    out = result.stdout.str()
    body = out.split(f"___ {test} ___", 1)[1].split("\n___", 1)[0].split("\n=====", 1)[0]
    return body


def test_a_failing_test_shows_the_hubs_lines_of_that_test_only(pytester, koji_source_path, child_env, run):
    pytester.makepyfile(test_logs=TESTS)
    result = run(pytester, koji_source_path, "-rP")
    result.assert_outcomes(passed=1, failed=1)
    failing = sections(result, "test_fails")
    assert "- boxkoji log: hub (httpd-error.log) -" in failing
    assert "GenericError: A tag with the name 'failing-tag' already exists" in failing
    assert "passing-tag" not in failing  # the previous test's lines are not this one's
    assert "- boxkoji hub calls -" in failing
    passing = sections(result, "test_passes")
    assert "this passing test's report" in passing and "boxkoji log" not in passing  # on-failure only


def test_logs_all_and_no(pytester, koji_source_path, child_env, run):
    pytester.makepyfile(test_logs=TESTS)
    every = run(pytester, koji_source_path, "-rP", "--boxkoji-logs=all")
    every.assert_outcomes(passed=1, failed=1)
    passing = sections(every, "test_passes")
    assert "- boxkoji log: hub (httpd-error.log) -" in passing
    assert "A tag with the name 'passing-tag' already exists" in passing
    none = run(pytester, koji_source_path, "-rP", "--boxkoji-logs=no")
    none.assert_outcomes(passed=1, failed=1)
    assert "boxkoji log" not in none.stdout.str() and "boxkoji hub calls" not in none.stdout.str()


BUILDER_TESTS = """
import time
import koji

def test_a_task_then_a_failure(workers, koji_admin):
    task_id = koji_admin.makeTask("sleep", [0], arch="noarch")
    deadline = time.monotonic() + 60
    while koji_admin.getTaskInfo(task_id)["state"] != koji.TASK_STATES["CLOSED"]:
        assert time.monotonic() < deadline, "the sleep task did not close"
        time.sleep(0.2)
    print("TASK", task_id)
    assert False, "failing on purpose"
"""


def test_builders_and_kojira_logs_are_attached(pytester, koji_source_path, child_env, run):
    pytester.makepyfile(test_builders=BUILDER_TESTS)
    result = run(pytester, koji_source_path)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    task_id = out.split("TASK ", 1)[1].split()[0]
    kojid = out.split("- boxkoji log: kojid:worker1.koji.box (", 1)[1].split("\n---", 1)[0]
    assert task_id in kojid  # kojid logged the task it ran
    assert "- boxkoji log: kojira (" in out


WEB_TESTS = """
import requests

def test_through_the_proxy(proxy, boxkoji):
    ca = str(boxkoji.ca_file)
    assert requests.get(proxy.files_url + "/no-such-file", verify=ca).status_code == 404
    requests.get(proxy.web_url + "/taskinfo?taskID=999999", verify=ca)
    assert False, "failing on purpose"
"""


def test_kojiweb_and_nginx_logs_are_attached_as_any_service(pytester, koji_source_path, child_env, run):
    pytester.makepyfile(test_web=WEB_TESTS)
    result = run(pytester, koji_source_path)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    web = out.split("- boxkoji log: web (httpd-error.log) -", 1)[1].split("\n---", 1)[0]
    assert "GenericError: No such task ID: 999999" in web
    nginx = out.split("- boxkoji log: proxy (error.log) -", 1)[1].split("\n---", 1)[0]
    assert '"GET /kojifiles/no-such-file' in nginx
