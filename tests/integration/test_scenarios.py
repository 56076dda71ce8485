"""Scenarios on the real hub: applied once, restored for every test (needs Koji)."""

import shutil

import koji
import pytest
from hubfacts import is_infrastructure

pytestmark = [pytest.mark.integration, pytest.mark.needs_koji]


@pytest.mark.koji_scenario("base.yaml")
class TestBase:
    def test_objects_are_there(self, koji_admin, koji_scenario):
        assert {t["name"] for t in koji_admin.listTags()} == {"dist-base", "dist-build", "dist-candidate"}
        target = koji_admin.getBuildTarget("dist")
        assert (target["build_tag_name"], target["dest_tag_name"]) == ("dist-build", "dist-candidate")
        parents = koji_admin.getInheritanceData("dist-build")
        assert [(p["name"], p["priority"]) for p in parents] == [("dist-base", 0)]
        groups = {
            g["name"]: sorted(p["package"] for p in g["packagelist"])
            for g in koji_admin.getTagGroups("dist-build")
        }
        assert groups == {"build": ["bash", "coreutils"], "srpm-build": ["bash"]}
        assert "admin" in koji_admin.getUserPerms("releng")
        assert set(koji_admin.getUserPerms("packager")) == {"packager", "tag"}
        host = koji_admin.getHost("builder1.koji.box")
        assert host["capacity"] == 4 and host["arches"] == "x86_64"
        assert sorted(c["name"] for c in koji_admin.listChannels(hostID=host["id"])) == [
            "createrepo",
            "default",
        ]
        tagged = {b["nvr"] for b in koji_admin.listTagged("dist-candidate", inherit=True)}
        assert tagged == {"hello-1.0-1", "bash-5.2.15-1", "coreutils-9.1-1"}
        assert koji_admin.getBuild("hello-1.0-1")["owner_name"] == "packager"
        assert koji_scenario.id("tag", "dist-base") == koji_admin.getTag("dist-base")["id"]

    def test_the_next_test_gets_the_scenario_back(self, koji_admin, boxkoji, request):
        koji_admin.deleteBuildTarget("dist")
        koji_admin.untagBuildBypass("dist-candidate", "hello-1.0-1", force=True)
        koji_admin.createTag("scratch-tag")
        assert koji_admin.getBuildTarget("dist") is None
        # What the plugin does before the next test with this marker.
        boxkoji.scenarios.prepare(["base.yaml"], request.path.parent, boxkoji.config.scenario_dirs)
        admin = boxkoji.admin_session()
        assert admin.getBuildTarget("dist") is not None
        assert admin.getTag("scratch-tag") is None
        assert [b["nvr"] for b in admin.listTagged("dist-candidate")] == ["hello-1.0-1"]

    def test_the_topdir_comes_back_too(self, boxkoji, request):
        packages = boxkoji.topdir / "packages" / "hello" / "1.0" / "1"
        assert (packages / "noarch" / "hello-1.0-1.noarch.rpm").is_file()
        (boxkoji.topdir / "stray-file").write_text("written by a test")
        shutil.rmtree(packages)
        boxkoji.scenarios.prepare(["base.yaml"], request.path.parent, boxkoji.config.scenario_dirs)
        assert (packages / "noarch" / "hello-1.0-1.noarch.rpm").is_file()
        assert not (boxkoji.topdir / "stray-file").exists()

    def test_scenario_users_log_in(self, koji_scenario):
        packager = koji_scenario.session("packager")
        assert packager.getLoggedInUser()["name"] == "packager"
        packager.packageListAdd("dist-base", "zsh", owner="packager")
        tester = koji_scenario.session("tester", auth="ssl")
        with pytest.raises(koji.GenericError):
            tester.packageListAdd("dist-base", "fish", owner="tester")


def infrastructure(session):
    return {u["name"] for u in session.listUsers() if is_infrastructure(u["name"])}


def test_unmarked_test_sees_an_empty_hub(koji_admin):
    assert koji_admin.listTags() == []
    assert koji_admin.getBuildTargets() == []
    assert {u["name"] for u in koji_admin.listUsers()} - infrastructure(koji_admin) == {"kojiadmin"}


@pytest.mark.koji_scenario("release-policy.yaml")
def test_policy_and_include(koji_admin, koji_scenario):
    assert koji_admin.getTag("dist-release")["locked"]
    assert koji_admin.getTag("dist-candidate")["extra"] == {"release.next": "dist-release"}
    packager = koji_scenario.session("packager")
    koji_admin.editTag2("dist-release", locked=False)
    with pytest.raises(koji.ActionNotAllowed, match="only release engineering"):
        packager.tagBuildBypass("dist-release", "hello-1.0-1")


@pytest.mark.koji_scenario("builders.yaml")
def test_builders_and_hub_plugin(koji_admin):
    hosts = {h["name"]: h for h in koji_admin.listHosts() if not h["name"].startswith("worker")}
    assert set(hosts) == {"x86-01.koji.box", "arm-01.koji.box", "old-01.koji.box"}
    assert not hosts["old-01.koji.box"]["enabled"]
    assert "kiwiBuild" in koji_admin.system.listMethods()
    assert "container" in [b["name"] for b in koji_admin.listBTypes()]
    assert koji_admin.getArchiveType(type_name="oci")["extensions"] == "oci.tar"


def test_hub_plugin_is_gone_without_the_scenario(koji_admin):
    assert "kiwiBuild" not in koji_admin.system.listMethods()


@pytest.mark.koji_scenario("plugin-author.yaml")
def test_a_plugin_of_the_users_own(koji_session):
    assert koji_session.boxkojiHello("world") == "hello, world, from a user's hub plugin"


def test_a_restore_repairs_what_a_failed_swap_left(boxkoji, koji_admin):
    """The copy a restore swaps in is gone (as if making it had failed unnoticed): the swap fails
    half-way, after the live database was renamed away, and the restore copies in place."""
    snapshots = boxkoji.hub_state.snapshots
    snapshots._settle()  # the copy for the next restore of the empty hub exists now
    snapshots._sql(f"DROP DATABASE {snapshots._copy_db('empty')}")
    koji_admin.createTag("made-before-the-restore")
    boxkoji.scenarios.prepare([])
    admin = boxkoji.admin_session()
    assert admin.getTag("made-before-the-restore") is None
    assert admin.getLoggedInUser()["name"] == "kojiadmin"  # the hub has its database back
