"""The body of a webhook request: the resource as the API returns it.

Rendered with the engine, as an integration of the event's organization and mode would
fetch it, with the webhook's ``include_resources`` as ``include``, plus the attributes the event was
recorded with (:meth:`kassa.events.outbox.Events.reveal`). A ``.destroy`` event (or
a resource gone before its event was first sent) carries only the id, every attribute null.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from kassa.auth.principal import Principal
from kassa.engine.context import Ctx, Services
from kassa.engine.handlers import single_doc
from kassa.events import topics
from kassa.jsonapi.query import Query
from kassa.resources.base import Resource


def base_url(services: Services) -> str:
    """The base of ``links`` in payloads: ``KASSA_PUBLIC_BASE_URL``, else the first allowed
    host (``kassa serve`` lists its own listener first), else the configured listener."""
    s = services.settings
    if s.public_base_url:
        return s.public_base_url.rstrip("/")
    if s.allowed_hosts:
        return f"http://{s.allowed_hosts[0]}"
    return f"http://{s.host}:{s.port}"


def destroyed(res: Resource, id_: str) -> dict[str, Any]:
    names = [n for n, f in res.fields.items() if f.fetchable and not n.startswith("_")]
    attributes = dict.fromkeys(n for n in names if n != "id")
    return {"data": {"id": id_, "type": res.type, "attributes": attributes}}


@dataclass
class Wanted:
    """One payload to render: the event's resource, with the webhook's includes."""

    organization_id: str
    mode: str
    topic: str
    resource_type: str
    resource_id: str
    include: list[str] | None = None
    extra: dict[str, Any] | None = None


async def render_all(services: Services, wanted: list[Wanted]) -> list[bytes]:
    """The bodies of ``wanted``, in order, read in one short read-only transaction.

    Each is rendered as an integration of the event's organization and mode would read it.
    """
    out: list[bytes] = []
    if not wanted:
        return out
    ctx = Ctx(services, Principal("", "", "test", "", "integration"), base_url(services))
    async with ctx.step(write=False):
        for item in wanted:
            out.append(await _render(ctx, item))
    return out


async def _render(ctx: Ctx, item: Wanted) -> bytes:
    res = ctx.registry[item.resource_type]
    if topics.is_destroy(item.topic):
        return orjson.dumps(destroyed(res, item.resource_id))
    ctx.principal = Principal(item.organization_id, "", item.mode, "", "integration")
    ctx.query = Query(include=[tuple(p.split(".")) for p in item.include or [] if p])
    row = await ctx.get(item.resource_type, item.resource_id)
    if row is None:
        return orjson.dumps(destroyed(res, item.resource_id))
    doc = await single_doc(ctx, res, row)
    if item.extra:
        doc["data"]["attributes"].update(item.extra)
    return orjson.dumps(doc)
