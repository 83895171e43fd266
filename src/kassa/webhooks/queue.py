"""Claiming due outbox events and recording how their attempts went.

A claim is short and never spans a delivery: it marks events with the worker's lease
(``lease_owner``, ``lease_until``) and commits. On PostgreSQL the candidate rows are locked
with ``FOR UPDATE SKIP LOCKED``, so concurrent workers take different events; on SQLite the
claim is a conditional ``UPDATE`` in a write transaction (``BEGIN IMMEDIATE`` serializes
them), so several processes on one file never claim the same event. A worker that dies
leaves its lease to expire; the event is then claimed again.

An event is due when it is pending, its next attempt time has come, its webhook is enabled
with a closed circuit, and no older event of the same resource for the same receiver URL is
still pending: events of one resource reach a receiver in the order they happened, whatever
webhooks (topics) they come through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.store.schema import webhook_events

E = webhook_events


@dataclass
class Claimed:
    seq: int
    event_id: str
    organization_id: str
    mode: str
    webhook_id: str
    topic: str
    resource_type: str
    resource_id: str
    attempts: int
    body: str | None
    extra: str | None


def _due(webhooks: sa.Table, stamp: datetime) -> sa.Select[Any]:
    older = E.alias("older")
    earlier_pending = (
        sa.select(older.c.seq)
        .where(
            older.c.resource_id == E.c.resource_id,
            older.c.resource_type == E.c.resource_type,
            older.c.callback_url == E.c.callback_url,
            older.c.status == "pending",
            older.c.seq < E.c.seq,
        )
        .exists()
    )
    open_hook = (
        sa.select(webhooks.c.id)
        .where(
            webhooks.c.id == E.c.webhook_id,
            webhooks.c.disabled_at.is_(None),
            sa.func.coalesce(webhooks.c.circuit_state, "closed") != "open",
        )
        .exists()
    )
    return (
        sa.select(E.c.seq)
        .where(
            E.c.status == "pending",
            E.c.next_attempt_at <= stamp,
            sa.or_(E.c.lease_until.is_(None), E.c.lease_until < stamp),
            open_hook,
            ~earlier_pending,
        )
        .order_by(E.c.seq)
    )


async def anything_due(conn: AsyncConnection, webhooks: sa.Table, stamp: datetime) -> bool:
    return (await conn.execute(_due(webhooks, stamp).limit(1))).first() is not None


async def claim(
    conn: AsyncConnection,
    webhooks: sa.Table,
    owner: str,
    stamp: datetime,
    lease: float,
    limit: int,
    is_sqlite: bool,
) -> list[Claimed]:
    """Lease up to ``limit`` due events to ``owner``; the caller commits at once."""
    due = _due(webhooks, stamp).limit(limit)
    if not is_sqlite:
        due = due.with_for_update(of=E, skip_locked=True)
        seqs = [int(s) for s in (await conn.execute(due)).scalars()]
        if not seqs:
            return []
        where: list[sa.ColumnElement[bool]] = [E.c.seq.in_(seqs)]
    else:
        where = [E.c.seq.in_(due.scalar_subquery())]
    until = stamp + timedelta(seconds=lease)
    stmt = (
        E.update()
        .where(*where, sa.or_(E.c.lease_until.is_(None), E.c.lease_until < stamp))
        .values(lease_owner=owner, lease_until=until)
        .returning(
            E.c.seq,
            E.c.event_id,
            E.c.organization_id,
            E.c.mode,
            E.c.webhook_id,
            E.c.topic,
            E.c.resource_type,
            E.c.resource_id,
            E.c.attempts,
            E.c.body,
            E.c.extra,
        )
    )
    rows = [Claimed(**dict(r)) for r in (await conn.execute(stmt)).mappings()]
    rows.sort(key=lambda c: c.seq)
    return rows


def _mine(event: Claimed, owner: str) -> list[sa.ColumnElement[bool]]:
    return [E.c.seq == event.seq, E.c.lease_owner == owner]


async def delivered(
    conn: AsyncConnection, event: Claimed, owner: str, stamp: datetime, body: str
) -> None:
    await conn.execute(
        E.update()
        .where(*_mine(event, owner))
        .values(
            status="delivered",
            attempts=event.attempts + 1,
            delivered_at=stamp,
            lease_owner=None,
            lease_until=None,
            body=body,
        )
    )


async def failed(
    conn: AsyncConnection,
    event: Claimed,
    owner: str,
    retry_at: datetime | None,
    body: str | None,
) -> None:
    """One more failed attempt; ``retry_at`` ``None`` gives the event up."""
    values: dict[str, Any] = {
        "attempts": event.attempts + 1,
        "lease_owner": None,
        "lease_until": None,
        "body": body,
    }
    if retry_at is None:
        values["status"] = "failed"
    else:
        values["next_attempt_at"] = retry_at
    await conn.execute(E.update().where(*_mine(event, owner)).values(**values))


async def release(conn: AsyncConnection, events: list[Claimed], owner: str) -> None:
    """Hand back claimed events not attempted (their webhook's circuit opened meanwhile)."""
    if events:
        await conn.execute(
            E.update()
            .where(E.c.seq.in_([e.seq for e in events]), E.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )
