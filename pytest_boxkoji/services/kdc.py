"""The MIT Kerberos KDC for the realm: files, realm database, kadmin, the krb5kdc service."""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

from pytest_boxkoji import hostprogs
from pytest_boxkoji.errors import KerberosError
from pytest_boxkoji.services import Service
from pytest_boxkoji.templates import render

REALM = "KOJI.BOX"
PROBE = "boxkoji-probe"


class Realm:
    """A Kerberos realm kept in `directory`: krb5.conf, kdc.conf, the database and keytabs."""

    def __init__(self, directory: Path, port: int, realm: str = REALM) -> None:
        self.directory = directory
        self.port = port
        self.realm = realm
        self.krb5_conf = directory / "krb5.conf"
        self.kdc_conf = directory / "kdc.conf"
        self.log = directory / "krb5kdc.log"
        self.krb5kdc, self.kdb5_util, self.kadmin_local, self.kinit = hostprogs.find(
            hostprogs.KRB5KDC, hostprogs.KDB5_UTIL, hostprogs.KADMIN_LOCAL, hostprogs.KINIT
        )

    @property
    def env(self) -> dict[str, str]:
        """The variables a shell (or a library) needs to use this realm."""
        return {"KRB5_CONFIG": str(self.krb5_conf), "KRB5_KDC_PROFILE": str(self.kdc_conf)}

    def principal(self, name: str) -> str:
        return name if "@" in name else f"{name}@{self.realm}"

    def create(self) -> None:
        """Write the config files and create the realm database (no process is started)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        listen = f"127.0.0.1:{self.port}"
        self.krb5_conf.write_text(
            render("krb5.conf", realm=self.realm, directory=self.directory, kdcs=[listen])
        )
        self.kdc_conf.write_text(
            render("kdc.conf", realm=self.realm, directory=self.directory, listen=listen, log=self.log)
        )
        (self.directory / "kadm5.acl").write_text(f"*/admin@{self.realm} *\n")
        self._run([str(self.kdb5_util), "-r", self.realm, "create", "-s", "-W", "-P", secrets.token_hex(16)])
        self.add_principal(PROBE)
        self.export_keytab(self.directory / "probe.keytab", [PROBE])

    def _run(self, command: list[str]) -> str:
        done = subprocess.run(
            command, env={**os.environ, **self.env}, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise KerberosError(
                f"`{' '.join(command)}` failed (exit {done.returncode}) for realm {self.realm} in "
                f"{self.directory}:\n{done.stderr.strip() or done.stdout.strip()}"
            )
        return done.stdout

    def kadmin(self, query: str) -> str:
        return self._run([str(self.kadmin_local), "-r", self.realm, "-q", query])

    def add_principal(self, name: str) -> str:
        principal = self.principal(name)
        out = self.kadmin(f"addprinc -randkey {principal}")
        if "created" not in out and "already exists" not in out:
            raise KerberosError(f"kadmin.local could not create {principal}: {out.strip()}")
        return principal

    def delete_principal(self, name: str) -> None:
        self.kadmin(f"delprinc -force {self.principal(name)}")

    def export_keytab(self, path: Path, names: list[str]) -> Path:
        """Write the keys of `names` to a 0600 keytab (new keys: older keytabs stop working)."""
        path.unlink(missing_ok=True)
        principals = " ".join(self.principal(n) for n in names)
        self.kadmin(f"ktadd -k {path} {principals}")
        if not path.exists():
            raise KerberosError(f"kadmin.local wrote no keytab to {path} for {principals}")
        path.chmod(0o600)
        return path

    def kinit_works(self) -> bool:
        """A kinit of the probe principal with its keytab succeeds."""
        done = subprocess.run(
            [str(self.kinit), "-k", "-t", str(self.directory / "probe.keytab"), self.principal(PROBE)],
            env={**os.environ, **self.env, "KRB5CCNAME": "MEMORY:boxkoji-probe"},
            capture_output=True,
            timeout=5,
            check=False,
        )
        return done.returncode == 0


def service(realm: Realm) -> Service:
    """The krb5kdc process for a realm that `Realm.create()` has made."""
    return Service(
        name="kdc",
        command=[str(realm.krb5kdc), "-n", "-r", realm.realm],
        ready=realm.kinit_works,
        log=realm.directory / "krb5kdc.stdout.log",
        env=realm.env,
        deadline=15,
        ports={"kdc": realm.port},
        unprivileged=False,  # its database and stash belong to whoever runs pytest
    )
