"""The record of a running environment (box.py) and the pure parts of `scenario dump`."""

from pathlib import Path

import pytest
import yaml

from pytest_boxkoji import box
from pytest_boxkoji.config import BoxKojiConfig
from pytest_boxkoji.errors import BoxKojiError
from pytest_boxkoji.kojisrc import KojiSource
from pytest_boxkoji.scenario import dump
from pytest_boxkoji.scenario.loader import load
from pytest_boxkoji.scenario.state import parse_policy, policy_text


def record(name: str = "default") -> box.BoxRecord:
    return box.BoxRecord(
        name=name,
        runtime="processes",
        marker="123-abcd1234",
        directories=["/tmp/boxkoji-abcd1234-x"],
        identity={"koji source": "a"},
        parts={},
        refs={"kdc": "1/2.0"},
    )


def test_records_are_written_read_and_removed(tmp_path):
    box.write(tmp_path, record())
    again = box.read(tmp_path, "default")
    assert (again.marker, again.refs, again.directory) == (
        "123-abcd1234",
        {"kdc": "1/2.0"},
        Path("/tmp/boxkoji-abcd1234-x"),
    )
    assert box.names(tmp_path) == ["default"]
    box.remove(tmp_path, "default")
    with pytest.raises(
        box.NoBox, match=r"no environment named 'default' is running .*`boxkoji up --detach --name default`"
    ):
        box.read(tmp_path, "default")


def test_a_taken_name_is_refused_or_made_unique(tmp_path):
    box.write(tmp_path, record())
    with pytest.raises(BoxKojiError, match="already recorded"):
        box.write(tmp_path, record(), replace=False)
    kept = record()
    assert box.claim(tmp_path, kept) == "default-abcd1234"  # --boxkoji-keep beside a running box
    assert box.names(tmp_path) == ["default", "default-abcd1234"]


@pytest.mark.parametrize("name", ["", "a b", "../x", "x/y"])
def test_bad_names(tmp_path, name):
    with pytest.raises(BoxKojiError, match="use letters, digits"):
        box.path_of(tmp_path, name)


def test_identity_says_what_differs():
    source = KojiSource(Path("/src/koji"), "1.35.3", "local tree /src/koji")
    mine = box.identity_of(BoxKojiConfig(), "processes", source)
    other = box.identity_of(BoxKojiConfig(cov_hub=True), "processes", source)
    assert box.digest(mine) == box.digest(dict(mine))
    assert box.digest(mine) != box.digest(other)
    assert box.differences(mine, other) == [
        "coverage: the environment has 'hub False, web False, workers False', this run asks for 'hub True, web False, workers False'"
    ]


def test_policies_read_back_as_written():
    policies = {
        "tag": ["tag x :: {", "  has_perm admin :: allow", "}", "all :: allow"],
        "build_from_srpm": ["all :: allow"],
    }
    assert parse_policy(policy_text(policies)) == policies


def test_builtin_archive_types_come_from_the_schema(tmp_path):
    schema = tmp_path / "schema.sql"
    schema.write_text(
        "INSERT INTO archivetypes (name, description, extensions, compression_type) VALUES ('jar', 'Jar', 'jar', 'zip');\n"
        "INSERT INTO archivetypes (name, description, extensions) VALUES ('pom', 'Maven', 'pom');\n"
    )
    assert dump.builtin_archive_types(schema) == {"jar", "pom"}


def test_dumped_yaml_loads_as_a_scenario(tmp_path):
    docs = [
        {"type": "user", "name": "packager", "permissions": ["tag"]},
        {
            "type": "tag",
            "name": "dist",
            "arches": ["x86_64"],
            "packages": [{"name": "bash", "owner": "packager"}],
        },
        {"type": "policy", "name": "tag", "rules": ["all :: allow"]},
    ]
    text = dump.to_yaml(docs)
    assert "arches: [x86_64]" in text and "- {name: bash, owner: packager}" in text
    assert list(yaml.safe_load_all(text)) == docs
    (tmp_path / "dump.yaml").write_text(text)
    assert len(load(["dump.yaml"], tmp_path).objects) == 3


def test_a_record_of_another_version_is_refused_but_can_be_removed(tmp_path):
    old = record()
    old.format = box.FORMAT - 1
    box.write(tmp_path, old)
    with pytest.raises(box.NoBox, match=r"another version of pytest-boxkoji; `boxkoji down --name default`"):
        box.read(tmp_path, "default")
    assert box.read(tmp_path, "default", any_format=True).marker == "123-abcd1234"  # what down sweeps
