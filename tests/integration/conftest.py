import os
import shutil
import tempfile
from pathlib import Path

import pytest

from pytest_boxkoji.environment import Environment
from pytest_boxkoji.errors import KojiSourceUnavailable
from pytest_boxkoji.factories import without_koji
from pytest_boxkoji.keys import CONFIG_KEY

FAKE_KOJI = Path(__file__).parent.parent / "data" / "fake-koji"


@pytest.fixture(scope="session")
def koji_source_path(boxkoji_environment: Environment) -> Path:
    """The configured Koji tree, or a skip that says why there is none."""
    try:
        return boxkoji_environment.source().path
    except KojiSourceUnavailable as exc:
        without_koji(boxkoji_environment.config, exc)


@pytest.fixture
def shared_tmp():
    """A directory under /tmp that the service user (nobody, under root) can reach.

    pytest's own tmp_path lives in a 0700 directory, which is fine for ordinary users only.
    """
    path = Path(tempfile.mkdtemp(prefix="boxkoji-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def fake_koji(shared_tmp) -> Path:
    """A tiny stand-in for Koji's tree: enough schema for PostgreSQL tests everywhere."""
    tree = shared_tmp / "fake-koji"
    shutil.copytree(FAKE_KOJI, tree)
    return tree


@pytest.fixture
def child_env(monkeypatch):
    """Environment for nested pytest runs: no BOXKOJI_* leaking in from outside."""
    for name in list(os.environ):
        if name.startswith("BOXKOJI"):
            monkeypatch.delenv(name)
    return os.environ


@pytest.fixture
def outer_args(pytestconfig) -> list[str]:
    """Nested pytest runs use this run's runtime and cache, however they were given (command line,
    BOXKOJI_* variable or ini): child_env removes the variables, so they are passed as options."""
    cfg = pytestconfig.stash[CONFIG_KEY]
    return [f"--boxkoji-runtime={cfg.runtime}", f"--boxkoji-cache-dir={cfg.cache_dir}"]


@pytest.fixture
def run(outer_args):
    """`run(pytester, source, *args)`: a nested pytest run with boxkoji, on this run's runtime and
    cache, Koji from `source`."""

    def nested(pytester, source, *args):
        return pytester.runpytest_subprocess(
            "--boxkoji", f"--boxkoji-koji-source={source}", "-p", "no:cacheprovider", *outer_args, *args
        )

    return nested
