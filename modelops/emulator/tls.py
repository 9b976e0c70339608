"""A fresh self-signed serving certificate per emulator start.

Why TLS on loopback at all: kubectl (client-go) sends a kubeconfig's bearer token only over
https (kubectl#744); over plain http it sends no credentials, so a token would lock kubectl
out. The certificate is its own trust anchor, written into the kubeconfig as
`certificate-authority-data`, so every client verifies it exactly as on a cluster.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

LOOPBACK_NAMES = ("localhost",)
LOOPBACK_IPS = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class Certificate:
    """A PEM certificate and its private key."""

    cert_pem: bytes
    key_pem: bytes

    def server_context(self) -> ssl.SSLContext:
        """An SSL context serving this certificate (the key never touches a shared folder)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        with tempfile.TemporaryDirectory(prefix="modelops-emulator-tls-") as folder:  # created 0700
            cert, key = Path(folder) / "tls.crt", Path(folder) / "tls.key"
            cert.write_bytes(self.cert_pem)
            descriptor = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                out.write(self.key_pem)
            context.load_cert_chain(cert, key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """An SSL context that trusts only this certificate."""
        return ssl.create_default_context(cadata=self.cert_pem.decode())


def self_signed(host: str = "127.0.0.1", days: int = 365) -> Certificate:
    """An EC P-256 certificate for `host` and the loopback names, valid from a minute ago."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "modelops-emulator")])
    ips = {ipaddress.ip_address(ip) for ip in LOOPBACK_IPS}
    dns = set(LOOPBACK_NAMES)
    try:
        ips.add(ipaddress.ip_address(host))
    except ValueError:
        dns.add(host)
    alternative: list[x509.GeneralName] = [x509.DNSName(d) for d in sorted(dns)]
    alternative += [x509.IPAddress(ip) for ip in sorted(ips, key=str)]
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        # Its own CA: clients get it as certificate-authority-data and verify the chain to it.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Certificate(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()),
    )
