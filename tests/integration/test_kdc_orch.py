"""The KDC and orch fixtures on a real krb5kdc (run everywhere: no Koji code needed)."""

import os
import stat
import subprocess

import pytest
from cryptography import x509

from pytest_boxkoji.errors import BoxKojiError

pytestmark = pytest.mark.integration


def kinit(kdc, principal, keytab):
    return subprocess.run(
        ["kinit", "-k", "-t", str(keytab), principal],
        env={**os.environ, **kdc.env, "KRB5CCNAME": "MEMORY:test"},
        capture_output=True,
        text=True,
    )


def test_kdc_issues_tickets(kdc):
    assert kdc.realm == "KOJI.BOX"
    assert kdc.kinit_works()
    assert "127.0.0.1" in kdc.krb5_conf.read_text()


def test_the_kdc_log_has_no_errors_of_its_own(kdc):
    # Its lines go into a failing test's report: they must be about the test.
    assert kdc.kinit_works()  # a ticket issued
    log = kdc.log.read_text()
    assert "AS_REQ" in log
    assert [line for line in log.splitlines() if "(Error)" in line] == []


def test_keytab_checkout_logs_in_and_release_revokes(orch, kdc, tmp_path):
    cred = orch.checkout("alice", "keytab", holder="test")
    assert cred.principal == "alice@KOJI.BOX"
    assert stat.S_IMODE(cred.path.stat().st_mode) == 0o600
    assert kinit(kdc, cred.principal, cred.path).returncode == 0
    assert orch.checkout("alice", "keytab") is cred  # one credential per (name, kind)
    assert cred in orch.inventory()
    copy = tmp_path / "alice.keytab"
    copy.write_bytes(cred.path.read_bytes())
    orch.release("alice", "keytab")
    assert cred not in orch.inventory()
    assert not cred.path.exists()
    assert kinit(kdc, cred.principal, copy).returncode != 0  # the principal is gone from the KDC


def test_service_keytab_holds_one_principal_per_host(orch):
    cred = orch.checkout("HTTP-test", "keytab", holder="svc", hosts=("localhost", "hub.koji.box"))
    assert cred.principals == ("HTTP-test/localhost@KOJI.BOX", "HTTP-test/hub.koji.box@KOJI.BOX")
    listed = subprocess.run(["klist", "-k", str(cred.path)], capture_output=True, text=True).stdout
    assert "HTTP-test/localhost@KOJI.BOX" in listed and "HTTP-test/hub.koji.box@KOJI.BOX" in listed


def test_certificates_are_signed_by_the_orch_ca(orch):
    client = orch.checkout("bob", "cert", holder="test")
    pem = client.path.read_bytes()
    cert = x509.load_pem_x509_certificate(pem)
    assert cert.issuer == orch.ca.cert.subject
    assert client.subject == "CN=bob,O=KOJI.BOX"
    assert b"PRIVATE KEY" in pem and stat.S_IMODE(client.path.stat().st_mode) == 0o600
    server = orch.checkout("web-test", "server_cert", holder="web", hosts=("localhost", "127.0.0.1"))
    assert stat.S_IMODE(server.key_path.stat().st_mode) == 0o600
    done = subprocess.run(
        ["openssl", "verify", "-CAfile", str(orch.ca_file), str(server.path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_passwords_and_inventory(orch):
    cred = orch.checkout("carol", "password", holder="test")
    assert len(cred.password) >= 12
    holders = {(c.name, c.kind): c.holder for c in orch.inventory()}
    assert holders[("carol", "password")] == "test"


def test_unknown_kind_is_refused(orch):
    with pytest.raises(BoxKojiError, match="kind must be one of keytab, cert, server_cert, password"):
        orch.checkout("dave", "token")


def test_readiness_asks_this_realms_own_kdc(kdc, shared_tmp):
    """A ticket from another realm of the same name in this process must not make a KDC that
    has not started look ready (the check once shared one credential cache)."""
    from pytest_boxkoji.services.kdc import Realm

    assert kdc.kinit_works()  # the running realm: a ticket is now cached for its probe
    other = Realm(shared_tmp / "other-kdc", kdc.endpoint, kdc.tools)
    other.create()  # its configuration only: no database, no KDC, no keytab yet
    assert not other.kinit_works()
