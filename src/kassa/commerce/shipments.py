"""Shipments: one per (stock location, shipping category) of the shippable line items."""

from __future__ import annotations

import re

import sqlalchemy as sa

from kassa.engine.context import Ctx
from kassa.resources.base import Row
from kassa.resources.scopes import t


async def _locations(ctx: Ctx, market_id: str | None) -> list[tuple[str, str]]:
    """(inventory_stock_location id, stock_location id) of the market, by priority."""
    if not market_id:
        return []
    markets, isl = t("markets"), t("inventory_stock_locations")
    model = sa.select(markets.c.inventory_model_id).where(markets.c.id == market_id)
    rows = await ctx.select(
        "inventory_stock_locations",
        isl.c.inventory_model_id.in_(model),
        order_by=[isl.c.priority, isl.c.id],
    )
    return [(r["id"], r["stock_location_id"]) for r in rows]


async def _pick_location(
    ctx: Ctx, locations: list[tuple[str, str]], sku_id: str, quantity: int
) -> tuple[str, str] | None:
    stock = t("stock_items")
    for isl_id, location_id in locations:
        rows = await ctx.select(
            "stock_items", stock.c.sku_id == sku_id, stock.c.stock_location_id == location_id
        )
        if rows and int(rows[0]["quantity"] or 0) >= quantity:
            return isl_id, location_id
    return locations[0] if locations else None


async def sync_shipments(ctx: Ctx, order: Row, items: list[Row]) -> tuple[list[Row], int]:
    """Rebuild the order's shipments and their cost line items; returns items and count."""
    shipments_t = t("shipments")
    existing = await ctx.select("shipments", shipments_t.c.order_id == order["id"])
    wanted: dict[tuple[str | None, str | None], str | None] = {}
    locations = await _locations(ctx, order.get("market_id"))
    for item in items:
        if item.get("item_type") != "skus" or not item.get("sku_id"):
            continue
        sku = await ctx.get("skus", item["sku_id"])
        if sku is None or sku.get("do_not_ship"):
            continue
        picked = await _pick_location(ctx, locations, item["sku_id"], int(item["quantity"]))
        key = (picked[1] if picked else None, sku.get("shipping_category_id"))
        wanted[key] = picked[0] if picked else None
    keep: list[Row] = []
    for shipment in existing:
        key = (shipment.get("stock_location_id"), shipment.get("shipping_category_id"))
        if key in wanted:
            keep.append(shipment)
            wanted.pop(key)
        else:
            await ctx.delete("shipments", shipment["id"])
    for (location_id, category_id), isl_id in wanted.items():
        keep.append(
            await ctx.insert(
                "shipments",
                {
                    "order_id": order["id"],
                    "stock_location_id": location_id,
                    "shipping_category_id": category_id,
                    "inventory_stock_location_id": isl_id,
                    "shipping_address_id": order.get("shipping_address_id"),
                    "status": "draft",
                    "currency_code": order.get("currency_code"),
                    "cost_amount_cents": 0,
                },
            )
        )
    for index, shipment in enumerate(sorted(keep, key=lambda s: (s["created_at"], s["id"])), 1):
        number = f"{order.get('number')}/S/{index:03d}"
        if shipment.get("number") != number:
            await ctx.update("shipments", shipment["id"], {"number": number})
    subtotal = sum(
        int(i.get("total_amount_cents") or 0) for i in items if i.get("item_type") == "skus"
    )
    rest = [i for i in items if i.get("item_type") != "shipments"]
    old_cost_items = {i.get("shipment_id"): i for i in items if i.get("item_type") == "shipments"}
    for shipment in keep:
        method = await ctx.get("shipping_methods", shipment.get("shipping_method_id"))
        cost = shipping_cost(method, subtotal) if method else 0
        if shipment.get("cost_amount_cents") != cost:
            await ctx.update("shipments", shipment["id"], {"cost_amount_cents": cost})
        line = old_cost_items.pop(shipment["id"], None)
        values = {
            "order_id": order["id"],
            "item_type": "shipments",
            "item_id": shipment["id"],
            "shipment_id": shipment["id"],
            "name": f"Shipment #{shipment.get('number') or ''}".strip(),
            "quantity": 1,
            "unit_amount_cents": cost,
            "total_amount_cents": cost,
            "currency_code": order.get("currency_code"),
        }
        if method is None:
            if line is not None:
                await ctx.delete("line_items", line["id"])
            continue
        if line is not None:
            await ctx.update("line_items", line["id"], values)
            line.update(values)
            rest.append(line)
        else:
            rest.append(await ctx.insert("line_items", values))
    for stale in old_cost_items.values():
        await ctx.delete("line_items", stale["id"])
    return rest, len(keep)


def shipping_cost(method: Row, subtotal: int) -> int:
    free_over = method.get("free_over_amount_cents")
    if free_over is not None and subtotal >= int(free_over):
        return 0
    return int(method.get("price_amount_cents") or 0)


def zone_matches(zone: Row | None, address: Row | None) -> bool:
    if zone is None:
        return True
    if address is None:
        return False
    checks = [
        ("country_code_regex", "country_code", True),
        ("not_country_code_regex", "country_code", False),
        ("state_code_regex", "state_code", True),
        ("not_state_code_regex", "state_code", False),
        ("zip_code_regex", "zip_code", True),
        ("not_zip_code_regex", "zip_code", False),
    ]
    for key, field, positive in checks:
        pattern = zone.get(key)
        if not pattern:
            continue
        try:
            hit = re.search(pattern, str(address.get(field) or "")) is not None
        except re.error:
            return False
        if hit != positive:
            return False
    return True


async def available_shipping_methods(ctx: Ctx, shipment: Row, order: Row) -> list[Row]:
    methods = t("shipping_methods")
    rows = await ctx.select(
        "shipping_methods",
        methods.c.disabled_at.is_(None),
        sa.or_(methods.c.market_id == order.get("market_id"), methods.c.market_id.is_(None)),
        methods.c.currency_code == order.get("currency_code"),
        sa.or_(
            methods.c.shipping_category_id.is_(None),
            methods.c.shipping_category_id == shipment.get("shipping_category_id"),
        ),
        sa.or_(
            methods.c.stock_location_id.is_(None),
            methods.c.stock_location_id == shipment.get("stock_location_id"),
        ),
    )
    address = await ctx.get("addresses", order.get("shipping_address_id"))
    out = []
    for method in rows:
        zone = await ctx.get("shipping_zones", method.get("shipping_zone_id"))
        if zone_matches(zone, address):
            out.append(method)
    return out
