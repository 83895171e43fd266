"""Refresh tokens of the password grant: issue, rotate (with replay detection), revoke.

Each login is a family (``sid`` in its access tokens): revoking the family refuses every
token of the login from then on (:func:`kassa.auth.tokens.revoke_family`).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.auth.tokens import is_denied, login_lifetime, new_token_id, revoke_family
from kassa.engine.context import Services
from kassa.ids import now
from kassa.oauth.errors import invalid_grant
from kassa.oauth.params import string_param
from kassa.store.db import Database
from kassa.store.schema import refresh_tokens


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@asynccontextmanager
async def writing(db: Database) -> AsyncIterator[AsyncConnection]:
    """A write transaction that reads first (SQLite: taken with the write lock up front)."""
    conn = await db.connect(write=True)
    try:
        yield conn
        await conn.commit()
    finally:
        await db.close(conn)


async def revoke_login(services: Services, conn: Any, family: str) -> None:
    """Refuse every token of one login from now on, on every process."""
    await revoke_family(conn, family, login_lifetime(services.settings))


async def new_refresh(
    services: Services, app: dict[str, Any], customer: dict[str, Any], scope: str, family: str
) -> str:
    """A new refresh token of the login ``family`` (expired ones are swept on the way)."""
    token = secrets.token_urlsafe(32)
    at = now()
    async with services.db.engine.begin() as conn:
        await conn.execute(refresh_tokens.delete().where(refresh_tokens.c.expires_at < at))
        await conn.execute(
            refresh_tokens.insert().values(
                token_hash=hash_token(token),
                application_id=app["id"],
                customer_id=customer["id"],
                scope=scope,
                expires_at=at + timedelta(seconds=services.settings.refresh_token_ttl),
                family_id=family,
            )
        )
    return token


async def use_refresh(
    services: Services, app: dict[str, Any], params: dict[str, Any]
) -> tuple[dict[str, Any], str, str]:
    """Rotate a refresh token: (customer, scope, family of the new one).

    A token presented again after its rotation (or revocation), even concurrently with
    its first use, is a replay: someone else holds a copy, so the whole login is revoked,
    the latest refresh token and every access token minted from it included.
    """
    token = string_param(params, "refresh_token", invalid_grant("refresh_token must be a string."))
    if not token:
        raise invalid_grant("refresh_token is required.")
    invalid = invalid_grant("The refresh token is invalid, expired or revoked.")
    hashed, at = hash_token(token), now()
    async with writing(services.db) as tx:
        row = (
            await tx.execute(
                sa.select(refresh_tokens).where(
                    refresh_tokens.c.token_hash == hashed,
                    refresh_tokens.c.application_id == app["id"],
                )
            )
        ).first()
        found = None
        if row is not None and row.revoked_at is not None and row.family_id:
            await revoke_login(services, tx, row.family_id)
        elif row is not None and row.revoked_at is None and row.expires_at > at:
            # Rotation is a compare-and-set: of two concurrent refreshes only one wins.
            found = (
                await tx.execute(
                    refresh_tokens.update()
                    .where(
                        refresh_tokens.c.token_hash == hashed,
                        refresh_tokens.c.revoked_at.is_(None),
                    )
                    .values(revoked_at=at)
                    .returning(refresh_tokens.c.customer_id)
                )
            ).first()
            if row.family_id and (found is None or await is_denied(tx, row.family_id)):
                if found is None:  # used concurrently: a replay all the same
                    await revoke_login(services, tx, row.family_id)
                found = None
        customer = None
        if found is not None and row is not None:
            customers = services.registry["customers"].table
            owner = sa.select(customers).where(customers.c.id == row.customer_id)
            customer = (await tx.execute(owner)).mappings().first()
    if found is None or row is None:
        raise invalid
    if customer is None:
        raise invalid_grant("The customer no longer exists.")
    return dict(customer), row.scope, row.family_id or new_token_id()


async def revoke_refresh(services: Services, conn: Any, app: dict[str, Any], token: str) -> None:
    """Revoke a refresh token issued to ``app`` and its login; nothing for an unknown one."""
    row = (
        await conn.execute(
            sa.select(refresh_tokens.c.family_id).where(
                refresh_tokens.c.token_hash == hash_token(token),
                refresh_tokens.c.application_id == app["id"],
            )
        )
    ).first()
    if row is None:
        return
    if row.family_id:
        await revoke_login(services, conn, row.family_id)
    else:
        await conn.execute(
            refresh_tokens.update()
            .where(refresh_tokens.c.token_hash == hash_token(token))
            .values(revoked_at=now())
        )
