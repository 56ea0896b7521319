"""Certificate facts used as evidence: the SPKI pin and the issuer (via ``cryptography``)."""

from __future__ import annotations

import base64
import hashlib


def spki_sha256(der_certificate: bytes) -> str:
    """RFC 7469 §2.4 pin: base64(SHA-256(DER SubjectPublicKeyInfo)) of a DER certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    cert = x509.load_der_x509_certificate(der_certificate)
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def certificate_issuer(der_certificate: bytes) -> str:
    """The issuer's distinguished name (RFC 4514 text) of a DER certificate."""
    from cryptography import x509

    return x509.load_der_x509_certificate(der_certificate).issuer.rfc4514_string()
