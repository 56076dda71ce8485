"""Accounts against fakes: users made on first use, one login strategy per method, the same
credentials for sessions, the CLI and shells."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_boxkoji import accounts
from pytest_boxkoji.accounts import ADMIN, Accounts, Certificate, Kerberos, Password
from pytest_boxkoji.errors import BoxKojiError


@dataclass
class Cred:
    principal: str = ""
    path: Path | None = None
    password: str = ""


class FakeOrch:
    directory = Path("/session/orch")

    def __init__(self) -> None:
        self.realm = SimpleNamespace(principal=lambda name: f"{name}@KOJI.BOX")
        self.checkouts: list[tuple[str, str, str]] = []

    def checkout(self, name: str, kind: str, holder: str = "tests") -> Cred:
        self.checkouts.append((name, kind, holder))
        if kind == "keytab":
            return Cred(principal=f"{name}@KOJI.BOX", path=Path(f"/session/orch/{name}.keytab"))
        if kind == "cert":
            return Cred(path=Path(f"/session/orch/{name}.pem"))
        return Cred(password="s3cret")

    def ccache(self, name: str) -> str:
        return f"FILE:{self.directory}/krb5cc_{name}"


class FakeAdmin:
    def __init__(self) -> None:
        self.users = {ADMIN}
        self.principals: dict[str, list[str]] = {}
        self.created: list[tuple[str, str]] = []
        self.mapped: list[tuple[str, str | None]] = []

    def getUser(self, name: str) -> dict[str, object] | None:  # noqa: N802 (Koji's API)
        return {"name": name, "krb_principals": self.principals.get(name, [])} if name in self.users else None

    def createUser(self, name: str, krb_principal: str) -> None:  # noqa: N802
        self.users.add(name)
        self.principals[name] = [krb_principal]
        self.created.append((name, krb_principal))

    def editUser(self, name: str, krb_principal_mappings: list[dict[str, str | None]]) -> None:  # noqa: N802
        for mapping in krb_principal_mappings:
            self.principals.setdefault(name, []).append(str(mapping["new"]))
            self.mapped.append((name, mapping["new"]))


class FakeCursor:
    def __init__(self, log: list[tuple[str, tuple[str, ...]]]) -> None:
        self.log = log

    def __enter__(self) -> FakeCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def execute(self, sql: str, args: tuple[str, ...]) -> None:
        self.log.append((sql, args))


class FakeConnection(FakeCursor):
    def cursor(self) -> FakeCursor:
        return FakeCursor(self.log)

    def close(self) -> None:
        pass


@pytest.fixture
def world(monkeypatch):
    orch, admin, sql = FakeOrch(), FakeAdmin(), []
    hub = SimpleNamespace(
        settings=SimpleNamespace(url="https://hub/kojihub", ca=Path("/ca.pem")), koji_config="/k.conf"
    )
    parts = {"orch": orch, "hub": hub, "postgres": SimpleNamespace(connect=lambda: FakeConnection(sql))}
    started: list[str] = []

    def get(key):
        started.append(key.name)
        return parts[key.name]

    graph = SimpleNamespace(get=get)  # the parts Accounts reads, by their typed names
    acc = Accounts(graph, lambda: {"KRB5_CONFIG": "/session/kdc/krb5.conf"})
    monkeypatch.setattr(acc, "admin_session", lambda: admin)
    return SimpleNamespace(accounts=acc, orch=orch, admin=admin, sql=sql, started=started)


def test_kerberos_login_makes_the_user_once(world):
    first = world.accounts.login("packager", "gssapi")
    again = world.accounts.login("packager", "gssapi")
    assert (
        first
        == again
        == Kerberos(
            "packager@KOJI.BOX", "/session/orch/packager.keytab", "FILE:/session/orch/krb5cc_packager"
        )
    )
    assert world.admin.created == [("packager", "packager@KOJI.BOX")]
    assert first.cli_args() == [
        "--authtype", "kerberos", "--principal", "packager@KOJI.BOX", "--keytab", "/session/orch/packager.keytab",
    ]  # fmt: skip
    assert first.env() == {"KRB5CCNAME": "FILE:/session/orch/krb5cc_packager"}


def test_certificate_and_password_logins(world):
    cert = world.accounts.login("tester", "ssl")
    assert cert == Certificate("/session/orch/tester.pem", "/ca.pem")
    assert cert.cli_args() == ["--authtype", "ssl", "--cert", "/session/orch/tester.pem"]
    password = world.accounts.login("tester", "password")
    assert password == Password("tester", "s3cret")
    assert password.describe() == {"user": "tester", "password": "s3cret"}
    # Koji has no call that sets a password: the column, for that user only.
    assert world.sql == [("UPDATE users SET password = %s WHERE name = %s", ("s3cret", "tester"))]
    assert world.admin.created == [("tester", "tester@KOJI.BOX")]  # one user, two credentials


def test_a_scenario_user_without_a_principal_gets_one_at_its_first_kerberos_login(world):
    world.admin.users.add("sample-data")  # made by a scenario, as koji-habitude makes users
    world.accounts.login("sample-data", "ssl")
    assert world.admin.mapped == []  # a certificate needs no principal
    world.accounts.login("sample-data", "gssapi")
    world.accounts.login("sample-data", "gssapi")
    assert world.admin.mapped == [("sample-data", "sample-data@KOJI.BOX")]
    assert world.admin.created == []


def test_the_admin_exists_already(world):
    world.accounts.login(ADMIN, "gssapi")
    assert world.admin.created == []


def test_unknown_login_method_is_refused_before_anything_starts(world):
    with pytest.raises(BoxKojiError, match="auth='kerberos' is not one of gssapi, ssl, password"):
        world.accounts.login("packager", "kerberos")
    with pytest.raises(BoxKojiError, match="via='nginx' is not one of hub, proxy"):
        world.accounts.session("packager", "gssapi", via="nginx")
    assert world.started == []


def test_the_cli_gets_the_login_and_the_shell_variables(world, monkeypatch):
    calls = []
    monkeypatch.setattr(accounts.clients, "run_cli", lambda *args: calls.append(args) or "done")
    assert world.accounts.cli(["hello"], user="packager") == "done"
    (args, config, env, auth_args, timeout, profile) = calls[0]
    assert (list(args), config, timeout, profile) == (["hello"], "/k.conf", 120, "boxkoji")
    assert env == {
        "KRB5_CONFIG": "/session/kdc/krb5.conf",
        "KRB5CCNAME": "FILE:/session/orch/krb5cc_packager",
    }
    assert auth_args[:2] == ["--authtype", "kerberos"]
