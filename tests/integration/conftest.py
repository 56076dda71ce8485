import pytest

from pytest_boxkoji.environment import Environment


@pytest.fixture(scope="session")
def koji_source_path(boxkoji_environment: Environment):
    """The configured Koji tree, or a skip that says why there is none."""
    from pytest_boxkoji.errors import KojiSourceUnavailable

    try:
        return boxkoji_environment.source().path
    except KojiSourceUnavailable as exc:
        pytest.skip(f"no Koji source tree: {exc}")
