"""Koji clients for the environment: the profile file, logged-in sessions and the real CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pytest_boxkoji.errors import BoxKojiError

Auth = Literal["gssapi", "ssl", "password"]
AUTHS: tuple[str, ...] = ("gssapi", "ssl", "password")
PROFILE = "boxkoji"  # straight to the hub
PROXY_PROFILE = "boxkoji-proxy"  # the same box through nginx (services/proxy.py)
Via = Literal["hub", "proxy"]
VIAS: tuple[str, ...] = ("hub", "proxy")


def cli_plugin_paths(koji_tree: Path, users: Sequence[Path]) -> tuple[Path, ...]:
    """The koji command's plugin directories: the tree's own (sidetag's CLI beside its hub
    plugin, of the same version), then the user's --boxkoji-cli-plugins."""
    return (koji_tree / "plugins" / "cli", *users)


def write_profile(
    path: Path,
    hub_url: str,
    files_url: str,
    web_url: str,
    topdir: Path,
    ca: Path,
    profile: str = PROFILE,
    plugin_paths: Sequence[Path] = (),
) -> Path:
    """A koji client config with `profile` (Kerberos by default), added to what `path` holds.
    `plugin_paths`: directories of CLI plugins the koji command loads with this profile (the
    Koji tree's plugins/cli, matching its hub plugins, then the user's)."""
    before = path.read_text() + "\n" if path.exists() else ""
    plugins = f"plugin_paths = {':'.join(str(p) for p in plugin_paths)}\n" if plugin_paths else ""
    path.write_text(
        before
        + f"""[{profile}]
server = {hub_url}
weburl = {web_url}
topurl = {files_url}
topdir = {topdir}
authtype = kerberos
serverca = {ca}
krb_rdns = false
krb_canon_host = false
; 0 silently disables GSSAPI login in Koji 1.35 (its login loop runs max_retries times).
max_retries = 1
retry_interval = 1
anon_retry = false
use_fast_upload = true
{plugins}"""
    )
    path.chmod(0o644)
    return path


def session_opts(ca: Path) -> dict[str, object]:
    return {
        "serverca": str(ca),
        "krb_rdns": False,
        "krb_canon_host": False,
        "max_retries": 1,
        "retry_interval": 1,
        "anon_retry": False,
    }


def koji_command() -> str:
    """The `koji` CLI installed beside the test process's interpreter (Koji's tree has a py2 one)."""
    beside = Path(sys.executable).parent / "koji"
    if beside.exists():
        return str(beside)
    found = shutil.which("koji")
    if found is None:
        raise BoxKojiError("The koji command line is not installed; `pip install koji` provides it.")
    return found


def check_auth(auth: str, via: str = "hub") -> None:
    if auth not in AUTHS:
        raise BoxKojiError(f"auth={auth!r} is not one of {', '.join(AUTHS)}.")
    if via not in VIAS:
        raise BoxKojiError(
            f"via={via!r} is not one of {', '.join(VIAS)} (straight to the hub, or through nginx)."
        )


def run_cli(
    args: Sequence[str],
    config: Path,
    env: dict[str, str],
    auth_args: list[str],
    timeout: float,
    profile: str = PROFILE,
) -> subprocess.CompletedProcess[str]:
    command = [koji_command(), "-c", str(config), "-p", profile, *auth_args, *args]
    return subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout, check=False
    )
