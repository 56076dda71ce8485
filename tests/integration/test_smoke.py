"""The smoke test of one Koji version: logins, a scenario, a repo made by the builders, the web.

CI runs this module against each Koji version the project supports (1.34.3, 1.35.3 and a master
snapshot), each chosen with --boxkoji-koji-source:

    pytest --boxkoji -m smoke --boxkoji-koji-source=/path/to/koji-1.34.3.tar.bz2 tests/integration
"""

import gzip
import xml.etree.ElementTree as ET

import koji
import pytest
import requests

pytestmark = [pytest.mark.integration, pytest.mark.needs_koji, pytest.mark.smoke]


def test_the_hub_runs_the_configured_koji(koji_session, boxkoji):
    # Which tree runs is what the version matrix is about: the hub says its own version.
    assert koji_session.getKojiVersion() == boxkoji.source().version


@pytest.mark.parametrize("auth", ["gssapi", "ssl", "password"])
def test_each_login(koji_session_factory, auth):
    session = koji_session_factory("kojiuser", auth=auth)
    assert session.getLoggedInUser()["name"] == "kojiuser"
    with pytest.raises(koji.ActionNotAllowed):
        session.createTag("smoke-not-allowed")


@pytest.mark.koji_scenario("base.yaml")
def test_a_scenario_and_the_cli(koji_scenario, koji_admin, koji_cli):
    assert koji_admin.getBuildTarget("dist")["dest_tag_name"] == "dist-candidate"
    assert [t["name"] for t in koji_admin.getFullInheritance("dist-build")] == ["dist-base"]
    packager = koji_scenario.session("packager")
    packager.tagBuild("dist-candidate", "bash-5.2.15-1")  # the scenario's permission lets it
    with pytest.raises(koji.ActionNotAllowed):
        koji_scenario.session("tester").tagBuild("dist-candidate", "coreutils-9.1-1")
    tagged = koji_cli("list-tagged", "--quiet", "dist-base", user="tester")
    assert tagged.returncode == 0, tagged.stderr
    assert sorted(line.split()[0] for line in tagged.stdout.splitlines()) == [
        "bash-5.2.15-1",
        "coreutils-9.1-1",
    ]


def test_the_builders_make_a_repo(workers, koji_admin, koji_build_factory, koji_cli, boxkoji):
    koji_admin.createTag("smoke-build", arches="x86_64")
    # Koji 1.34's kojira expires at once the repos of a tag that is no target's build tag.
    koji_admin.createBuildTarget("smoke", "smoke-build", "smoke-build")
    build = koji_build_factory("smokehello", "1.0", "1", arches=("noarch",), tag="smoke-build")
    regen = koji_cli("regen-repo", "--nowait", "smoke-build", user="kojiadmin")
    assert regen.returncode == 0, regen.stderr
    waited = koji_cli("wait-repo", "smoke-build", "--build", build["nvr"], "--timeout", "1", user="kojiadmin")
    assert waited.returncode == 0, waited.stdout + waited.stderr
    repo = koji_admin.getRepo("smoke-build")
    repodata = boxkoji.topdir / "repos" / "smoke-build" / str(repo["id"]) / "x86_64" / "repodata"
    primary = next(repodata.glob("*primary.xml.gz"))
    names = [
        n.text for n in ET.fromstring(gzip.decompress(primary.read_bytes())).iter() if n.tag.endswith("}name")
    ]
    assert names == ["smokehello"]


def test_the_web_index_shows_the_hubs_data(web, koji_admin):
    koji_admin.createTag("smoke-web-tag")
    response = requests.get(f"{web.url}/index", verify=str(web.ca), timeout=30)
    assert response.status_code == 200, response.text[-2000:]
    tags = requests.get(f"{web.url}/tags", verify=str(web.ca), timeout=30)
    assert tags.status_code == 200 and "smoke-web-tag" in tags.text
