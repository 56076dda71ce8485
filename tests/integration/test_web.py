"""kojiweb, the real one, over HTTPS: pages with the hub's data, and logins both ways (the
browser suite in test_browser.py drives the same pages through chromium)."""

import re

import gssapi
import pytest
import requests
from requests_gssapi import HTTPSPNEGOAuth

from pytest_boxkoji.services.hub import HUB

pytestmark = [pytest.mark.integration, pytest.mark.needs_koji]


def page(web, path, session=None, **kwargs):
    response = (session or requests).get(f"{web.url}/{path}", verify=str(web.ca), timeout=30, **kwargs)
    assert response.status_code == 200, response.text[-3000:]
    return response.text


def kerberos(boxkoji, user):
    """requests auth that logs `user` in by Negotiate, with a ticket from the user's keytab."""
    login = boxkoji.ensure_user(user, "gssapi")
    name = gssapi.Name(login["principal"], gssapi.NameType.kerberos_principal)
    store = {"client_keytab": login["keytab"], "ccache": login["ccache"]}
    return HTTPSPNEGOAuth(creds=gssapi.Credentials(name=name, usage="initiate", store=store))


def logged_in_as(text):
    found = re.search(
        r'<span id="loginInfo">.*?userinfo\?userID=\d+">([^<]+)</a> \| <a href="logout">', text, re.S
    )
    return found.group(1) if found else None


def test_a_tag_page_shows_the_hubs_tag_and_its_parent(web, koji_admin):
    koji_admin.createTag("web-parent")
    child = koji_admin.createTag("web-child", parent="web-parent")
    text = page(web, f"taginfo?tagID={child}")
    assert "web-child" in text and "web-parent" in text


def test_anonymous_pages_say_nobody_is_logged_in(web):
    text = page(web, "index")
    assert logged_in_as(text) is None and 'href="login"' in text


def test_kerberos_login_then_logout(web, boxkoji):
    with requests.Session() as browser:
        page(web, "login", browser, auth=kerberos(boxkoji, "kojiuser"))
        assert logged_in_as(page(web, "index", browser)) == "kojiuser"
        page(web, "logout", browser)
        assert logged_in_as(page(web, "index", browser)) is None


def test_certificate_login(web, boxkoji):
    cert = boxkoji.ensure_user("webcertuser", "ssl")["cert"]
    with requests.Session() as browser:
        browser.cert = cert
        page(web, "login", browser)
        assert logged_in_as(page(web, "index", browser)) == "webcertuser"


def test_login_without_credentials_is_refused(web):
    response = requests.get(f"{web.url}/login", verify=str(web.ca), timeout=30)
    assert response.status_code == 401
    assert response.headers.get("WWW-Authenticate") == "Negotiate"


def test_logins_and_pages_leave_apaches_error_logs_clean(web, boxkoji, koji_session):
    # What a failing test's report shows of them must be about the failure: no line per request.
    hub = boxkoji.graph.get(HUB).settings
    logs = [directory / "logs" / "httpd-error.log" for directory in (hub.directory, web.directory)]
    for log in logs:
        assert "resuming normal operations" in log.read_text()  # the right files: Apache's
    before = [log.stat().st_size for log in logs]  # other tests' lines are not this one's
    koji_session.getLoggedInUser()  # a login and a call at the hub
    with requests.Session() as browser:
        page(web, "login", browser, auth=kerberos(boxkoji, "kojiuser"))
        page(web, "index", browser)
    for log, start in zip(logs, before, strict=True):
        with open(log, "rb") as text:
            text.seek(start)
            added = text.read().decode(errors="replace")
        assert [line for line in added.splitlines() if ":error]" in line] == [], log
