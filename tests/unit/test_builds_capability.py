"""Whether builders build, and what a user is told when they cannot (no Koji, no mock needed)."""

from dataclasses import replace
from pathlib import Path

import pytest

from pytest_boxkoji.builds import capability, mock
from pytest_boxkoji.config import BoxKojiConfig
from pytest_boxkoji.errors import BoxKojiError


def config(tmp_path, **values):
    return replace(BoxKojiConfig(), cache_dir=tmp_path, **values)


def test_builds_no_refuses_and_says_so(tmp_path):
    builds = capability.decide(config(tmp_path, builds="no"), own_filesystem=False, progress=print)
    assert builds.mock is None
    assert builds.reason == "this environment's builders do not build (--boxkoji-builds=no)"


def test_a_missing_mock_source_is_named_with_every_way_to_fix_it(tmp_path):
    with pytest.raises(BoxKojiError) as raised:
        mock.resolve(str(tmp_path / "nowhere.tar.gz"), tmp_path)
    text = str(raised.value)
    assert f"--boxkoji-mock-source={str(tmp_path / 'nowhere.tar.gz')!r}: " in text
    assert "does not exist" in text
    assert "BOXKOJI_MOCK_SOURCE" in text and "system" in text


def test_a_directory_without_mock_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(BoxKojiError, match="holds no mock-\\*.tar.gz and is not a mock checkout"):
        mock.resolve(str(tmp_path / "empty"), tmp_path)


def test_auto_keeps_refusing_with_the_reason_where_yes_fails(tmp_path):
    missing = str(tmp_path / "nowhere")
    auto = capability.decide(config(tmp_path, mock_source=missing), own_filesystem=True, progress=print)
    assert auto.mock is None and "does not exist" in auto.reason
    with pytest.raises(BoxKojiError, match="does not exist"):
        capability.decide(
            config(tmp_path, builds="yes", mock_source=missing), own_filesystem=True, progress=print
        )


def test_processes_builds_need_root(tmp_path):
    builds = capability.decide(config(tmp_path), own_filesystem=False, progress=print, euid=1000)
    assert builds.mock is None
    assert builds.reason.startswith("builds on the processes runtime need root")


def test_a_record_gives_back_the_same_builds(tmp_path):
    made = capability.Builds(mock.Mock(Path("/x/bin/mock"), "6.7", "here", Path("/x/mock"), Path("/td.tgz")))
    assert capability.restored(capability.recorded(made)) == made
    refused = capability.Builds(None, "why not")
    assert capability.restored(capability.recorded(refused)) == refused
