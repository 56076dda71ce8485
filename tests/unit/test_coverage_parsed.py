"""Koji's files parsed once for coverage reports (coverage/parsed.py): the report is the same, and
a kept parse is used instead of parsing again."""

import coverage
import pytest
from coverage.parser import PythonParser

from pytest_boxkoji.coverage import data
from pytest_boxkoji.coverage.parsed import ParsedSources, default_exclude

SOURCE = """\
def used(x):
    if x:
        return 1
    return 2


def unused():  # pragma: no cover
    return 3


def missed():
    return 4
"""


def measured_data(tmp_path, branch):
    """Real coverage data of `used(1)` in a module under tmp_path/src."""
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    module = src / "mod.py"
    module.write_text(SOURCE)
    data_file = tmp_path / f".coverage-{branch}"
    cov = coverage.Coverage(data_file=str(data_file), branch=branch, source=[str(src)], config_file=False)
    cov.start()
    namespace: dict = {}
    exec(compile(module.read_text(), str(module), "exec"), namespace)
    namespace["used"](1)
    cov.stop()
    cov.save()
    return data_file, module


@pytest.mark.parametrize("branch", [False, True])
def test_a_report_from_kept_parses_is_the_same(tmp_path, branch):
    data_file, module = measured_data(tmp_path, branch)
    parsed = ParsedSources(tmp_path / "cache")
    plain = data._load(data_file, None)
    first = data._load(data_file, parsed)  # parses and keeps
    again = data._load(data_file, parsed)  # reads what was kept
    results = [cov.analysis2(str(module)) for cov in (plain, first, again)]
    assert results[0] == results[1] == results[2]
    assert results[0][3] == [4, 12]  # missing; unused() excluded by its pragma
    assert list(parsed.directory.glob("*.pickle"))


def test_a_kept_parse_is_not_parsed_again_and_an_edit_is(tmp_path, monkeypatch):
    _, module = measured_data(tmp_path, False)
    parsed = ParsedSources(tmp_path / "cache")
    assert parsed.parser(str(module), default_exclude()) is not None

    def no_parsing(self):
        raise AssertionError("parsed again")

    monkeypatch.setattr(PythonParser, "parse_source", no_parsing)
    assert parsed.parser(str(module), default_exclude()).statements
    module.write_text(SOURCE + "\nx = 1\n")
    with pytest.raises(AssertionError, match="parsed again"):
        parsed.parser(str(module), default_exclude())


def test_the_background_parse_keeps_every_file(tmp_path):
    _, module = measured_data(tmp_path, False)
    parsed = ParsedSources(tmp_path / "cache")
    assert parsed.prepare([module, tmp_path / "no-such-file.py"]).wait() == 0
    assert len(list(parsed.directory.glob("*.pickle"))) == 1


def test_what_is_not_python_is_left_to_coverage(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("def (:\n")
    assert ParsedSources(tmp_path / "cache").parser(str(broken), default_exclude()) is None
