"""Invalid scenarios against the real hub: rejected with their exact message, nothing changed."""

import sys
from pathlib import Path

import pytest

from pytest_boxkoji.scenario.loader import ScenarioError

sys.path.insert(0, str(Path(__file__).parent.parent / "unit"))
from test_scenario_corpus import CORPUS, FILES, header  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.needs_koji]


def hub_state(session):
    return (
        session.getLastEvent()["id"],
        sorted(t["name"] for t in session.listTags()),
        sorted(u["name"] for u in session.listUsers()),
        sorted(h["name"] for h in session.listHosts()),
        session.getBuildTargets(),
    )


@pytest.mark.parametrize("name", FILES)
def test_rejected_and_hub_unchanged(boxkoji, name):
    before = hub_state(boxkoji.admin_session())
    with pytest.raises(ScenarioError) as e:
        boxkoji.scenarios.prepare([name], near=CORPUS)
    assert str(e.value).splitlines() == header(name)[0]
    assert hub_state(boxkoji.admin_session()) == before


def test_marker_with_a_bad_scenario_fails_the_test_with_the_message(pytester, koji_source_path, child_env):
    (pytester.path / "bad.yaml").write_text(
        "type: target\nname: dist\nbuild-tag: nowhere\ndest-tag: nowhere\n"
    )
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.koji_scenario("bad.yaml")
        def test_x(koji_admin):
            raise AssertionError("must not run")
        """
    )
    result = pytester.runpytest_subprocess("--boxkoji", f"--boxkoji-koji-source={koji_source_path}")
    result.assert_outcomes(errors=1)
    assert "During handling" not in result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*scenario bad.yaml was not applied (nothing changed):*",
            "bad.yaml:3: target[[]dist[]].build-tag: no tag 'nowhere'; declare it (type: tag)",
        ]
    )
