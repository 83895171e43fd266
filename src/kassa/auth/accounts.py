"""Customer accounts: what follows a password change, and password reset tokens.

A reset token is shown once, in the answer to the integration that created the reset, and
stored only as its SHA-256 digest; it is usable for ``KASSA_PASSWORD_RESET_TTL`` seconds and
once. Tokens are 256 random bits, so the digest needs no salt and no slow hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.auth.tokens import deny
from kassa.ids import now
from kassa.store.schema import refresh_tokens

_issued: ContextVar[dict[str, str] | None] = ContextVar("kassa_issued_reset", default=None)


async def password_changed(conn: AsyncConnection, customer_id: str, lifetime: timedelta) -> int:
    """End every login of the customer: whoever holds one of its tokens must log in again.

    Called, in the transaction that stores the new password, by a customer's password change
    and by a password reset. Each live login (refresh-token family) goes on the deny list, so
    its access tokens stop working too; ``lifetime`` is how long that entry must last
    (:func:`kassa.auth.tokens.login_lifetime`). Returns how many refresh tokens it revoked.
    """
    live = (refresh_tokens.c.customer_id == customer_id, refresh_tokens.c.revoked_at.is_(None))
    families = await conn.execute(sa.select(refresh_tokens.c.family_id).where(*live).distinct())
    for (family,) in families.all():
        if family:
            await deny(conn, family, now() + lifetime)
    result = await conn.execute(refresh_tokens.update().where(*live).values(revoked_at=now()))
    return int(result.rowcount or 0)


def new_reset_token(reset_id: str, shown: bool = True) -> str:
    """A fresh token for the reset ``reset_id``; the digest to store is ``token_digest``.

    When ``shown``, the token is remembered for the rest of this request only, so the create
    answer can show it (``issued_token``); no later read can.
    """
    token = secrets.token_urlsafe(32)
    if shown:
        _issued.set({reset_id: token})
    return token


def issued_token(row: dict[str, Any]) -> str | None:
    """The token issued for this reset in the current request, if any."""
    issued = _issued.get()
    return issued.get(row["id"]) if issued else None


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(digest: str | None, token: object) -> bool:
    if not digest or not isinstance(token, str) or not token:
        return False
    return hmac.compare_digest(digest, token_digest(token))
