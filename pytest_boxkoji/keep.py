"""--boxkoji-keep's report: how to reach the environment left running, and how to stop it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_boxkoji import clients
from pytest_boxkoji.accounts import ORDINARY_USER

if TYPE_CHECKING:
    from pytest_boxkoji.environment import Environment


def report(env: Environment) -> str:
    lines = [f"boxkoji environment kept in {env.directory}"]
    lines += [f"  {name:9} {url}" for name, url in env.urls.items()]
    if env.realm:
        lines.append(f"  shell:    export {' '.join(f'{k}={v}' for k, v in env.env.items())}")
        keytab = env.directory / "orch" / f"{ORDINARY_USER}.keytab"
        if keytab.exists():
            lines.append(f"  kinit:    kinit -k -t {keytab} {ORDINARY_USER}@{env.realm.realm}")
    if env.hub:
        # The full path: the virtualenv pytest ran from is often not on the shell's PATH.
        koji = clients.koji_command()
        lines.append(f"  koji:     {koji} -c {env.koji_config} -p {clients.PROFILE} hello")
    lines.append(f"  stop:     {env.runtime.stop_hint(env.directory)}")
    return "\n".join(lines)
