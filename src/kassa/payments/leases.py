"""Leases on gateway callouts in flight: what to repeat when a process dies mid-callout.

Before a callout, its record (idempotency key, action, amount, target, the exact signed
body) is written in the transaction committed just before the request leaves; the
transaction that records the outcome deletes it. A record whose lease has expired was left
by a process that died (or lost its database) between the two: the recovery scan
(:mod:`kassa.checkout.recovery`) repeats the callout with the same key and finishes the
work. An order has at most one callout in flight (the order's lock already serialises
them); a stale record blocks the order's next callout until it is recovered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.failures import locked
from kassa.ids import now
from kassa.orders.locks import lease_seconds
from kassa.session import Session
from kassa.settings import Settings
from kassa.store.schema import callout_leases

KEY_META = "idempotency_key"
"""Member of the callout body's ``data.meta`` repeating the ``Idempotency-Key`` header."""


@dataclass(frozen=True)
class Lease:
    """One callout in flight, as stored."""

    key: str
    organization_id: str
    mode: str
    order_id: str
    action: str
    """``authorize``, ``capture``, ``void``, ``refund`` or ``token``."""
    purpose: str
    """What the callout serves: ``place``, ``authorize``, ``capture``, ``void``, ``refund``
    or ``save`` (a wallet save)."""
    gateway_id: str
    target_type: str
    target_id: str
    amount_cents: int
    context: dict[str, Any]
    body: str
    attempts: int
    lease_until: datetime

    @classmethod
    def of(cls, row: Any) -> Lease:
        m = dict(row)
        return cls(
            key=m["key"],
            organization_id=m["organization_id"],
            mode=m["mode"],
            order_id=m["order_id"],
            action=m["action"],
            purpose=m["purpose"],
            gateway_id=m["gateway_id"],
            target_type=m["target_type"],
            target_id=m["target_id"],
            amount_cents=int(m["amount_cents"]),
            context=dict(m.get("context") or {}),
            body=m["body"],
            attempts=int(m["attempts"]),
            lease_until=m["lease_until"],
        )


def _until(settings: Settings) -> datetime:
    return now() + timedelta(seconds=lease_seconds(settings))


async def hold(
    ctx: Session,
    *,
    key: str,
    order_id: str,
    action: str,
    purpose: str,
    gateway_id: str,
    target_type: str,
    target_id: str,
    amount: int,
    body: bytes,
    context: dict[str, Any] | None = None,
) -> None:
    """Record the callout about to be sent (in the caller's open transaction).

    423 when the order still has an unrecovered callout: it must be finished (by the
    recovery scan, with its own key) before another one may start.
    """
    dialect: Any = sqlite if ctx.services.db.is_sqlite else postgresql
    stamp = now()
    stmt = (
        dialect.insert(callout_leases)
        .values(
            key=key,
            organization_id=ctx.principal.organization_id,
            mode=ctx.principal.mode,
            order_id=order_id,
            action=action,
            purpose=purpose,
            gateway_id=gateway_id,
            target_type=target_type,
            target_id=target_id,
            amount_cents=amount,
            context=context or {},
            body=body.decode(),
            attempts=0,
            created_at=stamp,
            lease_until=_until(ctx.settings),
        )
        .on_conflict_do_nothing(index_elements=["order_id"])
        .returning(callout_leases.c.key)
    )
    if (await ctx.conn.execute(stmt)).first() is None:
        raise locked(
            "A payment callout of this order was interrupted and is being recovered; retry shortly."
        )


async def held(ctx: Session, order_id: str) -> bool:
    """Whether the order has a callout in flight or waiting for the recovery scan."""
    stmt = sa.select(callout_leases.c.key).where(callout_leases.c.order_id == order_id)
    return (await ctx.conn.execute(stmt)).first() is not None


async def drop(ctx: Session, key: str) -> None:
    """Forget a callout whose outcome is now recorded (same transaction as the record)."""
    await ctx.conn.execute(callout_leases.delete().where(callout_leases.c.key == key))


async def expired(conn: AsyncConnection, limit: int = 50) -> list[Lease]:
    """Callouts whose lease has run out, oldest first (every organization and mode)."""
    stmt = (
        sa.select(callout_leases)
        .where(callout_leases.c.lease_until < now())
        .order_by(callout_leases.c.lease_until)
        .limit(limit)
    )
    return [Lease.of(r) for r in (await conn.execute(stmt)).mappings()]


async def claim(ctx: Session, key: str) -> Lease | None:
    """Renew an expired lease for this process (compare-and-set); ``None`` if it is gone or
    somebody renewed it first. Call under the order's lock."""
    stamp = now()
    stmt = (
        callout_leases.update()
        .where(callout_leases.c.key == key, callout_leases.c.lease_until < stamp)
        .values(lease_until=_until(ctx.settings), attempts=callout_leases.c.attempts + 1)
        .returning(*callout_leases.c)
    )
    row = (await ctx.conn.execute(stmt)).mappings().first()
    return Lease.of(row) if row is not None else None
