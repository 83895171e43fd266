"""The ``X-CommerceLayer-Signature`` of a webhook request, and a receiver's check of it."""

from __future__ import annotations

import base64
import hashlib
import hmac


def signature(body: bytes, shared_secret: str) -> str:
    """base64(HMAC-SHA256(body)) keyed with the webhook's shared secret."""
    digest = hmac.new(shared_secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(body: bytes, shared_secret: str, header: str | None) -> bool:
    """Whether ``header`` is the signature of exactly these body bytes (constant time)."""
    if not header:
        return False
    return hmac.compare_digest(signature(body, shared_secret), header.strip())
