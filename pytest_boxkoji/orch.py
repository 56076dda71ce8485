"""The orchestrator of credentials: who holds which certificate, keytab or password.

Every service and every test user gets its credentials here; `inventory()` lists all of them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pytest_boxkoji.ca import CertificateAuthority
from pytest_boxkoji.errors import BoxKojiError
from pytest_boxkoji.partkey import Key
from pytest_boxkoji.services.kdc import Realm

Kind = Literal["keytab", "cert", "server_cert", "password"]
KINDS: tuple[str, ...] = ("keytab", "cert", "server_cert", "password")


@dataclass(frozen=True)
class Credential:
    """What `checkout` hands out. Files are 0600 and owned by whoever uses them."""

    name: str
    kind: str
    holder: str
    principals: tuple[str, ...] = ()  # keytab: every principal whose keys it holds
    path: Path | None = None  # keytab file, client PEM (cert + key) or server certificate
    key_path: Path | None = None  # server_cert: its private key
    subject: str = ""  # cert: the DN as mod_ssl reports it
    password: str = ""

    @property
    def principal(self) -> str:
        return self.principals[0] if self.principals else ""


@dataclass
class Orch:
    """Allocates credentials from one CA and one Kerberos realm, and remembers who holds them."""

    directory: Path
    realm: Realm
    ca: CertificateAuthority
    _held: dict[tuple[str, str], Credential] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(cls, directory: Path, realm: Realm) -> Orch:
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o711)
        return cls(directory, realm, CertificateAuthority(directory / "ca", org=realm.realm))

    @classmethod
    def reopen(cls, directory: Path, realm: Realm, held: list[Credential]) -> Orch:
        """The orch of an environment another process started (attach.py): its CA, and what
        it had handed out (keytabs are not exported again: that would change their keys)."""
        orch = cls(directory, realm, CertificateAuthority.load(directory / "ca", org=realm.realm))
        orch._held = {(cred.name, cred.kind): cred for cred in held}
        return orch

    def checkout(
        self,
        name: str,
        kind: Kind,
        holder: str = "tests",
        hosts: tuple[str, ...] = (),
        owner: tuple[int, int] | None = None,
    ) -> Credential:
        """Hand out the credential `kind` for `name`, creating it on first use.

        keytab: `name` is a user (name@REALM) or, with hosts, a service: one keytab with
        name/host@REALM for every host. cert: a client certificate with CN=name.
        server_cert: a certificate for every host. password: a random password.
        `owner` (uid, gid) makes the files readable by a service running as another user.
        """
        if kind not in KINDS:
            raise BoxKojiError(f"orch.checkout({name!r}, {kind!r}): kind must be one of {', '.join(KINDS)}")
        with self._guarded():
            held = self._held.get((name, kind))
            if held is not None:
                return held
            cred = self._make(name, kind, holder, hosts)
            if owner is not None and os.geteuid() == 0:
                for path in (cred.path, cred.key_path):
                    if path is not None:
                        os.chown(path, *owner)
            self._held[(name, kind)] = cred
            return cred

    def _make(self, name: str, kind: str, holder: str, hosts: tuple[str, ...]) -> Credential:
        safe = name.replace("/", "_")
        if kind == "keytab":
            names = [f"{name}/{host}" for host in hosts] if hosts else [name]
            principals = tuple(self.realm.add_principal(n) for n in names)
            path = self.realm.export_keytab(self.directory / f"{safe}.keytab", list(principals))
            return Credential(name, kind, holder, principals=principals, path=path)
        if kind == "cert":
            path = self.ca.issue_client(name, self.directory)
            return Credential(name, kind, holder, path=path, subject=self.ca.subject_dn(name))
        if kind == "server_cert":
            cert, key = self.ca.issue_server(safe, list(hosts or (name,)), self.directory)
            return Credential(name, kind, holder, path=cert, key_path=key)
        return Credential(name, kind, holder, password=secrets.token_urlsafe(12))

    def release(self, name: str, kind: Kind) -> None:
        """Take a credential back: its files are removed and its principals deleted."""
        with self._guarded():
            cred = self._held.pop((name, kind), None)
            if cred is None:
                return
            for path in (cred.path, cred.key_path):
                if path is not None:
                    path.unlink(missing_ok=True)
            for principal in cred.principals:
                self.realm.delete_principal(principal)

    @contextlib.contextmanager
    def _guarded(self) -> Iterator[None]:
        """Around every change to what is handed out: this process's threads, one at a time
        (shared.SharedOrch widens it to every process of an xdist run)."""
        with self._lock:
            yield

    def ccache(self, name: str) -> str:
        """Where `name`'s tickets are kept (a credential cache name)."""
        return f"FILE:{self.directory}/krb5cc_{name}"

    def inventory(self) -> list[Credential]:
        """Everything handed out and not released, in the order it was handed out."""
        with self._lock:
            return list(self._held.values())

    @property
    def ca_file(self) -> Path:
        return self.ca.cert_path


ORCH: Key[Orch] = Key("orch")  # its part's name, typed with this handle (graph.Key)
