"""kojiweb in a real browser: headless Chromium (Debian's) through the koji_browser fixture."""

import http.server
import threading

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.needs_koji, pytest.mark.browser]


def test_index_shows_the_hubs_builds(koji_browser, koji_build_factory):
    koji_build_factory("shown", "1.0", "1")
    page = koji_browser.open("index")
    assert "Recent Builds" in page.content()
    assert page.get_by_role("link", name="shown-1.0-1").count() == 1
    assert koji_browser.logged_in_user() is None


def test_a_tag_page_shows_its_inheritance(koji_browser, koji_admin):
    koji_admin.createTag("browser-parent")
    child = koji_admin.createTag("browser-child", parent="browser-parent")
    page = koji_browser.open(f"taginfo?tagID={child}")
    assert "Information for tag browser-child" in page.inner_text("body")
    assert page.get_by_role("link", name="browser-parent").count() == 1


def test_a_build_page_lists_its_rpms(koji_browser, koji_build_factory):
    build = koji_build_factory("listed", "2.0", "3", arches=("noarch", "x86_64"))
    page = koji_browser.open(f"buildinfo?buildID={build['id']}")
    text = page.inner_text("body")
    assert "listed-2.0-3.noarch" in text and "listed-2.0-3.x86_64" in text and "listed-2.0-3.src" in text


def test_a_user_page(koji_browser, koji_session):
    user = koji_session.getLoggedInUser()
    page = koji_browser.open(f"userinfo?userID={user['id']}")
    assert "Information for user kojiuser" in page.inner_text("body")


def test_search_finds_a_package(koji_browser, koji_build_factory):
    koji_build_factory("findme", "1.0", "1")
    page = koji_browser.open("search")
    page.fill("input[name=terms]", "findme")
    page.select_option("select[name=type]", "package")
    page.click("input[type=submit]")
    page.wait_for_load_state()
    # One match: kojiweb goes straight to the package's page.
    assert "Information for package findme" in page.inner_text("body")


def test_a_task_page(koji_browser, koji_admin):
    koji_admin.createTag("task-tag", arches="noarch")
    task_id = koji_admin.newRepo("task-tag")
    page = koji_browser.open(f"taskinfo?taskID={task_id}")
    text = page.inner_text("body")
    assert "Information for task newRepo (task-tag)" in text and f"ID\t{task_id}" in text


@pytest.mark.parametrize("auth", ["gssapi", "ssl"])
def test_login_and_logout(koji_browser, auth):
    koji_browser.login("kojiuser", auth)
    assert koji_browser.logged_in_user() == "kojiuser"
    koji_browser.open("index")
    assert koji_browser.logged_in_user() == "kojiuser"  # the cookie holds
    koji_browser.follow(koji_browser.page.get_by_role("link", name="logout"))
    assert koji_browser.logged_in_user() is None
    assert koji_browser.page.url.startswith("https://")  # back on https after kojiweb's http:// redirect


def test_a_logged_in_admin_can_act(koji_browser, koji_admin):
    koji_admin.createTag("editable")
    koji_browser.login("kojiadmin", "gssapi")
    assert koji_browser.logged_in_user() == "kojiadmin"
    page = koji_browser.open("tags")
    assert page.get_by_role("link", name="Create new Tag").count() == 1  # admins only


FAILING = """
def test_looks_for_what_is_not_there(koji_browser):
    page = koji_browser.open("index")
    assert "no such text" in page.inner_text("body")
"""


def test_a_failing_browser_test_keeps_a_screenshot_and_the_html(pytester, koji_source_path, child_env, run):
    pytester.makepyfile(test_failing=FAILING)
    result = run(pytester, koji_source_path)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*- boxkoji browser -*", "kept: *screenshot.png", "kept: *page.html"])
    kept = pytester.path / "boxkoji-artifacts" / "test_failing.py_test_looks_for_what_is_not_there"
    assert (kept / "screenshot.png").read_bytes().startswith(b"\x89PNG")
    assert "Recent Builds" in (kept / "page.html").read_text()


def test_a_page_that_fails_on_the_way_names_the_request_that_failed(koji_browser):
    # A redirect to a port nobody listens on: the navigation has begun, and Playwright's own
    # message would only say it went to Chromium's error page.
    from playwright.sync_api import Error

    from pytest_boxkoji import ports

    (nobody,) = ports.claim(1)
    with http.server.HTTPServer(
        ("127.0.0.1", 0), redirecting_to(f"http://127.0.0.1:{nobody}/gone")
    ) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with pytest.raises(Error, match=f"ERR_CONNECTION_REFUSED at http://127.0.0.1:{nobody}/gone"):
                koji_browser.open(f"http://127.0.0.1:{server.server_port}/")
        finally:
            server.shutdown()


def redirecting_to(location):
    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(302)
            self.send_header("Location", location)
            self.end_headers()

        def log_message(self, *args):
            pass

    return Redirect
