"""Content generator metadata (cg.py), without a hub: what koji_cg_import sends to CGImport."""

import hashlib

import pytest

from pytest_boxkoji import cg
from pytest_boxkoji.errors import BoxKojiError
from pytest_boxkoji.scenario.loader import load


def test_metadata_of_an_archive_an_rpm_and_a_log(tmp_path):
    image = tmp_path / "img-1.0-1.x86_64.tar.gz"
    image.write_bytes(b"image bytes")
    rpm = tmp_path / "img-1.0-1.noarch.rpm"
    rpm.write_bytes(b"not really an rpm")
    log = tmp_path / "build.log"
    log.write_text("built\n")
    meta = cg.metadata("img", "1.0", "1", [cg.Output(p) for p in (image, rpm, log)], "osbuild", "container")
    assert meta["metadata_version"] == 0
    assert meta["build"]["extra"] == {"typeinfo": {"container": {}, "rpm": {}}}
    assert meta["build"]["start_time"] < meta["build"]["end_time"]
    (buildroot,) = meta["buildroots"]
    assert buildroot["content_generator"] == {"name": "osbuild", "version": "1"}
    archive, package, logfile = meta["output"]
    assert archive["checksum"] == hashlib.sha256(b"image bytes").hexdigest()
    assert archive["checksum_type"] == "sha256" and archive["filesize"] == len(b"image bytes")
    assert archive["extra"] == {"typeinfo": {"container": {}}} and archive["arch"] == "noarch"
    assert (package["type"], package["arch"], package["extra"]) == ("rpm", "noarch", {})
    assert logfile["type"] == "log"
    assert {o["buildroot_id"] for o in meta["output"]} == {buildroot["id"]}


def test_an_archive_needs_a_btype(tmp_path):
    image = tmp_path / "img.qcow2"
    image.write_bytes(b"x")
    with pytest.raises(BoxKojiError, match=r"img\.qcow2 is neither an RPM nor a log: give the build type"):
        cg.metadata("img", "1", "1", [cg.Output(image)], "osbuild")


def scenario(tmp_path, text):
    (tmp_path / "s.yaml").write_text(text)
    return load(["s.yaml"], tmp_path)


def test_the_importer_is_the_scenarios_content_generator_and_its_first_user(tmp_path):
    found = scenario(
        tmp_path,
        "type: user\nname: bot\n---\ntype: user\nname: other\n---\n"
        "type: content-generator\nname: osbuild\nusers: [bot, other]\n",
    )
    assert cg.importer(found, None, None) == ("osbuild", "bot")
    assert cg.importer(found, None, "other") == ("osbuild", "other")


def test_no_content_generator_or_no_user_says_what_to_declare(tmp_path):
    empty = scenario(tmp_path, "type: user\nname: bot\n")
    with pytest.raises(BoxKojiError, match=r"should declare one \(type: content-generator.*it declares none"):
        cg.importer(empty, None, None)
    assert cg.importer(empty, "made-by-the-test", "bot") == ("made-by-the-test", "bot")
    userless = scenario(tmp_path, "type: content-generator\nname: osbuild\n")
    with pytest.raises(BoxKojiError, match=r"no user of content generator 'osbuild' is known"):
        cg.importer(userless, None, None)
