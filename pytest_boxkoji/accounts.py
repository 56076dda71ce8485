"""Users of the hub and how they log in: one strategy per login method, used alike by
`koji.ClientSession`s, the `koji` command line and shells."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import koji

from pytest_boxkoji import clients
from pytest_boxkoji.clients import Auth

ADMIN = "kojiadmin"  # bootstrapped in the database template (services/postgres.py)
ORDINARY_USER = "kojiuser"


@dataclass(frozen=True)
class Kerberos:
    principal: str
    keytab: str
    ccache: str

    def log_in(self, session: koji.ClientSession) -> None:
        session.gssapi_login(principal=self.principal, keytab=self.keytab, ccache=self.ccache)

    def cli_args(self) -> list[str]:
        return ["--authtype", "kerberos", "--principal", self.principal, "--keytab", self.keytab]

    def env(self) -> dict[str, str]:
        return {"KRB5CCNAME": self.ccache}

    def describe(self) -> dict[str, str]:
        return {"principal": self.principal, "keytab": self.keytab, "ccache": self.ccache}


@dataclass(frozen=True)
class Certificate:
    cert: str
    ca: str

    def log_in(self, session: koji.ClientSession) -> None:
        session.ssl_login(cert=self.cert, serverca=self.ca)

    def cli_args(self) -> list[str]:
        return ["--authtype", "ssl", "--cert", self.cert]

    def env(self) -> dict[str, str]:
        return {}

    def describe(self) -> dict[str, str]:
        return {"cert": self.cert}


@dataclass(frozen=True)
class Password:
    user: str
    password: str

    def log_in(self, session: koji.ClientSession) -> None:
        session.opts["user"], session.opts["password"] = self.user, self.password
        session.login()

    def cli_args(self) -> list[str]:
        return ["--authtype", "password", "--user", self.user, "--password", self.password]

    def env(self) -> dict[str, str]:
        return {}

    def describe(self) -> dict[str, str]:
        return {"user": self.user, "password": self.password}


Login = Kerberos | Certificate | Password


class Accounts:
    """Creates users on first use, hands out their credentials, and logs them in."""

    def __init__(self, parts: Callable[[str], Any], shell_env: Callable[[], dict[str, str]]) -> None:
        self._part = parts  # Graph.get: the hub, orch and PostgreSQL, started when first needed
        self._shell_env = shell_env
        self._lock = threading.RLock()
        self._admin: koji.ClientSession | None = None

    def login(self, name: str, auth: Auth = "gssapi") -> Login:
        """Create `name` in the hub (first use) and the credential for `auth`."""
        clients.check_auth(auth)
        orch, hub = self._part("orch"), self._part("hub")
        with self._lock:
            if name != ADMIN:
                admin = self.admin_session()
                if admin.getUser(name) is None:
                    admin.createUser(name, krb_principal=orch.realm.principal(name))
            holder = f"user:{name}"
            if auth == "gssapi":
                cred = orch.checkout(name, "keytab", holder=holder)
                ccache = f"FILE:{orch.directory}/krb5cc_{name}"
                return Kerberos(cred.principal, str(cred.path), ccache)
            if auth == "ssl":
                cred = orch.checkout(name, "cert", holder=holder)
                return Certificate(str(cred.path), str(hub.settings.ca))
            cred = orch.checkout(name, "password", holder=holder)
            self._set_password(name, cred.password)
            return Password(name, cred.password)

    def _set_password(self, name: str, password: str) -> None:
        # Koji has no API to set a password: its own docs set the column directly.
        conn = self._part("postgres").connect()
        try:
            with conn, conn.cursor() as cur:
                cur.execute("UPDATE users SET password = %s WHERE name = %s", (password, name))
        finally:
            conn.close()

    def session(self, user: str = ORDINARY_USER, auth: Auth = "gssapi") -> koji.ClientSession:
        """A new koji.ClientSession logged in as `user` through `auth`."""
        login = self.login(user, auth)
        hub = self._part("hub")
        session = koji.ClientSession(hub.settings.url, clients.session_opts(hub.settings.ca))
        login.log_in(session)
        return session

    def cli(
        self, args: Sequence[str], user: str = ORDINARY_USER, auth: Auth = "gssapi", timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run the real `koji` command line as `user`."""
        login = self.login(user, auth)
        env = {**self._shell_env(), **login.env()}
        return clients.run_cli(args, self._part("hub").koji_config, env, login.cli_args(), timeout)

    def admin_session(self) -> koji.ClientSession:
        """The environment's own admin session (creating users, applying scenarios)."""
        with self._lock:
            if self._admin is None:
                self._admin = self.session(ADMIN, "gssapi")
            return self._admin

    def forget_sessions(self, logout: bool = True) -> None:
        """After a restore the hub's sessions table is a copy: our cached session may be gone.
        logout=False drops it without a call (ClientSession.__del__ would log it out of the
        restored hub, which refuses: an AuthError traceback in the hub's log of every test)."""
        if self._admin is not None and not logout:
            self._admin.setSession(None)
        self._admin = None

    def close(self) -> None:
        if self._admin is not None:
            try:
                self._admin.logout()
            except Exception:  # the hub may already be gone
                pass
            self._admin = None
