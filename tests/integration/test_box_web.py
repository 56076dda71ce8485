"""`boxkoji up --web` end to end: kojiweb and the proxy start with the environment, and every verb
(status, logs, restart, down) and --boxkoji-reuse (web, proxy, koji_browser) works on them, on the
runtime this run uses (run the file once per runtime)."""

from __future__ import annotations

import re
import secrets
import subprocess
from pathlib import Path

import pytest
import requests
from nested import nested_pytest
from test_box_cli import Box, Follower, leftovers, new_box

from pytest_boxkoji import box

pytestmark = [pytest.mark.integration, pytest.mark.needs_koji, pytest.mark.browser]
WEB_SERVICES = ("web", "health", "proxy")


@pytest.fixture(scope="module")
def web_box(pytestconfig, koji_source_path):
    made, done = new_box(pytestconfig, koji_source_path, "--web")
    yield made, done.stdout
    made.down()


def printed(out: str, key: str) -> str:
    found = re.search(rf"^\s+{key}\s+(https://\S+)$", out, re.M)
    assert found, out
    return found.group(1)


def ca_of(made: Box) -> str:
    return str(made.record().parts["proxy"]["ca"])


def index(url: str, ca: str) -> requests.Response:
    return requests.get(f"{url}/index", verify=ca, timeout=30)


def test_up_web_prints_both_urls_and_kojiweb_answers(web_box):
    made, out = web_box
    web, proxy = printed(out, "web"), printed(out, "proxy")
    ca = ca_of(made)
    for url in (web, f"{proxy}/koji"):  # straight, and through nginx
        page = index(url, ca)
        assert page.status_code == 200 and "Recent Builds" in page.text, (url, page.status_code)
    health = requests.get(printed(out, "health"), verify=ca, timeout=30).json()
    assert health["status"] == "healthy", health
    assert {"kdc", "postgres", "hub", "web"} <= set(health["services"])


def test_status_lists_the_web_and_the_proxy(web_box):
    made, out = web_box
    by_name = {row["service"]: row for row in made.status()["services"]}
    assert set(by_name) == {"kdc", "postgres", "hub", *WEB_SERVICES}
    kind = "container" if made.runtime == "containers" else "pid"
    for name in WEB_SERVICES:
        row = by_name[name]
        assert row["state"] == "up" and row["where"].startswith(kind) and row["memory"] > 0, row
    assert by_name["web"]["url"] == printed(out, "web")
    assert by_name["proxy"]["url"] == printed(out, "proxy")
    assert re.search(r"^\s+proxy\s+up\s+", made("status").stdout, re.M)


def test_logs_of_the_web_and_the_proxy(web_box):
    made, out = web_box
    assert "httpd-error.log <==" in made("logs", "web").stdout  # Apache's error log
    assert "error.log <==" in made("logs", "proxy").stdout  # nginx's

    def missing_task() -> str:
        """A kojiweb page for a task that does not exist: its traceback in Apache's error log."""
        task = 900_000_000 + secrets.randbelow(10**8)
        requests.get(f"{printed(out, 'web')}/taskinfo?taskID={task}", verify=ca_of(made), timeout=30)
        return f"No such task ID: {task}"

    before = missing_task()  # in the log before the follower starts
    follower = Follower(made.command("logs", "web", "--follow"), made.env)
    try:
        follower.wait_for(before)  # it has printed what was there: what comes next is new
        after = missing_task()
        follower.wait_for(after)  # kojiweb's lines in Apache's error log, as they were written
        assert follower.process.poll() is None
    finally:
        follower.stop()


def test_restart_the_web_and_the_proxy(web_box):
    made, out = web_box
    before = made.record().refs
    for service in WEB_SERVICES:
        assert "restarted" in made("restart", service).stdout
    after = made.record().refs
    assert after["proxy"] != before["proxy"] and after["health"] != before["health"]
    assert all(row["state"] == "up" for row in made.status()["services"])
    for url in (printed(out, "web"), f"{printed(out, 'proxy')}/koji"):  # the same URLs
        assert "Recent Builds" in index(url, ca_of(made)).text


REUSING = """
import os, requests

def test_the_box_web_and_proxy(web, proxy):
    assert web.url == os.environ["BOX_WEB"] and proxy.url == os.environ["BOX_PROXY"]
    assert requests.get(proxy.health_url, verify=str(proxy.ca), timeout=30).json()["status"] == "healthy"

def test_the_browser_on_the_box_web(koji_browser, koji_admin):
    koji_admin.createTag("seen-in-the-browser")
    page = koji_browser.open("search?type=tag&match=glob&terms=seen-in-*")
    assert "seen-in-the-browser" in page.inner_text("body")
    koji_browser.login("kojiuser", "ssl")
    assert koji_browser.logged_in_user() == "kojiuser"
"""


def test_reuse_takes_the_web_and_the_proxy_over(web_box, child_env, outer_args, shared_tmp):
    made, out = web_box
    (shared_tmp / "test_reuse_web.py").write_text(REUSING)
    before = {row["service"]: row["where"] for row in made.status()["services"]}
    result = subprocess.run(
        nested_pytest(made.source, "--boxkoji-reuse", f"--boxkoji-box={made.name}", *outer_args),
        cwd=shared_tmp,
        env={**child_env, "BOX_WEB": printed(out, "web"), "BOX_PROXY": printed(out, "proxy")},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    after = {row["service"]: row["where"] for row in made.status()["services"]}
    assert after == before  # the box's own web and proxy served it, and still run


def test_down_removes_the_web_and_the_proxy(pytestconfig, koji_source_path):
    made, _ = new_box(pytestconfig, koji_source_path, "--web")
    record = made.record()
    assert {"web", "health", "proxy"} <= set(record.refs)
    made("down")
    assert leftovers(record.marker, made.runtime) == []
    assert not any(Path(d).exists() for d in record.directories)
    assert not box.path_of(made.cache, made.name).exists()
