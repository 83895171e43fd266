"""Webhooks and their event callbacks (integration tokens only).

A webhook subscribes a ``callback_url`` to one topic (``orders.place``); its events are
written to the outbox with the change that caused them and sent by the delivery worker
(:mod:`kassa.webhooks`). Every attempt leaves an ``event_callbacks`` row.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kassa.events.topics import TOPICS, resource_of
from kassa.ids import new_token
from kassa.jsonapi.errors import attr, invalid
from kassa.outbound import url_refusal
from kassa.resources import contract
from kassa.resources.base import Changes, Registry, Resource, Row, TriggerFn, virtual
from kassa.resources.common import disable_triggers
from kassa.session import Session
from kassa.store.schema import webhook_events

LAST_CALLBACKS = 20
"""Event callbacks shown in a webhook's ``last_event_callbacks``, newest first."""
MAX_INCLUDES = 10


def _check(ctx: Session, values: Row, row: Row | None = None) -> None:
    """422 for an unknown topic, a URL that may not be called, or a bad include path."""
    merged = {**(row or {}), **values}
    topic = merged.get("topic")
    if "topic" in values and topic not in TOPICS:
        raise invalid(attr("topic"), "is not included in the list", "inclusion", value=topic)
    if "callback_url" in values:
        url = values.get("callback_url")
        if not isinstance(url, str) or url_refusal(url.strip()) is not None:
            raise invalid(attr("callback_url"), "is invalid", "invalid")
        values["callback_url"] = url.strip()
    if "include_resources" in values or "topic" in values:
        _check_includes(ctx, str(topic), merged.get("include_resources"))


def _check_includes(ctx: Session, topic: str, paths: Any) -> None:
    if paths is None:
        return
    registry = ctx.services.registry
    if not isinstance(registry, Registry):
        raise TypeError("webhooks are declared in a resource Registry")
    res = registry.get(resource_of(topic))
    ok = isinstance(paths, list) and len(paths) <= MAX_INCLUDES and res is not None
    if ok and res is not None:
        for path in paths:
            if not isinstance(path, str) or not path or len(path) > 255:
                ok = False
                break
            if not registry.is_path(res, path.split(".")):
                ok = False
                break
    if not ok:
        raise invalid(attr("include_resources"), "is invalid", "invalid")


async def _create(ctx: Session, values: Row, _c: Changes) -> None:
    _check(ctx, values)
    values["shared_secret"] = new_token()
    values["circuit_state"] = "closed"
    values["circuit_failure_count"] = 0


async def _update(ctx: Session, row: Row, values: Row, _c: Changes) -> None:
    _check(ctx, values, row)


async def _reset_circuit(ctx: Session, row: Row, _v: Any, _c: Changes) -> None:
    """Close the circuit: the events held while it was open go out, oldest first."""
    await ctx.update("webhooks", row["id"], {"circuit_state": "closed", "circuit_failure_count": 0})


async def _regenerate(ctx: Session, row: Row, _v: Any, _c: Changes) -> None:
    await ctx.update("webhooks", row["id"], {"shared_secret": new_token()})


async def _forget_events(ctx: Session, row: Row) -> None:
    """A deleted webhook's undelivered events go with it."""
    await ctx.conn.execute(webhook_events.delete().where(webhook_events.c.webhook_id == row["id"]))


async def _last_callbacks(ctx: Session, hooks: list[Row]) -> dict[str, list[tuple[str, Row]]]:
    """The newest event callbacks of each webhook, in one query for all of them."""
    out: dict[str, list[tuple[str, Row]]] = {h["id"]: [] for h in hooks}
    table = ctx.table("event_callbacks")
    rank = (
        sa.func.row_number()
        .over(partition_by=table.c.webhook_id, order_by=(table.c.created_at.desc(), table.c.id))
        .label("kassa_rank")
    )
    inner = (
        sa.select(table, rank)
        .where(*ctx.scoped("event_callbacks"), table.c.webhook_id.in_(list(out)))
        .subquery()
    )
    stmt = sa.select(inner).where(inner.c.kassa_rank <= LAST_CALLBACKS)
    for found in (await ctx.conn.execute(stmt.order_by(inner.c.kassa_rank))).mappings():
        item = {k: v for k, v in found.items() if k != "kassa_rank"}
        out[item["webhook_id"]].append(("event_callbacks", item))
    return out


_triggers: dict[str, TriggerFn] = {
    **disable_triggers("webhooks"),
    "_reset_circuit": _reset_circuit,
    "_regenerate_shared_secret": _regenerate,
}

WEBHOOKS = Resource(
    contract.WEBHOOKS,
    indexes=[("organization_id", "mode", "topic")],
    relationships={"last_event_callbacks": virtual(_last_callbacks)},
    before_create=_create,
    before_update=_update,
    after_delete=_forget_events,
    triggers=_triggers,
)

EVENT_CALLBACKS = Resource(contract.EVENT_CALLBACKS)

ALL = [WEBHOOKS, EVENT_CALLBACKS]
