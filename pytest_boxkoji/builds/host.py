"""What a builder's kojid sees on the processes runtime: a private /etc and /usr/bin/mock.

kojid runs `/usr/bin/mock -r koji/<name>` (the path is fixed in kojid) as its `mockuser` in the
`mock` group, after writing `/etc/mock/koji/<name>.cfg`; Fedora's /usr/bin/mock then becomes
root again through consolehelper. None of that may touch this host's /etc, so kojid runs as root in
a mount namespace of its own (`unshare --mount`) where `inside/daemon_launcher.py` mounts, before
Koji's code starts:

- `/etc` as an overlay: this host's /etc under the builder's own upper directory, which adds the
  `mock` group and the `kojibuilder` user, mock's configuration (`site-defaults.cfg`: no
  systemd-nspawn, no bootstrap chroot, its caches in the builder's directory), a writable
  `mock/koji/`, Debian's rpm told to keep its database where dnf looks (`%_dbpath`), and a sudoers
  rule that lets kojibuilder run mock as root, as consolehelper lets the mock group on Fedora;
- `/usr/bin` as an overlay with `mock` on top: `exec sudo <mock>` (mock reads SUDO_UID to know
  whom to drop to).

Where the host has mock of its own (`Mock.system`) only /etc is overlaid, and its own
site-defaults are still replaced: the box never builds with the host's mock configuration.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
from dataclasses import dataclass
from pathlib import Path

from pytest_boxkoji.builds.mock import Mock

MOCK_GROUP = "mock"
MOCK_USER = "kojibuilder"  # kojid's default mockuser
LAYERS_VARIABLE = "BOXKOJI_BUILDER_LAYERS"  # read by inside/daemon_launcher.py


@dataclass(frozen=True)
class Layers:
    """The overlays a builder's kojid runs under (paths on this host)."""

    etc_upper: Path
    etc_work: Path
    bin: Path | None

    def variable(self) -> str:
        return json.dumps(
            {"etc_upper": str(self.etc_upper), "etc_work": str(self.etc_work), "bin": str(self.bin or "")}
        )


def _free(taken: set[int], start: int) -> int:
    number = start
    while number in taken:
        number += 1
    return number


def layers_of(directory: Path, mock: Mock) -> Layers:
    """Where the layers of the builder whose files live in `directory` are."""
    return Layers(
        directory / "etc-upper", directory / "etc-work", None if mock.system else directory / "bin-layer"
    )


def prepare(directory: Path, mock: Mock, ca: Path) -> Layers:
    """The layers for a builder whose files live in `directory` (made again each start); its
    dnf trusts the box's CA (`ca`), as a real builder trusts its hub's: mock's dnf downloads
    the build tag's repo from the hub's /kojifiles over HTTPS."""
    layers = layers_of(directory, mock)
    etc, work = layers.etc_upper, layers.etc_work
    for path in (etc, work):
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
    _accounts(etc, directory)
    (etc / "mock" / "koji").mkdir(parents=True)
    if mock.etc is not None:
        shutil.copy(mock.etc / "logging.ini", etc / "mock" / "logging.ini")
    elif Path("/etc/mock/logging.ini").exists():
        shutil.copy("/etc/mock/logging.ini", etc / "mock" / "logging.ini")
    (etc / "mock" / "site-defaults.cfg").write_text(site_defaults(str(directory / "mock-cache")))
    (etc / "rpm").mkdir()
    # Debian's rpm keeps its database in ~/.rpmdb; mock runs dnf with another HOME, and the chroot's
    # packages would be recorded where nothing reads them.
    (etc / "rpm" / "macros.boxkoji-dbpath").write_text("%_dbpath /var/lib/rpm\n")
    sudoers = etc / "sudoers.d"
    sudoers.mkdir(mode=0o750)
    rule = sudoers / "boxkoji-mock"
    rule.write_text(f"{MOCK_USER} ALL=(root) NOPASSWD: {mock.program}\n")
    rule.chmod(0o440)
    (directory / "mock-cache").mkdir(exist_ok=True)
    _trust(etc, ca)
    if layers.bin is not None:
        layers.bin.mkdir(exist_ok=True)
        launcher = layers.bin / "mock"
        launcher.write_text(
            "#!/bin/sh\n# pytest-boxkoji: mock as root, as consolehelper makes it on Fedora\n"
            f'exec /usr/bin/sudo -n {mock.program} "$@"\n'
        )
        launcher.chmod(0o755)
    return layers


def _accounts(etc: Path, directory: Path) -> None:
    """The host's accounts, plus the mock group and kojibuilder where the host has none."""
    groups = Path("/etc/group").read_text()
    passwd = Path("/etc/passwd").read_text()
    shadow = Path("/etc/shadow").read_text() if Path("/etc/shadow").exists() else ""
    gshadow = Path("/etc/gshadow").read_text() if Path("/etc/gshadow").exists() else ""
    try:
        gid = grp.getgrnam(MOCK_GROUP).gr_gid
    except KeyError:
        gid = _free({g.gr_gid for g in grp.getgrall()}, 135)  # Fedora's mock group is 135
        groups += f"{MOCK_GROUP}:x:{gid}:{MOCK_USER}\n"
        gshadow += f"{MOCK_GROUP}:!::{MOCK_USER}\n"
    try:
        pwd.getpwnam(MOCK_USER)
    except KeyError:
        uid = _free({p.pw_uid for p in pwd.getpwall()}, 135)
        passwd += f"{MOCK_USER}:x:{uid}:{gid}:Koji builder:{directory}:/bin/sh\n"
        shadow += f"{MOCK_USER}:!*:19000::::::\n"
    for name, text, mode in (
        ("group", groups, 0o644),
        ("passwd", passwd, 0o644),
        ("shadow", shadow, 0o640),
        ("gshadow", gshadow, 0o640),
    ):
        (etc / name).write_text(text)
        (etc / name).chmod(mode)
    for name in ("shadow", "gshadow"):  # as the host has them (group shadow on Debian)
        source = Path("/etc") / name
        if source.exists():
            shutil.copystat(source, etc / name)
            stat = source.stat()
            os.chown(etc / name, stat.st_uid, stat.st_gid)


BUNDLE = Path("ssl/certs/ca-certificates.crt")  # what Debian's curl (and so librepo) reads


def _trust(etc: Path, ca: Path) -> None:
    host_bundle = Path("/etc") / BUNDLE
    text = host_bundle.read_text() if host_bundle.exists() else ""
    (etc / BUNDLE).parent.mkdir(parents=True)
    (etc / BUNDLE).write_text(text + "\n" + ca.read_text())


def site_defaults(cache: str) -> str:
    """mock's settings under Koji's generated config (which wins where both set a key)."""
    return (
        "# Written by pytest-boxkoji for this builder; the host's own mock settings are not read.\n"
        "# No systemd-nspawn (not every host boots systemd) and no bootstrap chroot: the buildroot\n"
        "# is installed by this host's dnf, from the build tag's repo, offline.\n"
        "config_opts['isolation'] = 'simple'\n"
        "config_opts['use_bootstrap'] = False\n"
        "config_opts['use_bootstrap_image'] = False\n"
        f"config_opts['cache_topdir'] = {cache!r}\n"
        # Koji's builders leave the chroot for kojid to clean, as on a real builder.
        "config_opts['cleanup_on_success'] = True\n"
    )
