"""nginx in front of the box (services/proxy.py): the client, the CLI and the web through it,
/kojifiles from the topdir, /health, several hubs, and forged certificate headers."""

import time
import xmlrpc.client

import koji
import pytest
import requests

from pytest_boxkoji.services.apache import PROXY_TOKEN

pytestmark = [pytest.mark.integration, pytest.mark.needs_koji]

AUTHTYPES = {
    "gssapi": koji.AUTHTYPES["GSSAPI"],
    "ssl": koji.AUTHTYPES["SSL"],
    "password": koji.AUTHTYPES["NORMAL"],
}


@pytest.mark.parametrize("auth", ["gssapi", "ssl", "password"])
def test_each_login_through_the_proxy(proxy, koji_session_factory, auth):
    session = koji_session_factory("kojiuser", auth=auth, via="proxy")
    assert session.baseurl == proxy.hub_url
    user = session.getLoggedInUser()
    assert (user["name"], user["authtype"]) == ("kojiuser", AUTHTYPES[auth])


@pytest.mark.parametrize("auth", ["gssapi", "ssl"])
def test_the_cli_through_the_proxy(proxy, koji_cli, auth):
    result = koji_cli("hello", auth=auth, via="proxy")
    assert result.returncode == 0, result.stderr
    assert "kojiuser" in result.stdout and proxy.hub_url in result.stdout


def test_the_admin_writes_through_the_proxy_and_the_hub_has_it(koji_session_factory, koji_admin, proxy):
    via_proxy = koji_session_factory("kojiadmin", via="proxy")
    via_proxy.createTag("made-through-nginx")
    assert koji_admin.getTag("made-through-nginx")["name"] == "made-through-nginx"


def test_a_tag_page_through_the_proxy(proxy, koji_admin):
    koji_admin.createTag("proxied-parent")
    child = koji_admin.createTag("proxied-child", parent="proxied-parent")
    response = requests.get(f"{proxy.web_url}/taginfo?tagID={child}", verify=str(proxy.ca), timeout=30)
    assert response.status_code == 200
    assert "proxied-child" in response.text and "proxied-parent" in response.text


def test_kojifiles_serves_what_is_in_the_topdir(proxy, hub, koji_build_factory):
    build = koji_build_factory("served", "2.0", "1")
    relpath = "packages/served/2.0/1/noarch/served-2.0-1.noarch.rpm"
    on_disk = (hub.topdir / relpath).read_bytes()
    response = requests.get(f"{proxy.files_url}/{relpath}", verify=str(proxy.ca), timeout=30)
    assert response.status_code == 200 and build["name"] == "served"
    assert response.content == on_disk


def ssllogin(url, headers, cert=None, verify=None):
    body = xmlrpc.client.dumps((), "sslLogin")
    return requests.post(f"{url}/ssllogin", data=body, headers=headers, cert=cert, verify=verify, timeout=30)


FORGED = {
    "X-SSL-Client-Verify": "SUCCESS",
    "X-SSL-Client-S-DN": "CN=kojiadmin,O=FORGED",
    "X-SSL-Client-CN": "kojiadmin",
}


def test_forged_certificate_headers_are_refused(proxy, boxkoji, hub):
    # The same request with a real certificate logs in: the refusals below are about the headers.
    cert = boxkoji.ensure_user("kojiuser", "ssl")["cert"]
    real = ssllogin(proxy.hub_url, {}, cert=cert, verify=str(proxy.ca))
    assert real.status_code == 200 and "session-id" in real.text
    # Through nginx without a certificate: nginx overwrites the headers, Apache asks for Kerberos.
    forged = ssllogin(proxy.hub_url, FORGED, verify=str(proxy.ca))
    assert forged.status_code == 401
    # Straight to the hub's port for the proxy, without the proxy's token: refused outright.
    behind = f"http://{hub.proxied.client_address}/kojihub"
    assert ssllogin(behind, FORGED).status_code == 403
    # ...even with a guessed token.
    assert ssllogin(behind, {**FORGED, "X-Boxkoji-Proxy": "guess"}).status_code == 403
    # Only the proxy's real token makes the hub trust the headers (which is why nginx must set them).
    token = boxkoji.start_orch().checkout(PROXY_TOKEN, "password").password
    trusted = ssllogin(behind, {**FORGED, "X-Boxkoji-Proxy": token})
    assert trusted.status_code == 200 and "session-id" in trusted.text


def test_health_reports_every_service(proxy):
    # The test starts from a restored database, where running builders' last update is the
    # snapshot's until kojid's next call gets through (its first after a restore fails and is
    # retried 2 s later): ask again until every service is up, for at most 30 s.
    deadline = time.monotonic() + 30
    response = requests.get(proxy.health_url, verify=str(proxy.ca), timeout=30)
    while response.status_code != 200 and time.monotonic() < deadline:
        time.sleep(1)
        response = requests.get(proxy.health_url, verify=str(proxy.ca), timeout=30)
    assert response.status_code == 200, response.text
    health = response.json()
    assert health["status"] == "healthy"
    assert set(health["services"]) >= {"kdc", "postgres", "hub", "web"}
    for name, state in health["services"].items():
        assert state["state"] == "up", (name, state)
        assert state["check"] and state["checked_at"]
    assert health["services"]["hub"]["version"].startswith("Koji 1.")
    assert health["services"]["postgres"]["version"].startswith("PostgreSQL")
    assert "Kerberos" in health["services"]["kdc"]["version"]


DEAD_WEB = """
import requests

def test_health_turns_unhealthy(boxkoji_environment, proxy, workers):
    env = boxkoji_environment
    health = requests.get(proxy.health_url, verify=str(proxy.ca)).json()
    assert health["status"] == "healthy", health
    assert workers.names[0] in health["services"]["builders"]["version"], health
    (web,) = [s for s in env.graph.services if s.name == "web"]
    env.runtime.kill(web)
    response = requests.get(proxy.health_url, verify=str(proxy.ca))
    assert response.status_code == 503
    health = response.json()
    assert health["status"] == "unhealthy"
    assert health["services"]["web"]["state"] == "down", health
    assert health["services"]["hub"]["state"] == "up", health
    print("DOWN:", health["services"]["web"]["error"])
"""

SPREAD = """
import requests

from pytest_boxkoji.services.hub import HUB

def test_spread(boxkoji_environment, proxy, koji_session_factory):
    hub = boxkoji_environment.graph.get(HUB)
    assert [name for name, _ in hub.named_settings()] == ["hub", "hub-2"]
    session = koji_session_factory("kojiuser", via="proxy")
    for _ in range(12):
        session.getAPIVersion()
    for name, settings in hub.named_settings():
        log = (settings.directory / "logs" / "httpd-access.log").read_text()
        print(name, log.count("POST /kojihub"))
        assert log.count("POST /kojihub") >= 3, (name, log)
    health = requests.get(proxy.health_url, verify=str(proxy.ca)).json()
    assert health["services"]["hub-2"]["state"] == "up"
"""


@pytest.fixture
def nested(pytester, koji_source_path, child_env, run):
    def with_tests(tests, *args):
        pytester.makepyfile(test_nested=tests)
        return run(pytester, koji_source_path, "-s", *args)

    return with_tests


def test_health_notices_a_dead_service(nested):
    result = nested(DEAD_WEB)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*DOWN: *Error*"])  # refused, reset, or (containers) no such host


def test_several_hubs_share_the_load(nested):
    result = nested(SPREAD, "--boxkoji-hubs=2")
    result.assert_outcomes(passed=1)
