"""The transactional outbox: webhook events written in the transaction of their change.

The unit of work (:class:`kassa.engine.context.Ctx`) tells an :class:`Events` collector about
every row it inserts, updates (when a row changed) and deletes; the collector keeps the
topics those writes are (:mod:`kassa.events.topics`) and, just before the transaction
commits, writes one outbox row per event and subscribed, enabled webhook with a single
``INSERT … SELECT``. A transaction that rolls back forgets its events; a committed one has
them in the database, whatever happens to the process next.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.events import topics
from kassa.ids import now
from kassa.store.schema import webhook_events
from kassa.store.shapes import shape

WAKE = "webhooks.wake"
"""``Services.extras`` key of the in-process worker's wake-up event."""


def new_event_id() -> str:
    return "evt_" + secrets.token_hex(12)


@dataclass
class Events:
    """What one unit of work's current transaction will announce when it commits."""

    pending: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    """``(topic, resource type, resource id, extra attributes as JSON)`` in the order the
    writes happened."""
    revealed: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Attributes for the create event of a row about to be inserted (see :meth:`reveal`)."""
    placing: set[str] = field(default_factory=set)
    """Orders this request moved to the internal ``placing`` status."""
    flushed: bool = False

    def reveal(self, id_: str, attributes: dict[str, Any]) -> None:
        """Put ``attributes`` in the payload of the coming create event of row ``id_``:
        what a read never shows again (a password reset's token)."""
        self.revealed[id_] = attributes

    def inserted(self, type_: str, row: dict[str, Any]) -> None:
        shown = self.revealed.pop(str(row["id"]), None)
        extra = json.dumps(shown) if shown else None
        for topic in topics.on_insert(type_, row):
            self.pending.append(
                (topic, type_, str(row["id"]), extra if "create" in topic else None)
            )

    def updated(self, type_: str, id_: str, values: dict[str, Any]) -> None:
        if type_ == "orders" and "status" in values:
            status = values["status"]
            if status == "placing":
                self.placing.add(id_)
            elif id_ in self.placing:
                self.placing.discard(id_)
                if status in ("draft", "pending"):
                    # Back where it was before `placing` (a decline): no news for anyone.
                    values = {k: v for k, v in values.items() if k != "status"}
        for topic in topics.on_update(type_, values):
            self.pending.append((topic, type_, id_, None))

    def deleted(self, type_: str, id_: str) -> None:
        for topic in topics.on_delete(type_):
            self.pending.append((topic, type_, id_, None))

    def clear(self) -> None:
        self.pending.clear()
        self.revealed.clear()

    async def flush(
        self, conn: AsyncConnection, organization_id: str, mode: str, webhooks: sa.Table
    ) -> None:
        """Write the pending events into the outbox, in the transaction about to commit."""
        if not self.pending:
            return
        events, self.pending = self.pending, []
        if await record(conn, organization_id, mode, webhooks, events):
            self.flushed = True

    def committed(self, extras: dict[str, Any]) -> None:
        """After the commit: wake this process's worker when there is something to send."""
        if self.flushed:
            self.flushed = False
            wake = extras.get(WAKE)
            if isinstance(wake, asyncio.Event):
                wake.set()


async def record(
    conn: AsyncConnection,
    organization_id: str,
    mode: str,
    webhooks: sa.Table,
    events: list[tuple[str, str, str, str | None]],
) -> bool:
    """One outbox row per event and enabled webhook subscribed to its topic.

    A single statement whatever the number of events; it writes nothing when nobody
    subscribed. Returns whether any event was named (the caller may wake a worker).
    """
    stmt = shape(("outbox", webhooks, len(events)), lambda: _record(webhooks, len(events)))
    stamp = now()
    params: dict[str, Any] = {"organization_id": organization_id, "mode": mode, "stamp": stamp}
    for pos, (topic, type_, id_, extra) in enumerate(events):
        params.update(
            {
                f"event_id_{pos}": new_event_id(),
                f"topic_{pos}": topic,
                f"resource_type_{pos}": type_,
                f"resource_id_{pos}": id_,
                f"extra_{pos}": extra,
            }
        )
    result = await conn.execute(stmt, params)
    return bool(result.rowcount)


_COLUMNS = [
    "event_id",
    "organization_id",
    "mode",
    "webhook_id",
    "topic",
    "resource_type",
    "resource_id",
    "callback_url",
    "status",
    "attempts",
    "created_at",
    "next_attempt_at",
    "extra",
]


def _record(webhooks: sa.Table, count: int) -> sa.Insert:
    """The statement of :func:`record` for ``count`` events, built once per count: the
    events' values and the caller's organization, mode and time are bound parameters."""
    rows = [
        sa.select(
            sa.literal(pos, sa.Integer).label("pos"),
            sa.bindparam(f"event_id_{pos}", type_=sa.String).label("event_id"),
            sa.bindparam(f"topic_{pos}", type_=sa.String).label("topic"),
            sa.bindparam(f"resource_type_{pos}", type_=sa.String).label("resource_type"),
            sa.bindparam(f"resource_id_{pos}", type_=sa.String).label("resource_id"),
            sa.bindparam(f"extra_{pos}", type_=sa.Text).label("extra"),
        )
        for pos in range(count)
    ]
    ev = (rows[0] if len(rows) == 1 else sa.union_all(*rows)).subquery("ev")
    w = webhooks
    org = sa.bindparam("organization_id", type_=sa.String)
    mode = sa.bindparam("mode", type_=sa.String)
    stamp = sa.bindparam("stamp", type_=sa.DateTime)
    select = (
        sa.select(
            ev.c.event_id,
            org,
            mode,
            w.c.id,
            ev.c.topic,
            ev.c.resource_type,
            ev.c.resource_id,
            w.c.callback_url,
            sa.literal("pending", sa.String),
            sa.literal(0, sa.Integer),
            stamp,
            stamp,
            ev.c.extra,
        )
        .select_from(ev.join(w, w.c.topic == ev.c.topic))
        .where(w.c.organization_id == org, w.c.mode == mode, w.c.disabled_at.is_(None))
        .order_by(ev.c.pos, w.c.id)
    )
    return webhook_events.insert().from_select(_COLUMNS, select)
