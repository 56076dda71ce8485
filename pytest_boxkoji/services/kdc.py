"""The MIT Kerberos KDC for the realm: files, realm database, kadmin, the krb5kdc service."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gssapi
from gssapi.raw.misc import GSSError

from pytest_boxkoji import box, hostprogs
from pytest_boxkoji.errors import KerberosError
from pytest_boxkoji.graph import Context, Part, Recording, Restoring
from pytest_boxkoji.partkey import Key
from pytest_boxkoji.runtimes.tools import Endpoint, Tools
from pytest_boxkoji.services import Check, Service, probed_at
from pytest_boxkoji.templates import render

if TYPE_CHECKING:
    from pytest_boxkoji.runtimes import Runtime

REALM = "KOJI.BOX"
PROBE = "boxkoji-probe"


class Realm:
    """A Kerberos realm kept in `directory`: krb5.conf, kdc.conf, the database and keytabs."""

    def __init__(self, directory: Path, endpoint: Endpoint, tools: Tools, realm: str = REALM) -> None:
        self.directory = directory
        self.endpoint = endpoint
        self.tools = tools
        self.realm = realm
        self.krb5_conf = directory / "krb5.conf"  # the test process's view: the published port
        self.services_krb5_conf = directory / "krb5-services.conf"  # the services' view
        self.kdc_conf = directory / "kdc.conf"
        self.log = directory / "krb5kdc.log"
        self.id = secrets.token_hex(6)

    @property
    def port(self) -> int:
        return self.endpoint.client_port

    @property
    def env(self) -> dict[str, str]:
        """The variables a shell (or a library) needs to use this realm."""
        return {"KRB5_CONFIG": str(self.krb5_conf), "KRB5_KDC_PROFILE": str(self.kdc_conf)}

    @property
    def client_env(self) -> dict[str, str]:
        """`env`, and the test process's default credential cache: this realm's own file."""
        return self.env | {"KRB5CCNAME": f"FILE:{self.directory}/krb5cc_default"}

    @property
    def services_env(self) -> dict[str, str]:
        """What the other services (builders) need: the KDC as they reach it."""
        return {"KRB5_CONFIG": str(self.services_krb5_conf)}

    def principal(self, name: str) -> str:
        return name if "@" in name else f"{name}@{self.realm}"

    def create(self) -> None:
        """Write the config files. The KDC's service creates the database as it starts: one
        program run where it runs (in containers, one container instead of three)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        end = self.endpoint
        self.krb5_conf.write_text(
            render("krb5.conf", realm=self.realm, directory=self.directory, kdcs=[end.client_address])
        )
        self.services_krb5_conf.write_text(
            render("krb5.conf", realm=self.realm, directory=self.directory, kdcs=[end.address])
        )
        listen = f"{end.bind}:{end.port}"
        self.kdc_conf.write_text(
            render("kdc.conf", realm=self.realm, directory=self.directory, listen=listen, log=self.log)
        )
        (self.directory / "kadm5.acl").write_text(f"*/admin@{self.realm} *\n")

    def first_start(self) -> list[str]:
        """The KDC's command: create the realm database and the probe's keytab, then serve."""
        kdb5_util, kadmin = (self.tools.path(p) for p in (hostprogs.KDB5_UTIL, hostprogs.KADMIN_LOCAL))
        probe, keytab = self.principal(PROBE), self.directory / "probe.keytab"
        # Only the first time: a restart (`boxkoji restart kdc`) serves the realm it made.
        script = "\n".join(
            [
                "set -e",
                f"if [ ! -e {self.directory}/principal ]; then",
                f"{kdb5_util} -r {self.realm} create -s -W -P {secrets.token_hex(16)} >/dev/null",
                f"{kadmin} -r {self.realm} -q 'addprinc -randkey {probe}' >/dev/null",
                f"{kadmin} -r {self.realm} -q 'ktadd -k {keytab} {probe}' >/dev/null",
                f"chmod 600 {keytab}",
                "fi",
                f"exec {self.tools.path(hostprogs.KRB5KDC)} -n -r {self.realm}",
            ]
        )
        return ["sh", "-c", script]

    def _run(self, program: hostprogs.Program, args: list[str]) -> str:
        done = self.tools.run(program, args, self.env)
        if done.returncode != 0:
            raise KerberosError(
                f"`{program.name} {' '.join(args)}` failed (exit {done.returncode}) for realm {self.realm} "
                f"in {self.directory}:\n{done.stderr.strip() or done.stdout.strip()}"
            )
        return done.stdout + done.stderr  # kadmin.local says "already exists" on stderr

    def kadmin(self, query: str) -> str:
        return self._run(hostprogs.KADMIN_LOCAL, ["-r", self.realm, "-q", query])

    def add_principal(self, name: str) -> str:
        principal = self.principal(name)
        out = self.kadmin(f"addprinc -randkey {principal}")
        for _ in range(2):
            if out.strip():
                break
            # kadmin.local always says something. Nothing at all is the container engine's exec
            # losing the output (Podman's Docker API, on a very busy machine): ask again, which
            # is safe, "already exists" being a success too.
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
        """Initial credentials for the probe principal from its keytab (what kinit -k does).

        Needs this realm's `env` in the test process (the kdc part sets it before the KDC starts).
        """
        try:
            name = gssapi.Name(self.principal(PROBE), gssapi.NameType.kerberos_principal)
            store: dict[bytes | str, bytes | str] = {
                "client_keytab": str(self.directory / "probe.keytab"),
                # A ccache of this realm's own: a ticket from an earlier realm of this process
                # would pass the check without asking this KDC.
                "ccache": f"MEMORY:boxkoji-probe-{self.id}",
            }
            creds = gssapi.Credentials(name=name, usage="initiate", store=store)
            return creds.lifetime > 0
        except GSSError:
            return False


