"""Finding the host programs the processes runtime needs, with errors that say how to get them."""

from __future__ import annotations

import glob
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from pytest_boxkoji.errors import MissingProgramError


@dataclass(frozen=True)
class Program:
    """A program (or Apache module) the processes runtime needs."""

    name: str
    purpose: str
    debian: str
    fedora: str
    extra_dirs: tuple[str, ...] = ()
    is_file: bool = False  # a file looked up in extra_dirs only (Apache modules)
    alternatives: tuple[Program, ...] = ()  # the same program under other names (httpd)


def _pg_dirs() -> tuple[str, ...]:
    # Debian keeps the server binaries out of PATH, one directory per major version.
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    fedora = sorted(glob.glob("/usr/pgsql-*/bin"), key=_version_key, reverse=True)
    return (*debian, *fedora, "/usr/bin")


def _version_key(path: str) -> int:
    digits = "".join(ch for ch in path if ch.isdigit())
    return int(digits or 0)


SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")
APACHE_MODULE_DIRS = (
    "/usr/lib/apache2/modules",
    "/usr/lib64/httpd/modules",
    "/usr/lib/httpd/modules",
)

KRB5KDC = Program("krb5kdc", "the Kerberos KDC", "krb5-kdc", "krb5-server", SBIN)
KDB5_UTIL = Program("kdb5_util", "creating the Kerberos realm", "krb5-kdc", "krb5-server", SBIN)
KADMIN_LOCAL = Program(
    "kadmin.local", "Kerberos principals and keytabs", "krb5-admin-server", "krb5-server", SBIN
)
INITDB = Program("initdb", "the PostgreSQL cluster", "postgresql", "postgresql-server", _pg_dirs())
POSTGRES = Program("postgres", "the PostgreSQL server", "postgresql", "postgresql-server", _pg_dirs())
APACHE = Program(
    "apache2",
    "the Apache httpd serving the hub",
    "apache2",
    "httpd",
    SBIN,
    alternatives=(Program("httpd", "the Apache httpd serving the hub", "apache2", "httpd", SBIN),),
)
MOD_SSL = Program("mod_ssl.so", "HTTPS for the hub", "apache2", "mod_ssl", APACHE_MODULE_DIRS, is_file=True)
MOD_AUTH_GSSAPI = Program(
    "mod_auth_gssapi.so",
    "Kerberos (GSSAPI) logins to the hub",
    "libapache2-mod-auth-gssapi",
    "mod_auth_gssapi",
    APACHE_MODULE_DIRS,
    is_file=True,
)
CREATEREPO = Program(
    "createrepo_c", "kojid's repositories (newRepo, dist-repo)", "createrepo-c", "createrepo_c"
)
NGINX = Program("nginx", "the proxy in front of the hub and the web", "nginx", "nginx", SBIN)
RPMBUILD = Program("rpmbuild", "the RPMs of scenario and koji_build_factory builds", "rpm", "rpm-build")
APXS = Program("apxs", "building mod_wsgi for the services' Python", "apache2-dev", "httpd-devel", SBIN)
# The broker's own start script: the `rabbitmq-server` on PATH is a wrapper that switches to the
# rabbitmq user and its /var/lib/rabbitmq, which a session's broker must not touch.
RABBITMQ = Program(
    "rabbitmq-server",
    "the message broker of koji_messages (AMQP 1.0)",
    "rabbitmq-server",
    "rabbitmq-server",
    ("/usr/lib/rabbitmq/bin",),
    is_file=True,
)
EPMD = Program("epmd", "Erlang's port mapper, for the message broker", "erlang-base", "erlang-erts")

# What `auto` checks before it picks the processes runtime.
PROCESSES_RUNTIME = (KRB5KDC, KDB5_UTIL, KADMIN_LOCAL, INITDB, POSTGRES, MOD_SSL, MOD_AUTH_GSSAPI, APXS)


def candidates(program: Program) -> list[str]:
    """Every place `find` looks, in order, for the error message."""
    places = [] if program.is_file else [f"$PATH ({os.environ.get('PATH', '')})"]
    return places + [str(Path(d) / program.name) for d in program.extra_dirs]


def locate(program: Program) -> Path | None:
    """Where the program is (under its own name, else an alternative's), or None."""
    for candidate in (program, *program.alternatives):
        found = _locate_one(candidate)
        if found is not None:
            return found
    return None


def _locate_one(program: Program) -> Path | None:
    if not program.is_file:
        found = shutil.which(program.name)
        if found:
            return Path(found)
    for directory in program.extra_dirs:
        path = Path(directory) / program.name
        if path.is_file() and (program.is_file or os.access(path, os.X_OK)):
            return path
    return None


def find(*programs: Program) -> list[Path]:
    """Locate every program or raise one error that lists all that are missing."""
    found: list[Path] = []
    missing: list[Program] = []
    for program in programs:
        path = locate(program)
        if path is None:
            missing.append(program)
        else:
            found.append(path)
    if missing:
        raise MissingProgramError(describe_missing(missing))
    return found


def describe_missing(missing: list[Program]) -> str:
    lines = ["The processes runtime could not find what it needs on this host:"]
    for program in missing:
        lines.append(f"  - {program.name}, needed for {program.purpose}.")
        lines.append(f"    Checked: {', '.join(candidates(program))}")
        for alt in program.alternatives:
            lines.append(f"    Also checked: {', '.join(candidates(alt))}")
    debian = sorted({p.debian for p in missing})
    fedora = sorted({p.fedora for p in missing})
    lines += [
        "To fix this, either:",
        f"  - install them: Debian/Ubuntu: apt-get install {' '.join(debian)}",
        f"                  Fedora/RHEL:   dnf install {' '.join(fedora)}",
        "  - or use the containers runtime: --boxkoji-runtime=containers",
        "`boxkoji doctor` checks everything a runtime needs at once.",
    ]
    return "\n".join(lines)
