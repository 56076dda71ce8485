"""--cov-hub end to end: nested pytest runs against the real hub, reports read back (needs Koji)."""

import ast
import json

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.needs_koji]

TESTS = """
def test_creates_a_tag(koji_admin):
    koji_admin.createTag("covered-tag")

def test_reads_a_tag(koji_session):
    assert koji_session.getTag("no-such-tag") is None
"""


def function_lines(path, name):
    tree = ast.parse(open(path).read())
    (node,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]  # module level
    return set(range(node.body[0].lineno, node.end_lineno + 1))


def hub_file(report, source):
    return report["files"][str(source / "kojihub" / "kojihub.py")]


def test_create_tag_is_covered_and_unreached_code_is_missed(pytester, koji_source_path, child_env, run):
    pytester.makepyfile(test_hub=TESTS)
    result = run(
        pytester, koji_source_path, "--cov-hub", "--cov-hub-report=json:hub.json", "--cov-hub-report=term"
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*Koji coverage (--cov-hub, --cov-web, --cov-workers)*",
            "Koji source: *",
            "kojihub/kojihub.py *",
            "TOTAL *",
        ]
    )
    data = hub_file(json.loads((pytester.path / "hub.json").read_text()), koji_source_path)
    kojihub = koji_source_path / "kojihub" / "kojihub.py"
    executed, missing = set(data["executed_lines"]), set(data["missing_lines"])
    assert function_lines(kojihub, "_create_tag") & executed
    assert not function_lines(kojihub, "edit_external_repo") & executed
    assert function_lines(kojihub, "edit_external_repo") & missing
    contexts = {
        ctx for line in function_lines(kojihub, "_create_tag") for ctx in data["contexts"].get(str(line), [])
    }
    assert contexts == {"test_hub.py::test_creates_a_tag|run"}
    reads = {
        ctx for line in function_lines(kojihub, "get_tag") for ctx in data["contexts"].get(str(line), [])
    }
    assert "test_hub.py::test_reads_a_tag|run" in reads
    assert (pytester.path / ".coverage-hub").exists()
    assert "executed_branches" not in data  # lines only, unless asked


def test_branches_when_asked(pytester, koji_source_path, child_env, run):
    pytester.makepyfile(test_hub=TESTS)
    result = run(
        pytester, koji_source_path, "--cov-hub", "--cov-hub-branch", "--cov-hub-report=json:hub.json"
    )
    result.assert_outcomes(passed=2)
    report = json.loads((pytester.path / "hub.json").read_text())
    assert report["meta"]["branch_coverage"] is True
    kojihub = koji_source_path / "kojihub" / "kojihub.py"
    create_tag = function_lines(kojihub, "_create_tag")
    assert {start for start, _ in hub_file(report, koji_source_path)["executed_branches"]} & create_tag


def test_report_survives_a_failing_test_and_fail_under_fails_the_run(
    pytester, koji_source_path, child_env, run
):
    pytester.makepyfile(
        test_hub=TESTS + "\ndef test_fails(koji_admin):\n    koji_admin.createTag('x')\n    assert False\n"
    )
    result = run(pytester, koji_source_path, "--cov-hub", "--cov-hub-report=term", "--cov-hub-fail-under=99")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["TOTAL *", "FAIL Required Koji coverage of 99.0% not reached. Total: *"])
    pytester.makepyfile(test_hub=TESTS)
    passing = run(pytester, koji_source_path, "--cov-hub", "--cov-hub-fail-under=99")
    passing.assert_outcomes(passed=2)
    assert passing.ret == 1  # every test passed, but hub coverage is under 99%
    assert run(pytester, koji_source_path, "--cov-hub", "--cov-hub-fail-under=1").ret == 0


def test_xdist_workers_are_combined(pytester, koji_source_path, child_env, run):
    pytester.makepyfile(test_hub=TESTS)
    result = run(pytester, koji_source_path, "-n", "2", "--cov-hub", "--cov-hub-report=json:hub.json")
    result.assert_outcomes(passed=2)
    data = hub_file(json.loads((pytester.path / "hub.json").read_text()), koji_source_path)
    contexts = {ctx for ctxs in data["contexts"].values() for ctx in ctxs}
    assert {"test_hub.py::test_creates_a_tag|run", "test_hub.py::test_reads_a_tag|run"} <= contexts
    assert not list(pytester.path.glob(".coverage-hub.xdist-*"))  # combined into .coverage-hub
    assert (pytester.path / ".coverage-hub").exists()


