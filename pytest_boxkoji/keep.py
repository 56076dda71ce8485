"""--boxkoji-keep's report: how to reach the environment left running, and how to stop it."""

from __future__ import annotations

from pathlib import Path

from pytest_boxkoji import box, clients
from pytest_boxkoji.accounts import ORDINARY_USER
from pytest_boxkoji.runtimes import Runtime
from pytest_boxkoji.services.kdc import Realm


def report(
    directories: list[Path],
    urls: dict[str, str],
    realm: Realm | None,
    koji_config: Path | None,
    runtime: Runtime,
    name: str | None = None,
    cache_dir: Path | None = None,
) -> str:
    directory = directories[0]
    lines = [f"boxkoji environment kept in {directory}"]
    lines += [f"  {name:9} {url}" for name, url in urls.items()]
    if realm:
        lines.append(f"  shell:    export {' '.join(f'{k}={v}' for k, v in realm.env.items())}")
        keytab = directory / "orch" / f"{ORDINARY_USER}.keytab"
        if keytab.exists():
            lines.append(f"  kinit:    kinit -k -t {keytab} {ORDINARY_USER}@{realm.realm}")
    if koji_config:
        # The full path: the virtualenv pytest ran from is often not on the shell's PATH.
        koji = clients.koji_command()
        lines.append(f"  koji:     {koji} -c {koji_config} -p {clients.PROFILE} hello")
    stop = runtime.stop_hint(directories)
    if name:  # the record goes with it (`boxkoji down --name NAME` does all of this)
        stop += f"; rm -f {box.path_of(cache_dir, name)}" if cache_dir else ""
    lines.append(f"  stop:     {stop}")
    if name:
        lines.append(f"  boxkoji:  boxkoji status --name {name}; pytest --boxkoji-reuse --boxkoji-box={name}")
    return "\n".join(lines)
