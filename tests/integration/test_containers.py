"""What only the containers runtime has: images, labels, the sweep, nothing left behind."""

import json
import sys
from pathlib import Path

import pytest

from pytest_boxkoji.runtimes import containers

pytestmark = pytest.mark.integration

engine = containers.engine()
needs_engine = pytest.mark.skipif(engine is None, reason=containers.engine_problem() if engine is None else "")

SESSION = """
import json, os
def test_record(boxkoji_environment, kdc, orch):
    orch.checkout("alice", "keytab")
    runtime = boxkoji_environment.runtime
    with open(os.environ["RECORD"], "w") as f:
        json.dump({"marker": runtime.marker, "resources": runtime.resources()}, f)
"""


@needs_engine
def test_a_containers_session_leaves_nothing_behind(pytester, shared_tmp, child_env, monkeypatch):
    record = shared_tmp / "record.json"
    monkeypatch.setenv("RECORD", str(record))
    pytester.makepyfile(test_record=SESSION)
    result = pytester.run(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--boxkoji",
                          "--boxkoji-runtime=containers", "-q")
    assert result.ret == 0, result.outlines
    info = json.loads(record.read_text())
    assert any(name.endswith("-kdc") for name in info["resources"])  # it ran in a container
    label = f"{containers.LABEL}={info['marker']}"
    assert engine.containers.list(all=True, filters={"label": label}) == []
    assert engine.networks.list(filters={"label": label}) == []
    assert engine.volumes.list(filters={"label": label}) == []


@needs_engine
def test_the_sweep_removes_what_a_crashed_session_left():
    image = containers.Images(engine, Path("/var/cache/pytest-boxkoji")).ensure("base")
    labels = {containers.LABEL: "crashed-session", containers.PID_LABEL: "999999999"}
    network = engine.networks.create("boxkoji-crashed-session", labels=labels)
    leftover = engine.containers.create(image, ["sleep", "60"], labels=labels)
    removed = containers.sweep_stale(engine)
    assert leftover.name in removed and network.name in removed
    assert engine.containers.list(all=True, filters={"label": f"{containers.LABEL}=crashed-session"}) == []


@needs_engine
def test_images_are_tagged_by_their_inputs_and_labelled():
    images = containers.Images(engine, Path("/var/cache/pytest-boxkoji"))
    tag = images.ensure("kdc")
    assert tag.startswith("localhost/boxkoji-kdc:")
    assert images.ensure("kdc") == tag  # cached: same inputs, same tag, nothing rebuilt
    assert engine.images.get(tag).labels.get("io.pytest-boxkoji.image") == "kdc"


def test_runtime_auto_says_what_is_missing_for_each(monkeypatch):
    from pytest_boxkoji import environment, hostprogs
    from pytest_boxkoji.config import BoxKojiConfig
    from pytest_boxkoji.errors import BoxKojiError

    monkeypatch.setattr(hostprogs, "locate", lambda program: None)
    monkeypatch.setattr(containers, "engine", lambda: None)
    with pytest.raises(BoxKojiError) as error:
        environment.choose_runtime(BoxKojiConfig(runtime="auto"), "m", Path("/tmp"))
    text = str(error.value)
    assert "--boxkoji-runtime=auto found neither runtime usable" in text
    assert "krb5kdc, needed for the Kerberos KDC" in text and "apt-get install" in text
    assert "No container engine answered" in text and "podman system service" in text