def test_pytest_cov_measures_the_test_process_undisturbed(pytester, koji_source_path, child_env, run):
    pytester.makepyfile(mytool="def work(session):\n    return session.getTag('none')\n")
    pytester.makepyfile(
        test_tool="import mytool\ndef test_it(koji_session):\n    assert mytool.work(koji_session) is None\n"
    )
    result = run(
        pytester, koji_source_path, "--cov=mytool", "--cov-report=term", "--cov-hub", "--cov-hub-report=term"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*mytool.py * 100%*",
            "*Koji coverage (--cov-hub, --cov-web, --cov-workers)*",
            "kojihub/kojihub.py *",
        ]
    )


WEB_TESTS = """
import requests

def test_tag_page(web, koji_admin):
    tag = koji_admin.createTag("web-covered")
    response = requests.get(f"{web.url}/taginfo?tagID={tag}", verify=str(web.ca))
    assert response.status_code == 200 and "web-covered" in response.text
"""


def test_cov_web_reports_kojiweb_lines_with_test_contexts(pytester, koji_source_path, child_env, run):
    pytester.makepyfile(test_web=WEB_TESTS)
    result = run(pytester, koji_source_path, "--cov-web", "--cov-hub-report=json:web.json")
    result.assert_outcomes(passed=1)
    files = json.loads((pytester.path / "web.json").read_text())["files"]
    index = files[str(koji_source_path / "www" / "kojiweb" / "index.py")]
    taginfo = function_lines(koji_source_path / "www" / "kojiweb" / "index.py", "taginfo")
    assert taginfo & set(index["executed_lines"])
    run_contexts = {ctx for line in taginfo for ctx in index["contexts"].get(str(line), [])}
    assert "test_web.py::test_tag_page|run" in run_contexts
    assert not any(name.startswith(str(koji_source_path / "kojihub")) for name in files)  # only the web


def test_cov_koji_measures_the_hub_and_the_web(pytester, koji_source_path, child_env, run):
    pytester.makepyfile(test_web=WEB_TESTS)
    result = run(pytester, koji_source_path, "--cov-koji", "--cov-hub-report=json:koji.json")
    result.assert_outcomes(passed=1)
    files = json.loads((pytester.path / "koji.json").read_text())["files"]
    assert str(koji_source_path / "www" / "kojiweb" / "index.py") in files
    assert hub_file({"files": files}, koji_source_path)["summary"]["covered_lines"] > 0


WORKER_TESTS = """
def test_a_repo(workers, koji_admin, koji_cli):
    koji_admin.createTag("cov-build", arches="x86_64")
    koji_admin.createBuildTarget("cov", "cov-build", "cov-build")
    task = koji_admin.newRepo("cov-build")
    done = koji_cli("watch-task", str(task), user="kojiadmin")  # until kojid's newRepo task is done
    assert done.returncode == 0, done.stdout + done.stderr
"""


def method_lines(path, cls, name):
    tree = ast.parse(open(path).read())
    (klass,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls]
    (node,) = [n for n in klass.body if isinstance(n, ast.FunctionDef) and n.name == name]
    return set(range(node.body[0].lineno, node.end_lineno + 1))


def test_cov_workers_reports_kojid_and_kojira_lines(pytester, koji_source_path, child_env, run):
    pytester.makepyfile(test_repo=WORKER_TESTS)
    result = run(
        pytester,
        koji_source_path,
        "--cov-workers",
        "--cov-hub-report=json:workers.json",
        "--cov-hub-report=term",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*Koji coverage (--cov-hub, --cov-web, --cov-workers)*", "builder/kojid *"])
    files = json.loads((pytester.path / "workers.json").read_text())["files"]
    kojid_path = koji_source_path / "builder" / "kojid"
    kojid = files[str(kojid_path)]
    executed = set(kojid["executed_lines"])
    assert function_lines(kojid_path, "main") & executed  # the daemon's own loop
    # The tasks run in children kojid forks and ends with os._exit: measured too.
    assert method_lines(kojid_path, "NewRepoTask", "handler") & executed
    assert method_lines(kojid_path, "CreaterepoTask", "handler") & executed
    assert not method_lines(kojid_path, "BuildTask", "handler") & executed
    kojira_path = koji_source_path / "util" / "kojira"
    assert method_lines(kojira_path, "RepoManager", "updateRepos") & set(
        files[str(kojira_path)]["executed_lines"]
    )
    assert {ctx for ctxs in kojid["contexts"].values() for ctx in ctxs} == {"kojid"}
    assert not any(name.startswith(str(koji_source_path / "kojihub")) for name in files)  # only the workers
