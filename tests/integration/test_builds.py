"""Builds in real mock, offline, through the public fixtures and the real `koji` CLI (the shipped
scenario builds.yaml: target `box`, its buildroot made from this host's packages)."""

import io
import ssl
import subprocess
import tarfile
import urllib.request

import koji
import pytest

from pytest_boxkoji.scenario.loader import packaged_dir

pytestmark = [pytest.mark.integration, pytest.mark.needs_koji, pytest.mark.builds]
BUILDS = pytest.mark.koji_scenario("builds.yaml")


def fetch(url, boxkoji):
    """A file from the hub's /kojifiles, over HTTPS with the box's CA."""
    context = ssl.create_default_context(cafile=str(boxkoji.ca_file))
    with urllib.request.urlopen(url, context=context, timeout=30) as answer:
        return answer.read()


@BUILDS
def test_a_noarch_build_lands_in_the_destination_tag(koji_build, koji_srpm_factory, koji_admin, koji_cli):
    srpm = koji_srpm_factory("boxhello", "1.0", "1")
    result = koji_build(srpm)
    assert result.ok, result.error
    assert result.build["state"] == koji.BUILD_STATES["COMPLETE"]
    assert result.build["nvr"] == "boxhello-1.0-1"
    assert {(r["name"], r["arch"]) for r in result.rpms} == {("boxhello", "noarch"), ("boxhello", "src")}
    tagged = koji_admin.listTagged("box-candidate", package="boxhello")
    assert [b["nvr"] for b in tagged] == ["boxhello-1.0-1"]
    info = koji_cli("buildinfo", "boxhello-1.0-1", user="kojiadmin")
    assert "State: COMPLETE" in info.stdout
    assert "boxhello-1.0-1.noarch.rpm" in info.stdout
    # The buildroot held what the build group installs, from the box's buildroot repository.
    (rpm_info,) = [r for r in result.rpms if r["arch"] == "noarch"]
    listing = koji_cli("list-buildroot", str(rpm_info["buildroot_id"]), user="kojiadmin").stdout
    for package in ("bash", "rpm-build", "coreutils"):
        assert f"\n{package}-" in "\n" + listing, listing


@BUILDS
def test_the_built_rpm_is_real_and_downloadable(koji_build, koji_srpm_factory, boxkoji, tmp_path):
    result = koji_build(koji_srpm_factory("boxfile", "2.0", "3"))
    assert result.ok, result.error
    (noarch,) = [r for r in result.rpms if r["arch"] == "noarch"]
    data = fetch(noarch["url"], boxkoji)
    (tmp_path / "x.rpm").write_bytes(data)
    listing = subprocess.run(["rpm", "-qlp", str(tmp_path / "x.rpm")], capture_output=True, text=True)
    assert listing.stdout.split() == ["/usr/share/boxfile/boxfile.txt"], listing.stderr


