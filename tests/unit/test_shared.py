"""What decides sharing under pytest-xdist, and the names that keep workers apart on one cluster."""

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_boxkoji.config import config_from_environment
from pytest_boxkoji.scenario.snapshots import Snapshots
from pytest_boxkoji.shared import sharing


def test_sharing_is_on_by_default_and_off_when_asked():
    on = config_from_environment({"boxkoji": True}, env={})
    assert on.xdist_share and sharing(on)
    off = config_from_environment({"boxkoji": True, "boxkoji_xdist_share": "no"}, env={})
    assert not off.xdist_share and not sharing(off)
    assert not sharing(config_from_environment({"boxkoji": True}, env={"BOXKOJI_XDIST_SHARE": "no"}))


def test_a_kept_or_reused_environment_is_not_shared():
    on = config_from_environment({"boxkoji": True}, env={})
    assert not sharing(replace(on, keep=True))
    assert not sharing(replace(on, reuse=True))
    assert not sharing(replace(on, enabled=False))


def test_a_bad_value_names_the_option_and_the_choices():
    with pytest.raises(pytest.UsageError, match=r"--boxkoji-xdist-share.*'yes' is not one of auto, no"):
        config_from_environment({"boxkoji": True, "boxkoji_xdist_share": "yes"}, env={})


def snapshots(database: str, tmp_path: Path) -> Snapshots:
    store = Snapshots(SimpleNamespace(database=database), tmp_path / "topdir", tmp_path / "store")
    store.close()
    return store


def test_snapshot_names_carry_the_workers_database(tmp_path):
    # The plain `koji` keeps the names kept environments already have.
    assert snapshots("koji", tmp_path)._db("empty") == "boxkoji_snap_empty"
    gw0, gw1 = snapshots("koji_gw0", tmp_path)._db("empty"), snapshots("koji_gw1", tmp_path)._db("empty")
    assert (gw0, gw1) == ("boxkoji_koji_gw0_snap_empty", "boxkoji_koji_gw1_snap_empty")
    assert snapshots("koji_gw1", tmp_path)._copy_db("s1") == "boxkoji_koji_gw1_snap_s1_copy"
