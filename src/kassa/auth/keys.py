"""The RSA key that signs access tokens, kept in the database so every worker shares it."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kassa.ids import now
from kassa.store.db import Database
from kassa.store.schema import signing_keys


class SigningKey:
    def __init__(self, kid: str, private_key: rsa.RSAPrivateKey):
        self.kid = kid
        self.private_key = private_key
        self.public_key = private_key.public_key()

    def jwk(self) -> dict[str, Any]:
        numbers = self.public_key.public_numbers()

        def b64(value: int) -> str:
            raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        return {
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": "RS512",
            "n": b64(numbers.n),
            "e": b64(numbers.e),
        }


def _kid(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


_KEY_LOCK = 0x4B617373  # "Kass": the advisory lock that serializes creating the key


async def load_or_create(db: Database) -> SigningKey:
    """The oldest stored key; the first process to start creates it.

    The read and the insert share one write transaction that is serialized across processes
    (``BEGIN IMMEDIATE`` on SQLite, a transaction-scoped advisory lock on PostgreSQL), so
    workers starting together on a fresh database agree on one key.
    """
    conn = await db.connect(write=True)
    try:
        if not db.is_sqlite:
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEY_LOCK})
        row = (
            await conn.execute(sa.select(signing_keys).order_by(signing_keys.c.created_at).limit(1))
        ).first()
        if row is not None:
            await conn.rollback()
            key = serialization.load_pem_private_key(row.private_pem.encode(), password=None)
            assert isinstance(key, rsa.RSAPrivateKey)
            return SigningKey(row.kid, key)
        new = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = new.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        await conn.execute(
            signing_keys.insert().values(kid=_kid(new), private_pem=pem, created_at=now())
        )
        await conn.commit()
        return SigningKey(_kid(new), new)
    finally:
        await db.close(conn)
