"""The real Koji hub through the plugin's own fixtures (needs --boxkoji and a Koji tree)."""

import koji
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.needs_koji]


@pytest.mark.parametrize("auth", ["gssapi", "ssl", "password"])
def test_hello_through_each_login(koji_session_factory, auth):
    session = koji_session_factory("kojiuser", auth=auth)
    user = session.getLoggedInUser()
    assert user["name"] == "kojiuser"
    expected = {
        "gssapi": koji.AUTHTYPES["GSSAPI"],
        "ssl": koji.AUTHTYPES["SSL"],
        "password": koji.AUTHTYPES["NORMAL"],
    }[auth]
    assert user["authtype"] == expected
    assert session.hello() == "Hello World"


def test_admin_adds_a_tag_and_kojiuser_is_refused(koji_admin, koji_session):
    name = "boxkoji-admin-tag"
    if koji_admin.getTag(name) is None:
        koji_admin.createTag(name)
    assert koji_admin.getTag(name)["name"] == name
    assert "admin" in koji_admin.getPerms()
    with pytest.raises(koji.ActionNotAllowed):
        koji_session.createTag("boxkoji-user-tag")
    assert koji_admin.getTag("boxkoji-user-tag") is None


def test_anonymous_and_wrong_password_are_refused(boxkoji):
    anon = koji.ClientSession(boxkoji.hub_url, {"serverca": str(boxkoji.ca_file)})
    assert anon.getLoggedInUser() is None
    with pytest.raises(koji.ActionNotAllowed):
        anon.createTag("anonymous-tag")
    boxkoji.ensure_user("kojiuser", "password")
    wrong = koji.ClientSession(boxkoji.hub_url, {"serverca": str(boxkoji.ca_file), "max_retries": 0})
    wrong.opts.update(user="kojiuser", password="not-the-password")
    with pytest.raises(koji.AuthError):
        wrong.login()


def test_koji_cli_as_each_user(koji_cli):
    hello = koji_cli("hello")
    assert hello.returncode == 0, hello.stderr
    assert "kojiuser" in hello.stdout and "GSSAPI" in hello.stdout
    added = koji_cli("add-tag", "boxkoji-cli-tag", user="kojiadmin", auth="gssapi")
    assert added.returncode == 0, added.stderr
    listed = koji_cli("list-tags", "boxkoji-cli-*")
    assert listed.stdout.split() == ["boxkoji-cli-tag"]
    refused = koji_cli("add-tag", "boxkoji-cli-other")
    assert refused.returncode != 0
    assert "admin" in refused.stderr or "permission" in refused.stderr.lower()
    ssl = koji_cli("hello", user="kojiadmin", auth="ssl")
    assert "kojiadmin" in ssl.stdout and "client certificate" in ssl.stdout


def test_boxkoji_object_describes_the_environment(boxkoji):
    assert boxkoji.realm_name == "KOJI.BOX"
    assert set(boxkoji.urls) >= {"kdc", "postgres", "hub", "files"}
    assert boxkoji.hub_url.startswith("https://localhost:")
    assert boxkoji.koji_config.read_text().startswith("[boxkoji]")
    assert (boxkoji.topdir / "packages").is_dir()
    assert set(boxkoji.env) == {"KRB5_CONFIG", "KRB5_KDC_PROFILE"}


def test_koji_import_through_the_cli(koji_cli, koji_admin, boxkoji):
    """`koji import` reads RPM headers in the test process's Python: the rpm shim must find the
    system's bindings inside a virtualenv."""
    from pytest_boxkoji.scenario.rpms import make_rpms
    from pytest_boxkoji.scenario.schema import Build

    rpms = make_rpms(
        Build(type="build", name="cli-import-1.0-1", arches=["noarch"]), boxkoji.config.cache_dir
    )
    done = koji_cli("import", *map(str, rpms), user="kojiadmin")
    assert done.returncode == 0, done.stderr
    build = koji_admin.getBuild("cli-import-1.0-1")
    assert build is not None and build["state"] == koji.BUILD_STATES["COMPLETE"]
    assert sorted(r["arch"] for r in koji_admin.listRPMs(buildID=build["id"])) == ["noarch", "src"]
