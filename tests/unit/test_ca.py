"""CertificateAuthority: the CA, server and client certificates it issues."""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pytest_boxkoji.ca import CertificateAuthority

HOSTS = ["localhost", "127.0.0.1", "hub.koji.box"]


@pytest.fixture
def ca(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority(tmp_path / "ca")


@pytest.fixture
def server(ca: CertificateAuthority, tmp_path: Path) -> tuple[Path, Path]:
    return ca.issue_server("hub", HOSTS, tmp_path)


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def assert_signed_by_ca(cert: x509.Certificate, ca: CertificateAuthority) -> None:
    public = ca.cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert cert.signature_hash_algorithm is not None
    public.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
    assert cert.issuer == ca.cert.subject


def assert_valid_now(cert: x509.Certificate) -> None:
    now = dt.datetime.now(dt.UTC)
    assert cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def test_ca_files_are_written(ca: CertificateAuthority) -> None:
    assert ca.cert_path == ca.directory / "ca.pem"
    assert load(ca.cert_path) == ca.cert
    assert mode(ca.directory / "ca.key") == 0o600
    key = serialization.load_pem_private_key((ca.directory / "ca.key").read_bytes(), password=None)
    assert key.public_key() == ca.cert.public_key()


def test_ca_is_self_signed(ca: CertificateAuthority) -> None:
    assert ca.cert.issuer == ca.cert.subject
    assert_signed_by_ca(ca.cert, ca)
    assert_valid_now(ca.cert)


def test_ca_extensions(ca: CertificateAuthority) -> None:
    constraints = ca.cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca is True
    assert constraints.value.path_length == 0

    usage = ca.cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.key_cert_sign
    assert usage.value.crl_sign
    assert not usage.value.digital_signature


def test_server_cert_san_and_usage(ca: CertificateAuthority, server: tuple[Path, Path]) -> None:
    cert = load(server[0])
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "hub.koji.box"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]

    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "localhost"


def test_server_cert_is_signed_by_ca(ca: CertificateAuthority, server: tuple[Path, Path]) -> None:
    cert = load(server[0])
    assert_signed_by_ca(cert, ca)
    assert_valid_now(cert)
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest


def test_server_files(server: tuple[Path, Path], tmp_path: Path) -> None:
    cert_path, key_path = server
    assert (cert_path, key_path) == (tmp_path / "hub.crt", tmp_path / "hub.key")
    assert mode(key_path) == 0o600
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert key.public_key() == load(cert_path).public_key()


def test_server_chain_verifies(ca: CertificateAuthority, server: tuple[Path, Path]) -> None:
    verification = pytest.importorskip("cryptography.x509.verification")
    store = verification.Store([ca.cert])
    builder = verification.PolicyBuilder().store(store)
    for host in ("localhost", "hub.koji.box"):
        chain = builder.build_server_verifier(x509.DNSName(host)).verify(load(server[0]), [])
        assert chain[-1] == ca.cert
    ip_verifier = builder.build_server_verifier(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    ip_verifier.verify(load(server[0]), [])


def test_server_chain_rejects_other_host(ca: CertificateAuthority, server: tuple[Path, Path]) -> None:
    verification = pytest.importorskip("cryptography.x509.verification")
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store([ca.cert]))
        .build_server_verifier(x509.DNSName("example.org"))
    )
    with pytest.raises(verification.VerificationError):
        verifier.verify(load(server[0]), [])


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl binary is not installed")
def test_openssl_verifies_server_cert(ca: CertificateAuthority, server: tuple[Path, Path]) -> None:
    done = subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca.cert_path), str(server[0])],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK" in done.stdout


def test_client_pem_holds_cert_and_key(ca: CertificateAuthority, tmp_path: Path) -> None:
    path = ca.issue_client("kojiuser", tmp_path)
    assert path == tmp_path / "kojiuser.pem"
    assert mode(path) == 0o600
    data = path.read_bytes()
    assert b"BEGIN CERTIFICATE" in data
    assert b"BEGIN PRIVATE KEY" in data
    cert = x509.load_pem_x509_certificate(data)
    key = serialization.load_pem_private_key(data, password=None)
    assert key.public_key() == cert.public_key()


def test_client_cert_subject_and_usage(ca: CertificateAuthority, tmp_path: Path) -> None:
    cert = x509.load_pem_x509_certificate(ca.issue_client("kojiuser", tmp_path).read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "kojiuser"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "KOJI.BOX"
    assert cert.subject.rfc4514_string() == ca.subject_dn("kojiuser")
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert_signed_by_ca(cert, ca)
    assert_valid_now(cert)


def test_subject_dn(ca: CertificateAuthority) -> None:
    assert ca.subject_dn("kojiweb") == "CN=kojiweb,O=KOJI.BOX"


def test_other_org(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path / "ca", org="EXAMPLE.ORG")
    assert ca.subject_dn("kojiweb") == "CN=kojiweb,O=EXAMPLE.ORG"