KDC: Key[Realm] = Key("kdc")  # its part's name, typed with this handle (graph.Key)


def tools_of(runtime: Runtime) -> Tools:
    return runtime.tools("kdc", hostprogs.KRB5KDC, hostprogs.KDB5_UTIL, hostprogs.KADMIN_LOCAL)


def start(context: Context) -> Realm:
    """The realm (database, config files) and its krb5kdc; the test process uses it from now on."""
    runtime = context.runtime
    realm = Realm(context.workspace.directory / "kdc", runtime.endpoint("kdc", 88), tools_of(runtime))
    realm.create()
    context.workspace.set_environ(realm.client_env)
    context.start_service(service(realm))
    return realm


def record(realm: Realm, recording: Recording) -> dict[str, Any]:
    return {"directory": str(realm.directory), "endpoint": box.plain(realm.endpoint), "realm": realm.realm}


def restore(restoring: Restoring, data: dict[str, Any]) -> Realm:
    endpoint = box.rebuilt(Endpoint, data["endpoint"])
    realm = Realm(Path(data["directory"]), endpoint, tools_of(restoring.runtime), data["realm"])
    restoring.workspace.set_environ(realm.client_env)
    restoring.adopt(service(realm), [realm.endpoint])
    return realm


def urls(realm: Realm) -> dict[str, str]:
    return {"kdc": f"tcp://127.0.0.1:{realm.port}"}


def health(realm: Realm) -> list[dict[str, object]]:
    return probed_at("kdc", "kdc", realm.endpoint, "a TCP connection to the KDC")


PART = Part(KDC, (), start, record=record, restore=restore, urls=urls, health=health)


def service(realm: Realm) -> Service:
    """The krb5kdc process for a realm that `Realm.create()` has made."""
    return Service(
        name="kdc",
        command=realm.first_start(),
        ready=Check(f"kinit as {PROBE} with its keytab", realm.kinit_works),
        log=realm.directory / "krb5kdc.stdout.log",
        extra_logs=(realm.log,),  # every ticket it issued (kdc.conf's [logging])
        env=realm.env,
        deadline=15,
        unprivileged=False,
        image="kdc",  # its database and stash belong to whoever runs pytest
    )
