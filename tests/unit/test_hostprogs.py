"""hostprogs: finding host programs, and errors that say how to install them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_boxkoji import hostprogs
from pytest_boxkoji.errors import MissingProgramError
from pytest_boxkoji.hostprogs import Program

MISSING = Program("boxkoji-no-such-prog", "testing", "deb-pkg", "rpm-pkg", ("/nonexistent",))
OTHER_MISSING = Program("boxkoji-no-such-other", "more testing", "deb-other", "rpm-other")
SH = Program("sh", "running scripts", "dash", "bash")


def test_missing_program_error_says_how_to_fix() -> None:
    with pytest.raises(MissingProgramError) as info:
        hostprogs.find(MISSING)
    message = str(info.value)
    for text in (
        "boxkoji-no-such-prog",
        "testing",
        "Checked:",
        "/nonexistent/boxkoji-no-such-prog",
        "apt-get install deb-pkg",
        "dnf install rpm-pkg",
        "--boxkoji-runtime=containers",
    ):
        assert text in message


def test_all_missing_programs_in_one_error() -> None:
    with pytest.raises(MissingProgramError) as info:
        hostprogs.find(MISSING, SH, OTHER_MISSING)
    message = str(info.value)
    assert "boxkoji-no-such-prog, needed for testing" in message
    assert "boxkoji-no-such-other, needed for more testing" in message
    assert "apt-get install deb-other deb-pkg" in message
    assert "dnf install rpm-other rpm-pkg" in message
    assert "  - sh," not in message


def test_existing_program_is_found() -> None:
    [path] = hostprogs.find(SH)
    assert path == Path(shutil.which("sh") or "")


def test_found_paths_keep_order(tmp_path: Path) -> None:
    tool = tmp_path / "boxkoji-tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    extra = Program("boxkoji-tool", "testing", "d", "f", (str(tmp_path),))
    assert hostprogs.find(extra, SH) == [tool, Path(shutil.which("sh") or "")]


def test_extra_dirs_need_executable_files(tmp_path: Path) -> None:
    tool = tmp_path / "boxkoji-tool"
    tool.write_text("not executable\n")
    tool.chmod(0o644)
    program = Program("boxkoji-tool", "testing", "d", "f", (str(tmp_path),))
    assert hostprogs.locate(program) is None


def test_is_file_found_in_extra_dirs(tmp_path: Path) -> None:
    module = tmp_path / "mod_test.so"
    module.write_bytes(b"")  # modules need not be executable
    program = Program("mod_test.so", "testing", "d", "f", (str(tmp_path),), is_file=True)
    assert hostprogs.find(program) == [module]


def test_is_file_ignores_path(tmp_path: Path) -> None:
    # "sh" is on $PATH, but a file is only looked up in extra_dirs.
    program = Program("sh", "testing", "d", "f", (str(tmp_path),), is_file=True)
    assert hostprogs.locate(program) is None
    assert hostprogs.candidates(program) == [str(tmp_path / "sh")]
    with pytest.raises(MissingProgramError) as info:
        hostprogs.find(program)
    assert "$PATH" not in str(info.value)


def test_candidates_start_with_path() -> None:
    places = hostprogs.candidates(MISSING)
    assert places[0].startswith("$PATH (")
    assert places[1:] == ["/nonexistent/boxkoji-no-such-prog"]


def test_an_alternative_name_is_found() -> None:
    apache_or_sh = Program("boxkoji-no-such-prog", "testing", "d", "f", alternatives=(SH,))
    assert hostprogs.locate(apache_or_sh) == Path(shutil.which("sh") or "")
    assert hostprogs.find(apache_or_sh) == [Path(shutil.which("sh") or "")]


def test_the_own_name_comes_before_alternatives(tmp_path: Path) -> None:
    tool = tmp_path / "sh"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    first = Program("sh", "testing", "d", "f", (str(tmp_path),), is_file=True, alternatives=(SH,))
    assert hostprogs.locate(first) == tool


def test_missing_lists_every_alternative() -> None:
    with pytest.raises(MissingProgramError) as info:
        hostprogs.find(Program("boxkoji-no-such-prog", "testing", "d", "f", alternatives=(OTHER_MISSING,)))
    message = str(info.value)
    assert "boxkoji-no-such-prog, needed for testing" in message
    assert "Also checked:" in message
    assert "$PATH" in message.split("Also checked:")[1]
