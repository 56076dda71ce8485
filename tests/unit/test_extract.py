"""Unpacking a given tarball: what Python's "data" filter allows, also on Python < 3.11.4 (Debian
12's 3.11.2 has no filters; the plugin checks the members itself there)."""

import io
import tarfile

import pytest

from pytest_boxkoji.errors import BoxKojiError, KojiSourceError
from pytest_boxkoji.kojisrc import extract_safely


def archive(tmp_path, *links):
    path = tmp_path / "a.tar"
    with tarfile.open(path, "w") as tar:
        data = b"text"
        member = tarfile.TarInfo("top/CONTRIBUTING.md")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
        for name, target in links:
            link = tarfile.TarInfo(name)
            link.type = tarfile.SYMTYPE
            link.linkname = target
            tar.addfile(link)
    return path


# Both ways where this Python has filters; Debian 12's 3.11.2 has only the plugin's own checks.
WAYS = ["no filters", *(["filters"] if hasattr(tarfile, "data_filter") else [])]
REFUSED = (BoxKojiError, *([tarfile.FilterError] if hasattr(tarfile, "FilterError") else []))


@pytest.fixture(params=WAYS)
def python(request, monkeypatch):
    if request.param == "no filters":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    return request.param


def test_a_link_that_stays_inside_is_unpacked(tmp_path, python):
    # As mock's own tarball has it: .gemini/styleguide.md -> ../CONTRIBUTING.md
    path = archive(tmp_path, ("top/.gemini/styleguide.md", "../CONTRIBUTING.md"))
    with tarfile.open(path) as tar:
        extract_safely(tar, tmp_path / "out")
    assert (tmp_path / "out" / "top" / ".gemini" / "styleguide.md").read_text() == "text"


def test_a_link_out_of_the_archive_is_refused(tmp_path, python):
    path = archive(tmp_path, ("top/evil", "../../etc/passwd"))
    with tarfile.open(path) as tar, pytest.raises(REFUSED):
        extract_safely(tar, tmp_path / "out", KojiSourceError)
