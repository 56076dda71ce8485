"""Checking scenarios without Koji: the pytest flag and the `boxkoji` command."""

import subprocess
import sys
from pathlib import Path

import pytest

GOOD = (
    "type: tag\nname: dist-base\n---\ntype: target\nname: dist\nbuild-tag: dist-base\ndest-tag: dist-base\n"
)
BAD = "type: tag\nname: dist-build\ninheritance: [dist-base]\n"


def test_validate_flag_checks_what_the_tests_name_without_starting_anything(pytester):
    pytester.makefile(".yaml", good=GOOD, bad=BAD)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.koji_scenario("good.yaml")
        def test_good(): raise AssertionError("must not run")

        @pytest.mark.koji_scenario("bad.yaml")
        class TestBad:
            def test_one(self): raise AssertionError("must not run")

        @pytest.mark.koji_scenario("base.yaml")
        def test_shipped(): raise AssertionError("must not run")
        """
    )
    result = pytester.runpytest("--boxkoji-validate-scenarios")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*ok    good.yaml: 2 objects (1 tests)*",
            "*FAIL  bad.yaml*",
            "bad.yaml:3: tag[[]dist-build[]].inheritance[[]0[]].name: no tag 'dist-base'; declare it (type: tag)",
            "*ok    base.yaml: * objects (1 tests)*",
            "*3 scenarios checked, 1 with problems*",
        ]
    )


def test_validate_flag_passes_when_all_are_good(pytester):
    pytester.makefile(".yaml", good=GOOD)
    pytester.makepyfile('import pytest\n@pytest.mark.koji_scenario("good.yaml")\ndef test_x(): pass\n')
    result = pytester.runpytest("--boxkoji-validate-scenarios")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*1 scenarios checked, 0 with problems*"])


def test_scenario_dirs_option_is_searched(pytester):
    shared = pytester.mkdir("shared")
    (shared / "team.yaml").write_text(GOOD)
    pytester.makepyfile('import pytest\n@pytest.mark.koji_scenario("team.yaml")\ndef test_x(): pass\n')
    assert pytester.runpytest("--boxkoji-validate-scenarios").ret == 1
    result = pytester.runpytest("--boxkoji-validate-scenarios", "--boxkoji-scenarios=shared")
    assert result.ret == 0


@pytest.mark.parametrize("content, code", [(GOOD, 0), (BAD, 1)])
def test_boxkoji_command(tmp_path, content, code):
    (tmp_path / "s.yaml").write_text(content)
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "boxkoji"),
            "scenario",
            "validate",
            "s.yaml",
        ],  # the installed command
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == code
    if code:
        assert (
            done.stderr.strip()
            == "s.yaml:3: tag[dist-build].inheritance[0].name: no tag 'dist-base'; declare it (type: tag)"
        )
    else:
        assert done.stdout.strip() == "ok: s.yaml: 1 tag, 1 target"


def test_marker_without_files_is_an_error(pytester):
    pytester.makepyfile("import pytest\n@pytest.mark.koji_scenario()\ndef test_x(koji_admin): pass\n")
    result = pytester.runpytest("--boxkoji-validate-scenarios")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*FAIL  *test_x: @pytest.mark.koji_scenario needs at least one file name*"])
