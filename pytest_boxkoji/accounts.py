"""Users of the hub and how they log in: one strategy per login method, used alike by
`koji.ClientSession`s, the `koji` command line and shells."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import koji

from pytest_boxkoji import clients
from pytest_boxkoji.clients import Auth, Via
from pytest_boxkoji.orch import ORCH
from pytest_boxkoji.services.hub import HUB
from pytest_boxkoji.services.postgres import ADMIN as ADMIN  # the accounts know it by this name too
from pytest_boxkoji.services.postgres import POSTGRES
from pytest_boxkoji.services.proxy import PROXY

if TYPE_CHECKING:
    from pytest_boxkoji.graph import Graph

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

    def __init__(self, graph: Graph, shell_env: Callable[[], dict[str, str]]) -> None:
        self._graph = graph  # the hub, orch and PostgreSQL, started when first needed
        self._shell_env = shell_env
        self._lock = threading.RLock()
        self._admin: koji.ClientSession | None = None

    def login(self, name: str, auth: Auth = "gssapi") -> Login:
        """Create `name` in the hub (first use) and the credential for `auth`."""
        clients.check_auth(auth)
        orch, hub = self._graph.get(ORCH), self._graph.get(HUB)
        with self._lock:
            if name != ADMIN:
                admin = self.admin_session()
                user, principal = admin.getUser(name), orch.realm.principal(name)
                if user is None:
                    admin.createUser(name, krb_principal=principal)
                elif auth == "gssapi" and principal not in user["krb_principals"]:
                    # A scenario's users have the principals they declare (often none, as in
                    # koji-habitude's data): the one this login needs is added now.
                    admin.editUser(name, krb_principal_mappings=[{"old": None, "new": principal}])
            holder = f"user:{name}"
            if auth == "gssapi":
                cred = orch.checkout(name, "keytab", holder=holder)
                return Kerberos(cred.principal, str(cred.path), orch.ccache(name))
            if auth == "ssl":
                cred = orch.checkout(name, "cert", holder=holder)
                return Certificate(str(cred.path), str(hub.settings.ca))
            cred = orch.checkout(name, "password", holder=holder)
            self._set_password(name, cred.password)
            return Password(name, cred.password)

    def ticket(self, name: str, ccache: str) -> str:
        """Put a fresh ticket for `name` into `ccache` (a credential cache name, e.g. FILE:/path)
        for programs that read it (a browser's Negotiate, third-party tools); returns `ccache`."""
        import gssapi

        login = self.login(name, "gssapi")
        assert isinstance(login, Kerberos)
        if ccache.startswith("FILE:"):  # a cache holds one principal: start it over
            Path(ccache[len("FILE:") :]).unlink(missing_ok=True)
        user = gssapi.Name(login.principal, gssapi.NameType.kerberos_principal)
        store: dict[bytes | str, bytes | str] = {"client_keytab": login.keytab, "ccache": ccache}
        creds = gssapi.Credentials(name=user, usage="initiate", store=store)
        # The ticket is fetched when first used: use it once, for the hub's HTTP service.
        service = gssapi.Name("HTTP@localhost", gssapi.NameType.hostbased_service)
        gssapi.SecurityContext(name=service, creds=creds, usage="initiate").step()
        return ccache

    def _set_password(self, name: str, password: str) -> None:
        # Koji has no API to set a password: its own docs set the column directly.
        conn = self._graph.get(POSTGRES).connect()
        try:
            with conn, conn.cursor() as cur:
                cur.execute("UPDATE users SET password = %s WHERE name = %s", (password, name))
        finally:
            conn.close()

    def session(
        self, user: str = ORDINARY_USER, auth: Auth = "gssapi", via: Via = "hub"
    ) -> koji.ClientSession:
        """A new koji.ClientSession logged in as `user` through `auth`, straight to the hub or
        through the proxy."""
        clients.check_auth(auth, via)
        login = self.login(user, auth)
        hub = self._graph.get(HUB)
        url = self._graph.get(PROXY).hub_url if via == "proxy" else hub.settings.url
        session = koji.ClientSession(url, clients.session_opts(hub.settings.ca))
        login.log_in(session)
        return session

    def cli(
        self,
        args: Sequence[str],
        user: str = ORDINARY_USER,
        auth: Auth = "gssapi",
        timeout: float = 120,
        via: Via = "hub",
    ) -> subprocess.CompletedProcess[str]:
        """Run the real `koji` command line as `user` (profile boxkoji, or boxkoji-proxy)."""
        clients.check_auth(auth, via)
        login = self.login(user, auth)
        env = {**self._shell_env(), **login.env()}
        profile = clients.PROFILE
        if via == "proxy":
            self._graph.get(PROXY)  # it adds its profile to the file when it starts
            profile = clients.PROXY_PROFILE
        return clients.run_cli(
            args, self._graph.get(HUB).koji_config, env, login.cli_args(), timeout, profile
        )

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