@BUILDS
def test_a_c_program_is_compiled_on_an_arch_builder(koji_build, koji_srpm_factory, boxkoji, tmp_path):
    result = koji_build(koji_srpm_factory("boxcc", noarch=False))
    assert result.ok, result.error
    (binary,) = [r for r in result.rpms if r["arch"] == "x86_64"]
    (tmp_path / "x.rpm").write_bytes(fetch(binary["url"], boxkoji))
    unpacked = tmp_path / "root"
    archive = subprocess.run(
        ["rpm2archive", "-"], stdin=(tmp_path / "x.rpm").open("rb"), capture_output=True, check=True
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        # Our own build's payload; Debian 12's Python 3.11.2 has no extraction filters.
        tar.extractall(unpacked, **({"filter": "fully_trusted"} if hasattr(tarfile, "data_filter") else {}))
    # The program gcc compiled in the buildroot runs here: it was built from its source.
    ran = subprocess.run([str(unpacked / "usr" / "bin" / "boxcc")], capture_output=True, text=True)
    assert ran.stdout == "hello from boxcc\n"
    (arch_task,) = result.task("buildArch")
    assert arch_task["arch"] == "x86_64"


@BUILDS
def test_a_scratch_build_makes_rpms_but_no_build(koji_build, koji_srpm_factory, koji_admin, boxkoji):
    result = koji_build(koji_srpm_factory("boxscratch"), scratch=True)
    assert result.ok, result.error
    assert result.build is None
    assert koji_admin.getBuild("boxscratch-1.0-1") is None
    names = {(r["name"], r["arch"]) for r in result.rpms}
    assert ("boxscratch", "noarch") in names
    (noarch,) = [r for r in result.rpms if r["arch"] == "noarch"]
    assert fetch(noarch["url"], boxkoji)[:4] == b"\xed\xab\xee\xdb"  # an RPM's lead


@BUILDS
def test_a_broken_spec_fails_with_its_build_log(request, koji_build, koji_srpm_factory, koji_admin):
    result = koji_build(koji_srpm_factory("boxbroken", fail="this spec is broken on purpose"))
    assert result.state == "FAILED"
    assert "see build.log" in result.error  # kojid's fault names the log to read
    assert "this spec is broken on purpose" in result.log("build.log")
    (arch_task,) = result.task("buildArch")
    assert arch_task["state"] == koji.TASK_STATES["FAILED"]
    assert koji_admin.getBuild("boxbroken-1.0-1")["state"] == koji.BUILD_STATES["FAILED"]
    # What a failing test's report shows, beside pytest's own captured output.
    sections = {title: text for _when, title, text in request.node._report_sections}
    build_logs = [text for title, text in sections.items() if title.endswith("/build.log")]
    assert any("this spec is broken on purpose" in text for text in build_logs)
    assert any(title.endswith("/root.log") for title in sections)


@BUILDS
def test_the_koji_cli_builds_and_waits(koji_srpm_factory, koji_cli, koji_admin):
    srpm = koji_srpm_factory("boxcli")
    koji_admin.packageListAdd("box-candidate", "boxcli", owner="kojiadmin")
    done = koji_cli("build", "--wait", "box", str(srpm), user="packager", timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "completed successfully" in done.stdout
    assert koji_admin.getBuild("boxcli-1.0-1")["state"] == koji.BUILD_STATES["COMPLETE"]


@BUILDS
def test_a_build_from_a_git_repository(koji_build, koji_git_factory, koji_admin):
    url = koji_git_factory("boxgit", "3.1", "2")
    assert url.startswith("git://") and "/boxgit.git#" in url
    result = koji_build(url)
    assert result.ok, result.error
    assert result.build["nvr"] == "boxgit-3.1-2"
    assert result.build["source"] == url
    (srpm_task,) = result.task("buildSRPMFromSCM")
    assert srpm_task["state"] == koji.TASK_STATES["CLOSED"]
    assert {(r["name"], r["arch"]) for r in result.rpms} == {("boxgit", "noarch"), ("boxgit", "src")}


@BUILDS
def test_a_chain_build_builds_the_second_against_the_first(workers, koji_git_factory, koji_cli, koji_admin):
    lib = koji_git_factory("boxlib", "1.0", "1")
    app = koji_git_factory("boxapp", "1.0", "1", build_requires=("boxlib",))
    for name in ("boxlib", "boxapp"):
        koji_admin.packageListAdd("box-candidate", name, owner="kojiadmin")
    done = koji_cli("chain-build", "--wait", "box", lib, ":", app, user="kojiadmin", timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    builds = {
        b["name"]: b for b in koji_admin.listTagged("box-candidate") if b["name"] in ("boxlib", "boxapp")
    }
    assert set(builds) == {"boxlib", "boxapp"}
    # boxapp's buildroot held boxlib, from the repo kojid made after boxlib was tagged.
    (noarch,) = [
        r for r in koji_admin.listRPMs(buildID=builds["boxapp"]["build_id"]) if r["arch"] == "noarch"
    ]
    listing = koji_cli("list-buildroot", str(noarch["buildroot_id"]), user="kojiadmin").stdout
    assert "boxlib-1.0-1.noarch" in listing, listing


@BUILDS
def test_kojira_makes_the_build_tag_s_repo_with_a_new_build(
    koji_build, koji_srpm_factory, koji_cli, koji_admin
):
    result = koji_build(koji_srpm_factory("boxrepo"))
    assert result.ok, result.error
    done = koji_cli(
        "wait-repo",
        "box-build",
        "--build",
        "boxrepo-1.0-1",
        "--request",
        "--timeout",
        "5",
        user="kojiadmin",
        timeout=400,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    repo = koji_admin.getRepo("box-build")
    rpms = koji_admin.listTaggedRPMS("box-build", event=repo["create_event"], inherit=True)[0]
    assert "boxrepo" in {r["name"] for r in rpms}


SHIPPED = sorted(p.name for p in packaged_dir().glob("*.yaml"))


@pytest.mark.parametrize(
    "scenario", [pytest.param(name, marks=pytest.mark.koji_scenario(name)) for name in SHIPPED]
)
def test_every_shipped_scenario_s_build_tags_regenerate(
    scenario, workers, koji_scenario, koji_cli, koji_admin
):
    build_tags = sorted({t.build_tag for t in koji_scenario.scenario.of("target")})
    if scenario in ("base.yaml", "builds.yaml", "release-policy.yaml"):
        assert build_tags  # these ship a target: a test that found none would prove nothing
    for tag in build_tags:
        done = koji_cli("regen-repo", "--wait", tag, user="kojiadmin", timeout=600)
        assert done.returncode == 0, f"{scenario}: {tag}: {done.stdout}{done.stderr}"
        assert koji_admin.getRepo(tag)["state"] == koji.REPO_STATES["READY"]
