"""A TLS-intercepting relay with its own CA, for the integrity lab (run in the router ns).

What a "security appliance" or an intercepting middlebox does: it terminates the client's
TLS with a leaf certificate issued on the fly by its own CA for the name the client asked
for (SNI), offers at most TLS 1.2 to the client, and opens its own TLS connection to the
real server *without* SNI, relaying bytes both ways.  Built on the ``ssl`` module (OpenSSL)
and ``cryptography``; iptables REDIRECT sends the client's port-443 traffic here.

``python -m qos_lab.tls_mitm --listen ADDR:PORT --upstream ADDR:PORT`` prints ``READY``
once listening.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import socket
import socketserver
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any

CA_NAME = "Lab Interception CA"


def _name(common_name: str) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(
    subject: str, issuer_key: Any, issuer: str, *, ca: bool, san: str | None
) -> tuple[Any, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False
        )
    return key, builder.sign(issuer_key or key, hashes.SHA256())


def _pem_files(directory: Path, stem: str, key: Any, chain: list[Any]) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization

    cert_file, key_file = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_file.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class Interceptor:
    """Leaf certificates per SNI from one CA; one server context per name."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca_key, self.ca_cert = _issue(CA_NAME, None, CA_NAME, ca=True, san=None)
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()
        self.default = self.context_for("intercepted.invalid")
        self.default.sni_callback = self._choose

    def context_for(self, name: str) -> ssl.SSLContext:
        with self._lock:
            if name not in self._contexts:
                key, cert = _issue(name, self.ca_key, CA_NAME, ca=False, san=name)
                stem = f"leaf-{len(self._contexts)}"
                files = _pem_files(self.directory, stem, key, [cert, self.ca_cert])
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.maximum_version = ssl.TLSVersion.TLSv1_2
                context.load_cert_chain(*files)
                self._contexts[name] = context
            return self._contexts[name]

    def _choose(self, sock: Any, name: str | None, _context: ssl.SSLContext) -> None:
        if name:
            sock.context = self.context_for(name)


def _pump(src: Any, dst: Any) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)


def serve(listen: tuple[str, int], upstream: tuple[str, int]) -> None:
    tmp = tempfile.TemporaryDirectory(prefix="qlab-mitm-")
    interceptor = Interceptor(Path(tmp.name))
    back = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    back.check_hostname = False
    back.verify_mode = ssl.CERT_NONE

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.settimeout(10)
            with (
                contextlib.suppress(OSError),
                interceptor.default.wrap_socket(self.request, server_side=True) as client,
                socket.create_connection(upstream, timeout=10) as raw,
                back.wrap_socket(raw) as server,  # no server_hostname: SNI stripped
            ):
                thread = threading.Thread(target=_pump, args=(client, server), daemon=True)
                thread.start()
                _pump(server, client)

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    with Server(listen, Handler) as server:
        print("READY", flush=True)
        server.serve_forever()


def _addr(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m qos_lab.tls_mitm")
    parser.add_argument("--listen", type=_addr, required=True)
    parser.add_argument("--upstream", type=_addr, required=True)
    args = parser.parse_args()
    serve(args.listen, args.upstream)


if __name__ == "__main__":
    main()
