"""Invalid scenarios against the real hub: rejected with their exact message, nothing changed."""

import pytest

from pytest_boxkoji.scenario.loader import ScenarioError

# Files the loader refuses never reach the hub: tests/unit/test_scenario_corpus.py checks each
# message. These tests are about what only the hub refuses, after part of a scenario is applied.
pytestmark = [pytest.mark.integration, pytest.mark.needs_koji]

# The loader accepts any user name; Koji's RegexUserName does not. The tag is created first.
REFUSED = """\
type: tag
name: made-before-the-refusal
---
type: user
name: "not a koji name!"
"""


def test_what_the_hub_refuses_names_the_object_and_changes_nothing(boxkoji, tmp_path):
    (tmp_path / "refused.yaml").write_text(REFUSED)
    admin = boxkoji.admin_session()
    event = admin.getLastEvent()["id"]
    with pytest.raises(ScenarioError) as info:
        boxkoji.scenarios.prepare(["refused.yaml"], near=tmp_path)
    message = str(info.value)
    assert message.startswith("refused.yaml:4: user[not a koji name!]: the hub refused it: ")
    assert "RegexUserName" in message
    admin = boxkoji.admin_session()
    assert admin.getTag("made-before-the-refusal") is None
    assert admin.getLastEvent()["id"] == event


def test_marker_with_a_bad_scenario_fails_the_test_with_the_message(
    pytester, koji_source_path, child_env, outer_args
):
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
    result = pytester.runpytest_subprocess(
        "--boxkoji", f"--boxkoji-koji-source={koji_source_path}", *outer_args
    )
    result.assert_outcomes(errors=1)
    assert "During handling" not in result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*scenario bad.yaml was not applied (nothing changed):*",
            "bad.yaml:3: target[[]dist[]].build-tag: no tag 'nowhere'; declare it (type: tag)",
        ]
    )
