"""The ``scope`` of a token request: at most one market, and stock locations of that market.

A scope is a space-separated list of ``market:all``, ``market:id:<id>``,
``market:code:<code>``, ``market:<number>`` (legacy) and the same forms of
``stock_location:…``.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from kassa.engine.context import Services
from kassa.oauth.errors import invalid_scope, quoted

_NUMBER = re.compile(r"^[0-9]{1,15}$")
"""A legacy ``market:<number>`` scope."""


async def scoped_market(
    services: Services,
    conn: Any,
    app: dict[str, Any],
    scope: str,
    customer: dict[str, Any] | None,
) -> dict[str, Any] | None:
    """The market ``scope`` names for the application (and customer), with its
    ``stock_location_ids``; None for no market. 400 ``invalid_scope`` for anything else."""
    markets = services.registry["markets"].table
    where = [markets.c.organization_id == app["organization_id"], markets.c.mode == app["mode"]]
    found: list[dict[str, Any]] = []
    stock_scopes: list[str] = []
    for item in scope.split():
        parts = item.split(":")
        if parts[0] == "stock_location":
            stock_scopes.append(item)
            continue
        if parts[0] != "market" or item == "market:all":
            if item == "market:all":
                continue
            raise invalid_scope(f"{quoted(item)} is not a valid scope.")
        if len(parts) == 3 and parts[1] in ("id", "code"):
            cond = markets.c.id == parts[2] if parts[1] == "id" else markets.c.code == parts[2]
        elif len(parts) == 2 and _NUMBER.match(parts[1]):
            cond = markets.c.number == int(parts[1])
        else:
            raise invalid_scope(f"{quoted(item)} is not a valid scope.")
        row = (await conn.execute(sa.select(markets).where(*where, cond))).mappings().first()
        if row is None:
            raise invalid_scope(f"{quoted(item)}: no such market.")
        found.append(dict(row))
    if len({m["id"] for m in found}) > 1:
        raise invalid_scope("A token may be scoped to one market only.")
    if stock_scopes and not found:
        raise invalid_scope("A stock location scope needs its market in scope.")
    market = found[0] if found else None
    if market is not None:
        if market.get("disabled_at") is not None:
            raise invalid_scope("The market is disabled.")
        group = market.get("customer_group_id")
        if (
            group
            and app["kind"] == "sales_channel"
            and (customer is None or customer.get("customer_group_id") != group)
        ):
            raise invalid_scope("The market is private to a customer group.")
        market["stock_location_ids"] = await _stock_locations(services, conn, market)
        for item in stock_scopes:
            await _check_stock_scope(services, conn, app, market, item)
    return market


async def _stock_locations(services: Services, conn: Any, market: dict[str, Any]) -> list[str]:
    reg = services.registry
    if "inventory_stock_locations" not in reg.by_type or not market.get("inventory_model_id"):
        return []
    isl = reg["inventory_stock_locations"].table
    rows = await conn.execute(
        sa.select(isl.c.stock_location_id)
        .where(isl.c.inventory_model_id == market["inventory_model_id"])
        .order_by(isl.c.priority, isl.c.id)
    )
    return [r[0] for r in rows]


async def _check_stock_scope(
    services: Services, conn: Any, app: dict[str, Any], market: dict[str, Any], item: str
) -> None:
    parts = item.split(":")
    locations = services.registry["stock_locations"].table
    where = [
        locations.c.organization_id == app["organization_id"],
        locations.c.mode == app["mode"],
    ]
    if len(parts) == 3 and parts[1] in ("id", "code"):
        cond = locations.c.id == parts[2] if parts[1] == "id" else locations.c.code == parts[2]
    elif len(parts) == 2 and _NUMBER.match(parts[1]):
        cond = locations.c.number == int(parts[1])
    else:
        raise invalid_scope(f"{quoted(item)} is not a valid scope.")
    row = (await conn.execute(sa.select(locations.c.id).where(*where, cond))).first()
    if row is None or row[0] not in market["stock_location_ids"]:
        raise invalid_scope(f"{quoted(item)} is not a stock location of the market in scope.")
