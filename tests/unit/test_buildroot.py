"""The offline buildroot's pure logic: dpkg's database read, the closure, spec text, comps."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_boxkoji.builds import buildroot
from pytest_boxkoji.builds.buildroot import (
    BASE,
    BUILD_GROUP,
    FEDORA_NAMES,
    SEED,
    SRPM_BUILD_GROUP,
    Entry,
    Installed,
    Recipe,
    canonical,
    closure,
    closure_key,
    comps_xml,
    merged_dirs,
    parse_alternative,
    parse_depends,
    parse_file_list,
    parse_installed,
    resolve,
    rpm_evr,
    spec_text,
)
from pytest_boxkoji.errors import BoxKojiError

MERGED = {"/bin": "/usr/bin", "/sbin": "/usr/sbin", "/lib": "/usr/lib", "/lib64": "/usr/lib64"}


def test_depends_keep_names_only() -> None:
    text = "libc6 (>= 2.34), libgcc-s1 | libgcc1, perl:any, debconf (>= 0.5) | debconf-2.0, foo [amd64] <!nocheck>"
    assert parse_depends(text) == (
        ("libc6",),
        ("libgcc-s1", "libgcc1"),
        ("perl",),
        ("debconf", "debconf-2.0"),
        ("foo",),
    )
    assert parse_depends("") == ()


def line(*values: str) -> str:
    return "\t".join(values)


def test_installed_packages_native_and_all_only() -> None:
    text = "\n".join(
        [
            line(
                "bash",
                "bash",
                "amd64",
                "5.2.15-2+b7",
                "ii ",
                "yes",
                "",
                "base-files (>= 2.1.12), debianutils",
                "",
            ),
            line("libc6:amd64", "libc6", "amd64", "2.36-9", "ii ", "", "", "libgcc-s1", ""),
            line("libc6:i386", "libc6", "i386", "2.36-9", "ii ", "", "", "", ""),
            line("mawk", "mawk", "amd64", "1.3.4-1", "ii ", "", "libc6 (>= 2.34)", "", "awk"),
            line("gone", "gone", "amd64", "1", "rc ", "", "", "", ""),
            line("tzdata", "tzdata", "all", "2024a-0+deb12u1", "ii ", "", "", "debconf | debconf-2.0", ""),
        ]
    )
    installed = parse_installed(text, "amd64")
    assert sorted(installed) == ["bash", "libc6", "mawk", "tzdata"]
    assert installed["bash"].essential and not installed["mawk"].essential
    assert installed["bash"].depends == (("base-files",), ("debianutils",))
    assert installed["libc6"].query_name == "libc6:amd64" and installed["libc6"].arch == "amd64"
    assert installed["mawk"].depends == (("libc6",),) and installed["mawk"].provides == ("awk",)


def pkg(name: str, depends: str = "", provides: str = "", essential: bool = False) -> Installed:
    virtual = tuple(names[0] for names in parse_depends(provides))
    return Installed(name, name, "amd64", "1.0-1", essential, parse_depends(depends), virtual)


def test_alternatives_resolve_to_what_is_installed() -> None:
    installed = {p.name: p for p in (pkg("libgcc-s1"), pkg("mawk", provides="awk"), pkg("debconf"))}
    assert resolve(("libgcc1", "libgcc-s1"), installed) == "libgcc-s1"
    assert resolve(("awk",), installed) == "mawk"  # a virtual package, by who provides it
    assert resolve(("cdebconf", "debconf"), installed) == "debconf"
    assert resolve(("nothing",), installed) is None


def test_closure_follows_depends_from_seed_and_essential() -> None:
    installed = {
        p.name: p
        for p in (
            pkg("gcc", depends="cpp (>= 4), libc6"),
            pkg("cpp", depends="libc6"),
            pkg("libc6", depends="libgcc-s1"),
            pkg("libgcc-s1", depends="libc6"),
            pkg("libc6-dev", depends="libc6"),
            pkg("dash", depends="debianutils | nothing", essential=True),
            pkg("debianutils"),
            pkg("unrelated", depends="libc6"),
        )
    }
    requires = closure(installed, ["gcc"])
    assert sorted(requires) == ["cpp", "dash", "debianutils", "gcc", "libc6", "libc6-dev", "libgcc-s1"]
    assert requires["gcc"] == ("cpp", "libc6", "libc6-dev")  # Fedora's gcc needs the headers too
    assert requires["libc6"] == ("libgcc-s1",)  # cycles are fine


def test_closure_names_every_missing_seed_and_the_fix() -> None:
    fix = r"not installed: rpm unzip\.\nTo fix this: apt-get install rpm unzip"
    with pytest.raises(BoxKojiError, match=fix):
        closure({"bash": pkg("bash")}, ["bash", "rpm", "unzip"])


def test_closure_key_is_stable_and_follows_versions_and_dependencies() -> None:
    installed = {p.name: p for p in (pkg("a", depends="b"), pkg("b"))}
    key = closure_key({"a": ("b",), "b": ()}, installed)
    assert key == closure_key({"b": (), "a": ("b",)}, dict(reversed(installed.items())))
    assert len(key) == 64 and int(key, 16) >= 0
    newer = {**installed, "b": Installed("b", "b", "amd64", "1.0-2")}
    assert closure_key({"a": ("b",), "b": ()}, newer) != key
    assert closure_key({"a": (), "b": ()}, installed) != key


@pytest.mark.parametrize(
    ("debian", "rpm"),
    [
        ("5.2.15-2+b7", ("", "5.2.15", "2+b7")),
        ("1:2.38.1-5+deb12u3", ("1", "2.38.1", "5+deb12u3")),
        ("37~deb12u1", ("", "37~deb12u1", "0")),
        ("2:1.0-beta-3", ("2", "1.0_beta", "3")),
        ("1:2:3-1", ("1", "2_3", "1")),
        ("1.2.13.dfsg-1", ("", "1.2.13.dfsg", "1")),
    ],
)
def test_debian_versions_as_rpm_epoch_version_release(debian: str, rpm: tuple[str, str, str]) -> None:
    assert rpm_evr(debian) == rpm


def test_merged_usr_paths_have_one_name() -> None:
    assert canonical("/bin/sh", MERGED) == "/usr/bin/sh"
    assert canonical("/bin", MERGED) == "/usr/bin"
    assert canonical("/lib64/ld-linux-x86-64.so.2", MERGED) == "/usr/lib64/ld-linux-x86-64.so.2"
    assert canonical("/library/x", MERGED) == "/library/x"  # a prefix of a name is not its directory
    assert canonical("/usr/bin/sh", MERGED) == "/usr/bin/sh"
    assert canonical("/bin/sh", {}) == "/bin/sh"  # a host without merged /usr


def test_merged_dirs_of_a_host(tmp_path: Path) -> None:
    for name in ("usr/bin", "usr/lib", "sbin"):
        (tmp_path / name).mkdir(parents=True)
    (tmp_path / "bin").symlink_to("usr/bin")
    (tmp_path / "lib").symlink_to("usr/lib")
    assert merged_dirs(tmp_path) == {"/bin": "/usr/bin", "/lib": "/usr/lib"}


def test_file_list_follows_diversions_and_lists_each_path_once() -> None:
    listing = "\n".join(
        [
            "/.",
            "/bin",
            "/bin/dash",
            "/usr",
            "/usr/bin",
            "/usr/bin/dash",  # both names of one file on a merged-/usr host
            "/bin/sh",
            "package diverts others to: /bin/sh.distrib",  # dash's own /bin/sh stays
            "/usr/bin/perf",
            "diverted by linux-perf to: /usr/bin/perf.wrapper",  # ours now lives there
            "/etc/thing",
            "locally diverted to: /etc/thing.orig",
        ]
    )
    assert parse_file_list(listing, MERGED) == [
        "/usr/bin",
        "/usr/bin/dash",
        "/usr",
        "/usr/bin/sh",
        "/usr/bin/perf.wrapper",
        "/etc/thing.orig",
    ]


def test_spec_quotes_awkward_names_and_keeps_owners() -> None:
    recipe = Recipe(
        name="coreutils",
        epoch="1",
        version="9.1",
        release="1",
        summary="Debian's coreutils 9.1-1 (amd64) from this host",
        requires=("libc6", "libacl1"),
        provides=("awk",),
        entries=(
            Entry("/usr/bin", is_dir=True),
            Entry("/usr/bin/["),
            Entry("/usr/share/a file{x,y}*?"),
            Entry("/usr/share/100%"),
            Entry("/usr/bin/chage", group="shadow"),
            Entry("/var/mail", is_dir=True, group="mail"),
        ),
    )
    text = spec_text(recipe)
    head, files = text.split("%files\n")
    for expected in ("Name: coreutils", "Epoch: 1", "Version: 9.1", "Release: 1", "AutoReqProv: no"):
        assert expected + "\n" in head
    assert "Requires: libc6\nRequires: libacl1\nProvides: awk\n" in head
    assert "BuildArch" not in head
    assert files.splitlines() == [
        "%defattr(-,root,root,-)",
        '%dir "/usr/bin"',
        '"/usr/bin/["',
        '"/usr/share/a file{x,y}*?"',
        '"/usr/share/100%%"',
        '%attr(-,root,shadow) "/usr/bin/chage"',
        '%dir %attr(-,root,mail) "/var/mail"',
    ]
    assert "BuildArch: noarch\n" in spec_text(Recipe("setup", "1", "1", "s", noarch=True))


def test_names_rpm_cannot_list_are_left_out() -> None:
    assert buildroot.packageable("/usr/share/a b[c]")
    assert not buildroot.packageable('/usr/share/say "hi"')
    assert not buildroot.packageable("/usr/share/two\nlines")


def test_alternatives_become_direct_links_with_their_slaves() -> None:
    query = (
        "Name: awk\nLink: /usr/bin/awk\nSlaves:\n awk.1.gz /usr/share/man/man1/awk.1.gz\n nawk /usr/bin/nawk\n"
        "Status: auto\nBest: /usr/bin/mawk\nValue: /usr/bin/mawk\n\n"
        "Alternative: /usr/bin/gawk\nPriority: 10\nSlaves:\n nawk /usr/bin/gawk\n\n"
        "Alternative: /usr/bin/mawk\nPriority: 5\nSlaves:\n awk.1.gz /usr/share/man/man1/mawk.1.gz\n nawk /usr/bin/mawk\n"
    )
    assert parse_alternative(query) == [
        ("/usr/bin/awk", "/usr/bin/mawk"),
        ("/usr/share/man/man1/awk.1.gz", "/usr/share/man/man1/mawk.1.gz"),
        ("/usr/bin/nawk", "/usr/bin/mawk"),
    ]
    assert parse_alternative("Name: x\nLink: /usr/bin/x\nStatus: auto\nValue: none\n") == []


def test_comps_has_the_groups_koji_installs() -> None:
    groups = ET.fromstring(comps_xml({"build": BUILD_GROUP, "srpm-build": SRPM_BUILD_GROUP}))
    found = {
        group.findtext("id"): [req.text for req in group.iter("packagereq")] for group in groups.iter("group")
    }
    assert found == {"build": list(BUILD_GROUP), "srpm-build": list(SRPM_BUILD_GROUP)}


def test_every_group_member_is_a_package_of_the_repo() -> None:
    # Koji matches group entries to package names (never Provides): each must be a package the
    # repo holds, a Debian one of the seed or one made here.
    made = {"filesystem", "setup", "debian-alternatives", BASE, *FEDORA_NAMES}
    for name in (*BUILD_GROUP, *SRPM_BUILD_GROUP):
        assert name in SEED or name in made, name
    for requires in FEDORA_NAMES.values():
        for name in requires:
            assert name in SEED or name in made, name
    assert "rpm-build" in BUILD_GROUP and "rpm-build" in SRPM_BUILD_GROUP


def test_the_shipped_builds_scenario_installs_the_groups_the_buildroot_has():
    import yaml

    from pytest_boxkoji.builds import buildroot
    from pytest_boxkoji.scenario.loader import packaged_dir

    docs = list(yaml.safe_load_all((packaged_dir() / "builds.yaml").read_text()))
    (tag,) = [d for d in docs if d and d.get("type") == "tag" and d["name"] == "box-build"]
    assert tag["groups"] == {
        "build": list(buildroot.BUILD_GROUP),
        "srpm-build": list(buildroot.SRPM_BUILD_GROUP),
    }
