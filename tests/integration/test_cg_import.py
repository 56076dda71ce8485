"""Content generator imports of real files through `koji_cg_import` (needs Koji)."""

import hashlib
import io
import tarfile

import koji
import pytest

from pytest_boxkoji.scenario.rpms import make_rpms
from pytest_boxkoji.scenario.schema import Build

pytestmark = [
    pytest.mark.integration,
    pytest.mark.needs_koji,
    pytest.mark.koji_scenario("content-generators.yaml"),
]


@pytest.fixture
def image(tmp_path):
    """A small image tarball: a root filesystem with an os-release file."""
    path = tmp_path / "boxkoji-image-1.0-1.x86_64.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        data = b'NAME="boxkoji image"\nVERSION_ID=1.0\n'
        info = tarfile.TarInfo("etc/os-release")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


def test_an_image_tarball_becomes_a_container_build(koji_cg_import, koji_session, image, boxkoji):
    build = koji_cg_import("boxkoji-image", "1.0", "1", [image], btype="container")
    assert build["nvr"] == "boxkoji-image-1.0-1"
    assert build["state"] == koji.BUILD_STATES["COMPLETE"]
    assert build["cg_name"] == "boxkoji-images"
    assert build["owner_name"] == "imagebot"  # the content generator's user imported it
    assert set(koji_session.getBuildType(build["id"])) == {"container"}
    (archive,) = koji_session.listArchives(buildID=build["id"])
    assert archive["filename"] == image.name and archive["type_name"] == "tar"
    assert archive["checksum"] == hashlib.sha256(image.read_bytes()).hexdigest()
    assert archive["btype"] == "container"
    stored = koji.PathInfo(str(boxkoji.topdir)).typedir(build, "container") + "/" + image.name
    assert open(stored, "rb").read() == image.read_bytes()  # the file itself is in the build's directory


def test_rpm_outputs_become_the_builds_rpms(koji_cg_import, koji_session, boxkoji):
    rpms = make_rpms(Build(type="build", name="cgpkg-2.0-3", arches=["noarch"]), boxkoji.config.cache_dir)
    build = koji_cg_import("cgpkg", "2.0", "3", rpms)
    assert set(koji_session.getBuildType(build["id"])) == {"rpm"}
    listed = {f"{r['nvr']}.{r['arch']}" for r in koji_session.listRPMs(buildID=build["id"])}
    assert listed == {"cgpkg-2.0-3.src", "cgpkg-2.0-3.noarch"}
    koji_session.getRPM("cgpkg-2.0-3.noarch", strict=True)


def test_a_wrong_checksum_is_refused_with_kojis_message(koji_cg_import, koji_session, image):
    def corrupt(metadata):
        metadata["output"][0]["checksum"] = "0" * 64

    with pytest.raises(
        koji.GenericError, match=r"File checksum mismatch for boxkoji-image-1\.0-1\.x86_64\.tar\.gz"
    ):
        koji_cg_import("boxkoji-image", "1.0", "1", [image], btype="container", edit=corrupt)
    assert koji_session.getBuild("boxkoji-image-1.0-1") is None  # nothing was imported


def test_a_btype_the_hub_does_not_know_is_refused(koji_cg_import, image):
    with pytest.raises(koji.GenericError, match="No such entry in table btype: osbuild-image"):
        koji_cg_import("boxkoji-image", "1.0", "1", [image], btype="osbuild-image")


def test_a_user_without_access_is_refused(koji_cg_import, image):
    with pytest.raises(koji.GenericError, match=r"Content generator access required \(boxkoji-images\)"):
        koji_cg_import("boxkoji-image", "1.0", "1", [image], btype="container", user="tester")
