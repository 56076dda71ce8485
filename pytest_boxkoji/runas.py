"""Any program as a Koji user: `koji_run(["koji-habitude", "apply", ...], user="kojiadmin")`.

The program gets a home directory of its own (per user and login method) whose
`~/.koji/config` holds the environment's profiles (`boxkoji`; `boxkoji-proxy` once the proxy
runs) and `boxkoji` again as the default `koji` (Koji tools read that file and take `koji` when
given no --profile), set up for the login: with
Kerberos, a ticket for the user in a credential cache of its own (KRB5CCNAME), so tools that
log in through GSSAPI themselves find it; with a certificate, the profile names it (a profile
cannot hold a password: Koji reads those from its command line only).
"""

from __future__ import annotations

import configparser
import io
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_boxkoji import clients
from pytest_boxkoji.accounts import ORDINARY_USER, Certificate, Kerberos, Login
from pytest_boxkoji.clients import Auth
from pytest_boxkoji.errors import BoxKojiError

if TYPE_CHECKING:
    from pytest_boxkoji.environment import Environment

DEFAULT_PROFILE = "koji"


class KojiRunError(subprocess.CalledProcessError):
    """`koji_run(..., check=True)` and the program failed: its output is in the message."""

    def __str__(self) -> str:
        output = (self.stderr or self.stdout or "").strip()
        return f"{super().__str__()}\n{output[-3000:]}" if output else super().__str__()


def environ(env: Environment, user: str, auth: Auth = "gssapi") -> dict[str, str]:
    """The variables under which a program acts as `user` (created on the hub on first use)."""
    if auth == "password":
        raise BoxKojiError(
            "koji_run(..., auth='password'): a koji profile cannot hold a password (only the "
            "command line's --user/--password can); use auth='gssapi' or 'ssl', or pass them "
            "yourself: boxkoji.ensure_user(name, 'password') returns them."
        )
    login = env.accounts.login(user, auth)
    home = env.directory / "users" / f"{user.replace('/', '_')}-{auth}"
    (home / ".koji").mkdir(parents=True, exist_ok=True)
    home.chmod(0o700)  # the user's ticket is in there
    variables = {**env.env, "HOME": str(home)}
    (home / ".koji" / "config").write_text(_profile(env.koji_config, login))
    if isinstance(login, Kerberos):
        # Got from the user's keytab in this process: the host needs no kinit.
        variables["KRB5CCNAME"] = env.accounts.ticket(user, f"FILE:{home}/krb5cc")
    return variables


def _profile(koji_config: Path, login: Login) -> str:
    """The environment's profiles (`boxkoji`, and `boxkoji-proxy` once the proxy runs), and
    `boxkoji` again as `koji`, logging in as `login` says."""
    source = configparser.ConfigParser(interpolation=None)
    source.read(koji_config)
    written = configparser.ConfigParser(interpolation=None)
    for section in [*source.sections(), DEFAULT_PROFILE]:
        options = dict(source[clients.PROFILE if section == DEFAULT_PROFILE else section])
        if isinstance(login, Kerberos):
            options["authtype"] = "kerberos"  # from the ticket in KRB5CCNAME: no keytab named here
        elif isinstance(login, Certificate):
            options.update(authtype="ssl", cert=login.cert)
        written[section] = options
    text = io.StringIO()
    written.write(text)
    return text.getvalue()


def run(
    env: Environment,
    args: Sequence[str],
    user: str = ORDINARY_USER,
    auth: Auth = "gssapi",
    check: bool = False,
    timeout: float = 300,
    extra_env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `args` as the Koji user `user`; its output is captured as text."""
    if isinstance(args, str):
        raise BoxKojiError(f"koji_run({args!r}): give the command as a list, e.g. {args.split()!r}")
    variables = {**os.environ, **environ(env, user, auth), **(extra_env or {})}
    # Programs installed beside the test's interpreter (its virtualenv) are found unactivated.
    variables["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), variables.get("PATH", "")])
    try:
        done = subprocess.run(
            list(args),
            env=variables,
            cwd=cwd,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise BoxKojiError(f"koji_run: no program {args[0]!r} on PATH ({variables['PATH']})") from exc
    if check and done.returncode != 0:
        raise KojiRunError(done.returncode, done.args, done.stdout, done.stderr)
    return done
