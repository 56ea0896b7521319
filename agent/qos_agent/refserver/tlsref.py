"""TLS reference for the ``tls_integrity`` test: a pinned certificate that reports the handshake.

The service holds a self-signed certificate generated at start (EC P-256, named
:data:`~qos_agent.integrity.known.TLS_SERVER_NAME`); its SPKI fingerprint is published in
the manifest and may be pinned in the client's configuration (the ``pin-sha256`` form of
RFC 7469 §2.4: base64 of the SHA-256 of the DER SubjectPublicKeyInfo).  After the
handshake the server writes one JSON line saying what *it* saw — the SNI it received and
the protocol version and cipher it negotiated — and closes.  A client behind an
intercepting proxy sees another certificate, and possibly another version or no SNI at
the server: each difference is evidence.
"""

from __future__ import annotations

import datetime
import json
import socket
import socketserver
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qos_agent.integrity.certs import certificate_issuer, spki_sha256
from qos_agent.integrity.known import TLS_SERVER_NAME
from qos_agent.refserver.echo import CappedServer

IO_TIMEOUT_S = 5.0
ISSUER_NAME = "qos-toolkit integrity reference"


@dataclass(frozen=True)
class SelfSigned:
    """A generated key and certificate, as PEM files in a private directory."""

    cert_file: Path
    key_file: Path
    der: bytes


def make_self_signed(directory: Path, name: str = TLS_SERVER_NAME) -> SelfSigned:
    """A fresh EC P-256 key and a one-year self-signed certificate for ``name``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER_NAME)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    return SelfSigned(cert_file, key_file, cert.public_bytes(serialization.Encoding.DER))


def _remember_sni(sock: Any, server_name: str | None, _context: ssl.SSLContext) -> None:
    sock.qos_sni = server_name


class _TlsHandler(socketserver.BaseRequestHandler):
    server: TlsReferenceServer

    def handle(self) -> None:
        raw: socket.socket = self.request
        raw.settimeout(IO_TIMEOUT_S)
        try:
            with self.server.context.wrap_socket(raw, server_side=True) as tls:
                seen = {
                    "sni": getattr(tls, "qos_sni", None),
                    "version": tls.version(),
                    "cipher": (tls.cipher() or ("",))[0],
                }
                tls.sendall(json.dumps(seen).encode() + b"\n")
        except (OSError, ssl.SSLError):
            return


class TlsReferenceServer(CappedServer):
    """Threaded TLS server with a generated certificate (TLS 1.2 and 1.3)."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._dir = tempfile.TemporaryDirectory(prefix="qos-tlsref-")
        self.certificate = make_self_signed(Path(self._dir.name))
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.load_cert_chain(self.certificate.cert_file, self.certificate.key_file)
        self.context.sni_callback = _remember_sni
        super().__init__(address, _TlsHandler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def description(self) -> dict[str, Any]:
        """The manifest's ``tls`` entry."""
        return {
            "port": self.port,
            "server_name": TLS_SERVER_NAME,
            "spki_sha256": spki_sha256(self.certificate.der),
            "issuer": certificate_issuer(self.certificate.der),
            "max_version": "TLSv1.3" if ssl.HAS_TLSv1_3 else "TLSv1.2",
        }

    def server_close(self) -> None:
        super().server_close()
        self._dir.cleanup()
