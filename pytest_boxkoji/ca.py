"""A private certificate authority: the CA, server certificates and client certificates."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=30)


def _name(common_name: str, org: str) -> x509.Name:
    # O first, CN last: mod_ssl then reports the subject as "CN=...,O=..." (what ProxyDNs needs).
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _usage(ca: bool) -> x509.KeyUsage:
    """A CA signs certificates; a leaf signs and agrees keys (ECDHE), nothing else."""
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not ca,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _builder(
    subject: x509.Name, issuer: x509.Name, public: ec.EllipticCurvePublicKey, ca: bool
) -> x509.CertificateBuilder:
    """What every certificate of ours has: names, key, validity, basic constraints, key usage."""
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(_usage(ca), critical=True)
    )


class CertificateAuthority:
    """An EC P-256 CA living in `directory`; ca.pem is public, ca.key is 0600."""

    def __init__(self, directory: Path, org: str = "KOJI.BOX") -> None:
        self.directory = directory
        self.org = org
        directory.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = _name(f"boxkoji CA {directory.name}", org)
        public = self.key.public_key()
        self.cert = (
            _builder(subject, subject, public, ca=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.cert_path = directory / "ca.pem"
        self.cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.cert_path.chmod(0o644)
        _write_private(directory / "ca.key", _key_pem(self.key))

    @classmethod
    def load(cls, directory: Path, org: str = "KOJI.BOX") -> CertificateAuthority:
        """The CA an earlier process made in `directory` (a box reattached by `boxkoji`)."""
        ca = cls.__new__(cls)
        ca.directory, ca.org = directory, org
        ca.cert_path = directory / "ca.pem"
        ca.cert = x509.load_pem_x509_certificate(ca.cert_path.read_bytes())
        key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        ca.key = key
        return ca

    def _issue(
        self, subject: x509.Name, usage: x509.ObjectIdentifier, san: list[x509.GeneralName]
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        ca_ski = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = (
            _builder(subject, self.cert.subject, key.public_key(), ca=False)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
            )
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(self.key, hashes.SHA256()), key

    def issue_server(self, name: str, hostnames: list[str], directory: Path) -> tuple[Path, Path]:
        """A server certificate valid for every host name or IP address given; (cert, key) paths."""
        san: list[x509.GeneralName] = []
        for host in hostnames:
            try:
                san.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                san.append(x509.DNSName(host))
        cert, key = self._issue(_name(hostnames[0], self.org), ExtendedKeyUsageOID.SERVER_AUTH, san)
        cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_private(key_path, _key_pem(key))
        return cert_path, key_path

    def issue_client(self, common_name: str, directory: Path) -> Path:
        """A client certificate for `common_name`: one PEM holding certificate and key (0600)."""
        cert, key = self._issue(_name(common_name, self.org), ExtendedKeyUsageOID.CLIENT_AUTH, [])
        path = directory / f"{common_name}.pem"
        _write_private(path, cert.public_bytes(serialization.Encoding.PEM) + _key_pem(key))
        return path

    def subject_dn(self, common_name: str) -> str:
        """The subject DN as mod_ssl reports it (what hub.conf ProxyDNs must contain)."""
        return _name(common_name, self.org).rfc4514_string()
