"""The simulator's own CA and server certificate, so tests and demos run with verified TLS.

One certificate (IP 127.0.0.1, DNS localhost) serves every simulated cluster: they all live on
127.0.0.1, each on its own port, as real clusters each have their own management LIF. Files are reused
when still valid, so an inventory written by one simulator run keeps working after a restart.

Keys are RSA 2048 with SHA-256 signatures, what ONTAP creates when none is asked for (POST
/api/security/certificates defaults: ``key_size`` 2048, ``hash_function`` sha256; CSRs default to
``algorithm: rsa``). The key type decides what a client pays per handshake, so a simulator on EC keys
would flatter every tool benchmarked against it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fleet.atomic import write_atomically

CA_FILE = "ca.pem"
CERT_FILE = "server.pem"
KEY_FILE = "server.key"
_VALIDITY = dt.timedelta(days=825)
_RENEW_BEFORE = dt.timedelta(days=7)  # regenerate rather than hand out a certificate about to expire
_LOOPBACK = ipaddress.IPv4Address("127.0.0.1")
_SERVER_NAMES = [x509.DNSName("localhost"), x509.IPAddress(_LOOPBACK)]
KEY_BITS = 2048


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """Where the simulator's TLS material lives; ``ca`` is what an inventory's ``tls.ca_file`` names."""

    ca: Path
    cert: Path
    key: Path


def ensure_tls_files(directory: Path | str) -> TlsFiles:
    """Reuse the CA + server certificate in ``directory`` if valid, else generate a fresh set."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(directory / CA_FILE, directory / CERT_FILE, directory / KEY_FILE)
    # Two simulators starting at once on one directory must not write mismatched halves.
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _still_valid(files):
            _generate(files)
    return files


def server_ssl_context(directory: Path | str) -> ssl.SSLContext:
    """A server-side context for the simulator, generating the certificate first if needed."""
    files = ensure_tls_files(directory)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(files.cert, files.key)
    return context


def client_ssl_context(ca_file: Path | str) -> ssl.SSLContext:
    """A verifying client context trusting only the simulator's CA (tests and the benchmark use it)."""
    return ssl.create_default_context(cafile=str(ca_file))


def _still_valid(files: TlsFiles) -> bool:
    try:
        ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
        cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
        key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
    except (OSError, ValueError):
        return False
    now = dt.datetime.now(dt.UTC)
    if any(c.not_valid_after_utc - _RENEW_BEFORE < now or c.not_valid_before_utc > now for c in (ca, cert)):
        return False
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size != KEY_BITS:
        return False  # files from a simulator that used other keys
    if key.public_key().public_numbers() != cert.public_key().public_numbers():  # type: ignore[union-attr]
        return False
    try:
        cert.verify_directly_issued_by(ca)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    ips, dns_names = names.get_values_for_type(x509.IPAddress), names.get_values_for_type(x509.DNSName)
    return _LOOPBACK in ips and "localhost" in dns_names


def _generate(files: TlsFiles) -> None:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)  # tolerate small clock skew
    ca_key = _new_key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fleet simulator CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = _new_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_SERVER_NAMES), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Key first: a reader that sees the new certificate must also find its key.
    write_atomically(files.key, key_pem, mode=0o600)
    write_atomically(files.cert, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    write_atomically(files.ca, ca.public_bytes(serialization.Encoding.PEM), mode=0o644)


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
