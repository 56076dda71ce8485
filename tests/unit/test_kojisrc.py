"""kojisrc.resolve: a local tree, a git repository at a ref, or a downloaded release."""

from __future__ import annotations

import functools
import http.server
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_boxkoji import kojisrc
from pytest_boxkoji.errors import KojiSourceError, KojiSourceUnavailable


def make_tree(path: Path, version: str = "9.8.7") -> Path:
    (path / "kojihub").mkdir(parents=True)
    (path / "kojihub" / "__init__.py").write_text("")
    (path / "schemas").mkdir()
    (path / "schemas" / "schema.sql").write_text("CREATE TABLE users (id INTEGER);\n")
    (path / "koji.spec").write_text(f"Name: koji\nVersion: {version}\nRelease: 1\n")
    return path


def git(repo: Path, *args: str) -> str:
    cmd = ["git", "-c", "user.email=test@koji.box", "-c", "user.name=Test", "-C", str(repo), *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "koji")


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def repo(tree: Path) -> Path:
    git(tree, "init", "--quiet")
    git(tree, "add", ".")
    git(tree, "commit", "--quiet", "-m", "first")
    git(tree, "tag", "v1")
    return tree


@pytest.fixture
def releases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory served over HTTP on 127.0.0.1, and RELEASE_URL pointing at it."""
    served = tmp_path / "releases"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    monkeypatch.setattr(kojisrc, "RELEASE_URL", f"http://127.0.0.1:{port}/koji-{{version}}.tar.bz2")
    yield served
    server.shutdown()
    server.server_close()
    thread.join()


def make_release(served: Path, tmp_path: Path, version: str) -> Path:
    tree = make_tree(tmp_path / "build" / f"koji-{version}", version)
    tarball = served / f"koji-{version}.tar.bz2"
    with tarfile.open(tarball, "w:bz2") as tar:
        tar.add(tree, arcname=f"koji-{version}")
    return tarball


# Local trees


def test_local_tree_resolves_to_itself(tree: Path, cache: Path) -> None:
    source = kojisrc.resolve(str(tree), cache)
    assert source.path == tree.resolve()
    assert source.version == "9.8.7"
    assert source.schema == tree.resolve() / "schemas" / "schema.sql"
    assert "local tree" in source.origin
    assert not cache.exists()


def test_spec_is_stripped(tree: Path, cache: Path) -> None:
    assert kojisrc.resolve(f"  {tree}\n", cache).path == tree.resolve()


@pytest.mark.parametrize(
    ("present", "missing"),
    [
        ([], ["kojihub", "schemas/schema.sql"]),
        (["kojihub"], ["schemas/schema.sql"]),
        (["schemas"], ["kojihub", "schemas/schema.sql"]),
    ],
)
def test_not_a_koji_tree(tmp_path: Path, cache: Path, present: list[str], missing: list[str]) -> None:
    directory = tmp_path / "not-koji"
    directory.mkdir()
    for name in present:
        (directory / name).mkdir()
    with pytest.raises(KojiSourceError) as info:
        kojisrc.resolve(str(directory), cache)
    message = str(info.value)
    for name in missing:
        assert f"no {name}" in message
    for way in ("source tree", "git", "release"):
        assert way in message


def test_nonexistent_path(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(KojiSourceError, match="not a directory, a git repository or a version"):
        kojisrc.resolve(str(tmp_path / "nowhere"), cache)


def test_tree_version_from_setup_py(tmp_path: Path) -> None:
    (tmp_path / "setup.py").write_text("setup(name='koji', version='1.2.3')\n")
    assert kojisrc.tree_version(tmp_path) == "1.2.3"


def test_tree_version_unknown(tmp_path: Path) -> None:
    assert kojisrc.tree_version(tmp_path) == "unknown"
    (tmp_path / "koji.spec").write_text("Name: koji\n")
    assert kojisrc.tree_version(tmp_path) == "unknown"


# Git repositories


def test_git_tag(repo: Path, cache: Path) -> None:
    source = kojisrc.resolve(f"{repo}@v1", cache)
    assert source.path.parent == cache / "koji"
    assert source.path.name.startswith("git-")
    assert source.version == "9.8.7"
    assert (source.path / "kojihub" / "__init__.py").is_file()
    assert source.schema.read_text() == (repo / "schemas" / "schema.sql").read_text()
    assert not (source.path / ".git").exists()
    assert "v1" in source.origin


def test_git_resolution_is_cached(repo: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = kojisrc.resolve(f"{repo}@v1", cache)
    (first.path / "marker").write_text("still here")
    monkeypatch.setattr(kojisrc, "_unpack", lambda *args: pytest.fail("archived and unpacked again"))
    again = kojisrc.resolve(f"{repo}@v1", cache)
    assert again.path == first.path
    assert (again.path / "marker").read_text() == "still here"


def test_git_new_commit_gives_new_directory(repo: Path, cache: Path) -> None:
    first = kojisrc.resolve(f"{repo}@v1", cache)
    (repo / "koji.spec").write_text("Name: koji\nVersion: 9.8.8\n")
    git(repo, "commit", "--quiet", "-am", "second")
    second = kojisrc.resolve(f"{repo}@HEAD", cache)
    assert second.path != first.path
    assert second.path.parent == cache / "koji"
    assert second.version == "9.8.8"
    assert kojisrc.tree_version(first.path) == "9.8.7"


def test_git_unknown_ref(repo: Path, cache: Path) -> None:
    with pytest.raises(KojiSourceError, match="no-such-ref"):
        kojisrc.resolve(f"{repo}@no-such-ref", cache)


def test_git_bare_repository(repo: Path, tmp_path: Path, cache: Path) -> None:
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(repo), str(bare)], check=True)
    source = kojisrc.resolve(str(bare), cache)
    assert source.path.parent == cache / "koji"
    assert source.version == "9.8.7"


# Releases


def test_release_unreachable_explicit(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kojisrc, "RELEASE_URL", "http://127.0.0.1:9/koji-{version}.tar.bz2")
    with pytest.raises(KojiSourceError) as info:
        kojisrc.resolve("0.0.1", cache, explicit=True)
    assert type(info.value) is KojiSourceError
    assert "0.0.1" in str(info.value)


def test_release_unreachable_default(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kojisrc, "RELEASE_URL", "http://127.0.0.1:9/koji-{version}.tar.bz2")
    with pytest.raises(KojiSourceUnavailable):
        kojisrc.resolve("0.0.1", cache, explicit=False)


def test_release_download(releases: Path, tmp_path: Path, cache: Path) -> None:
    make_release(releases, tmp_path, "0.0.2")
    source = kojisrc.resolve("0.0.2", cache)
    assert source.path == cache / "koji" / "koji-0.0.2"
    assert source.path == kojisrc.release_dir(cache, "0.0.2")
    assert source.version == "0.0.2"
    assert source.schema.is_file()
    assert "downloaded" in source.origin


def test_release_is_cached(releases: Path, tmp_path: Path, cache: Path) -> None:
    tarball = make_release(releases, tmp_path, "0.0.2")
    kojisrc.resolve("0.0.2", cache)
    tarball.unlink()  # a second resolution must not download again
    source = kojisrc.resolve("0.0.2", cache)
    assert source.path == cache / "koji" / "koji-0.0.2"
    assert "cached" in source.origin


def test_release_missing_on_server(releases: Path, cache: Path) -> None:
    with pytest.raises(KojiSourceError, match="could not be downloaded"):
        kojisrc.resolve("0.0.4", cache)


def test_release_checksum_mismatch(
    releases: Path, tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_release(releases, tmp_path, "0.0.3")
    monkeypatch.setattr(kojisrc, "RELEASE_SHA256", {"0.0.3": "0" * 64})
    with pytest.raises(KojiSourceError, match="checksum"):
        kojisrc.resolve("0.0.3", cache)
    assert not (cache / "koji" / "koji-0.0.3").exists()


# Release tarballs on disk


def test_tarball_is_unpacked_once_into_the_cache(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tarball = make_release(tmp_path, tmp_path, "0.0.7")
    source = kojisrc.resolve(str(tarball), cache)
    assert source.version == "0.0.7"
    assert source.path.parent == cache / "koji" and source.path.name.startswith("koji-0.0.7-")
    assert (source.path / "kojihub" / "__init__.py").is_file()
    assert "tarball" in source.origin
    monkeypatch.setattr(kojisrc, "_unpack", lambda *args: pytest.fail("unpacked again"))
    assert kojisrc.resolve(str(tarball), cache).path == source.path


def test_another_tarball_under_the_same_name_is_not_mistaken_for_the_cached_one(
    tmp_path: Path, cache: Path
) -> None:
    (tmp_path / "a").mkdir()
    first = kojisrc.resolve(str(make_release(tmp_path / "a", tmp_path / "a", "0.0.8")), cache)
    # Same file name, other content (a rebuilt tree).
    (tmp_path / "b").mkdir()
    rebuilt = tmp_path / "b" / "koji-0.0.8.tar.bz2"
    with tarfile.open(rebuilt, "w:bz2") as tar:
        tree = make_tree(tmp_path / "b" / "other" / "koji-0.0.8", "0.0.8")
        (tree / "kojihub" / "changed.py").write_text("")
        tar.add(tree, arcname="koji-0.0.8")
    second = kojisrc.resolve(str(rebuilt), cache)
    assert second.path != first.path
    assert (second.path / "kojihub" / "changed.py").exists()


def test_missing_tarball_names_the_file(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(KojiSourceError, match=r"nowhere/koji-1\.35\.3\.tar\.bz2': no such file"):
        kojisrc.resolve(str(tmp_path / "nowhere" / "koji-1.35.3.tar.bz2"), cache)
    assert not (cache / "koji").exists() or not list((cache / "koji").iterdir())


def test_a_tarball_that_is_not_koji_leaves_nothing(tmp_path: Path, cache: Path) -> None:
    tree = tmp_path / "not-koji"
    (tree / "src").mkdir(parents=True)
    tarball = tmp_path / "not-koji.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(tree, arcname="not-koji")
    with pytest.raises(KojiSourceError, match="is not a Koji source tree"):
        kojisrc.resolve(str(tarball), cache)
    assert [p.name for p in (cache / "koji").iterdir() if not p.name.endswith(".lock")] == []
