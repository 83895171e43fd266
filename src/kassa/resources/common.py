"""Small pieces several declarations share: enable/disable triggers, code shortcuts."""

from __future__ import annotations

from typing import Any

from kassa.ids import now
from kassa.jsonapi.errors import attr, invalid
from kassa.resources.base import Changes, Row, TriggerFn
from kassa.session import Session


def disable_triggers(type_: str) -> dict[str, TriggerFn]:
    async def disable(ctx: Session, row: Row, _v: Any, _c: Changes) -> None:
        await ctx.update(type_, row["id"], {"disabled_at": now()})

    async def enable(ctx: Session, row: Row, _v: Any, _c: Changes) -> None:
        await ctx.update(type_, row["id"], {"disabled_at": None})

    return {"_disable": disable, "_enable": enable}


async def resolve_code(
    ctx: Session, values: Row, changes: Changes, *, code_field: str, rel: str, target: str
) -> Row | None:
    """A ``sku_code``-style shortcut: fill the relationship from the code, or the code from it."""
    related = changes.related.get(rel)
    if related is not None:
        values[code_field] = related.get("code")
        return related
    code = values.get(code_field)
    if code is None:
        return None
    table = ctx.table(target)
    rows = await ctx.select(target, table.c.code == code)
    if not rows:
        raise invalid(attr(code_field), "is invalid", "invalid")
    values[f"{rel}_id"] = rows[0]["id"]
    return rows[0]
