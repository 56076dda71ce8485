"""What only the containers runtime has: images, labels, the sweep, nothing left behind."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_boxkoji.keys import CONFIG_KEY
from pytest_boxkoji.runtimes import containers

pytestmark = pytest.mark.integration

engine, engine_problem = containers.probe()
needs_engine = pytest.mark.skipif(engine is None, reason=engine_problem)

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
    result = pytester.run(
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "--boxkoji",
        "--boxkoji-runtime=containers",
        "-q",
    )
    assert result.ret == 0, result.outlines
    info = json.loads(record.read_text())
    assert any(name.endswith("-kdc") for name in info["resources"])  # it ran in a container
    label = f"{containers.LABEL}={info['marker']}"
    assert containers.listed(engine, label) == []
    assert engine.networks.list(filters={"label": label}) == []
    assert engine.volumes.list(filters={"label": label}) == []


@pytest.fixture
def cache_dir(pytestconfig):
    """The cache this run was configured with (--boxkoji-cache-dir, BOXKOJI_CACHE_DIR, default)."""
    return pytestconfig.stash[CONFIG_KEY].cache_dir


@needs_engine
def test_the_sweep_removes_what_a_crashed_session_left(cache_dir, monkeypatch):
    image = containers.Images(engine, cache_dir).ensure("base")
    # The "crashed" session's process is a sleep that only this test's sweep is told is dead:
    # other sessions on the machine (the other xdist worker's) sweep too and would otherwise
    # remove it first. Not this process's pid: its own session's containers name it too.
    stand_in = subprocess.Popen(["sleep", "300"])
    try:
        crashed = str(stand_in.pid)
        alive = containers.engine._alive
        monkeypatch.setattr(containers.engine, "_alive", lambda pid: pid != crashed and alive(pid))
        labels = {containers.LABEL: "crashed-session", containers.PID_LABEL: crashed}
        network = engine.networks.create("boxkoji-crashed-session", labels=labels)
        leftover = engine.containers.create(image, ["sleep", "60"], labels=labels)
        removed = containers.sweep_stale(engine)
    finally:
        stand_in.kill()
        stand_in.wait()
    assert leftover.name in removed and network.name in removed
    assert containers.listed(engine, f"{containers.LABEL}=crashed-session") == []


def no_build(images, monkeypatch):
    monkeypatch.setattr(
        images, "_build", lambda *args: pytest.fail(f"rebuilt {args[1]} with unchanged inputs")
    )
    return images


def recorded_builds(images, monkeypatch):
    built = []
    monkeypatch.setattr(images, "_build", lambda context, tag, args, name: built.append(name))
    return built


@needs_engine
def test_images_are_tagged_by_their_inputs_and_labelled(cache_dir, monkeypatch, tmp_path):
    tag = containers.Images(engine, cache_dir).ensure("kdc")  # built here if it was missing
    assert tag.startswith("localhost/boxkoji-kdc:")
    assert engine.images.get(tag).labels.get("io.pytest-boxkoji.image") == "kdc"

    # A new session (nothing remembered in memory) finds the same images and builds nothing.
    assert no_build(containers.Images(engine, cache_dir), monkeypatch).ensure("kdc") == tag

    # Another base image: every image is another tag, built again.
    other_base = containers.Images(engine, cache_dir, base_image="localhost/some-other-debian:12")
    built = recorded_builds(other_base, monkeypatch)
    assert other_base.ensure("kdc") != tag and built == ["base", "kdc"]

    # An edited Dockerfile: that image only.
    edited = tmp_path / "images"
    shutil.copytree(containers.DOCKERFILES, edited)
    with (edited / "kdc" / "Dockerfile").open("a") as dockerfile:
        dockerfile.write("# edited\n")
    monkeypatch.setattr(containers.images, "DOCKERFILES", edited)  # where Images reads it
    images = containers.Images(engine, cache_dir)
    built = recorded_builds(images, monkeypatch)
    assert images.ensure("kdc") != tag and built == ["kdc"]


def test_runtime_auto_says_what_is_missing_for_each(monkeypatch):
    from pytest_boxkoji import environment, hostprogs
    from pytest_boxkoji.config import BoxKojiConfig
    from pytest_boxkoji.errors import BoxKojiError

    monkeypatch.setattr(hostprogs, "locate", lambda program: None)
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(BoxKojiError) as error:
        environment.choose_runtime(BoxKojiConfig(runtime="auto"), "m", Path("/tmp"))
    text = str(error.value)
    assert "--boxkoji-runtime=auto found neither runtime usable" in text
    assert "krb5kdc, needed for the Kerberos KDC" in text and "apt-get install" in text
    assert "No container engine answered at unix:///nonexistent/docker.sock" in text
    assert "podman system service" in text and "boxkoji doctor" in text


def test_without_the_extra_the_runtime_says_to_install_it(monkeypatch):
    from pytest_boxkoji import environment
    from pytest_boxkoji.config import BoxKojiConfig
    from pytest_boxkoji.errors import BoxKojiError

    monkeypatch.setitem(sys.modules, "docker", None)  # as if not installed: import raises
    with pytest.raises(BoxKojiError) as error:
        environment.choose_runtime(BoxKojiConfig(runtime="containers"), "m", Path("/tmp"))
    text = str(error.value)
    assert "needs the `containers` extra" in text
    assert "pip install 'pytest-boxkoji[containers]'" in text
    assert "No container engine answered" not in text
