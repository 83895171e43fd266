"""Shipments: one per (stock location, shipping category) of the shippable line items."""

from __future__ import annotations

import re

import sqlalchemy as sa

from kassa.orders import stock
from kassa.session import Session
from kassa.session.rows import Row
from kassa.session.scopes import t


async def _locations(ctx: Session, market_id: str | None) -> list[tuple[str, str]]:
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


async def _stock_levels(
    ctx: Session, locations: list[tuple[str, str]], sku_ids: list[str]
) -> dict[tuple[str, str], int]:
    """(SKU id, stock location id) → quantity, for these SKUs in these locations."""
    if not locations or not sku_ids:
        return {}
    stock = t("stock_items")
    rows = await ctx.select(
        "stock_items",
        stock.c.sku_id.in_(sku_ids),
        stock.c.stock_location_id.in_([loc for _, loc in locations]),
    )
    return {(r["sku_id"], r["stock_location_id"]): int(r["quantity"] or 0) for r in rows}


def _pick_location(
    locations: list[tuple[str, str]], levels: dict[tuple[str, str], int], sku_id: str, quantity: int
) -> tuple[str, str] | None:
    """The first location (by priority) holding enough of the SKU, else the first one."""
    for isl_id, location_id in locations:
        if levels.get((sku_id, location_id), -1) >= quantity:
            return isl_id, location_id
    return locations[0] if locations else None


async def sync_shipments(ctx: Session, order: Row, items: list[Row]) -> tuple[list[Row], int]:
    """Rebuild the order's shipments and their cost line items; returns items and count.

    Shipments exist once the order has a shipping address: one per (stock location,
    shipping category) of the line items whose SKU ships. Rows are written only when they
    change, so a refresh that changes nothing leaves them as they were.
    """
    address_id = order.get("shipping_address_id")
    skus = await stock.skus_of(ctx, items) if address_id else {}
    shippable = [
        (item, skus[item["sku_id"]])
        for item in items
        if item.get("item_type") == "skus"
        and item.get("sku_id") in skus
        and not skus[item["sku_id"]].get("do_not_ship")
    ]
    has_costs = any(i.get("item_type") == "shipments" for i in items)
    if not shippable and not has_costs and not int(order.get("shipments_count") or 0):
        return items, 0  # nothing ships and nothing was built before
    shipments_t = t("shipments")
    existing = await ctx.select("shipments", shipments_t.c.order_id == order["id"])
    wanted: dict[tuple[str | None, str | None], tuple[str | None, int]] = {}
    locations = await _locations(ctx, order.get("market_id")) if shippable else []
    levels = await _stock_levels(ctx, locations, sorted({s["id"] for _, s in shippable}))
    for item, sku in shippable:
        quantity = int(item.get("quantity") or 0)
        picked = _pick_location(locations, levels, sku["id"], quantity)
        key = (picked[1] if picked else None, sku.get("shipping_category_id"))
        count = wanted[key][1] if key in wanted else 0
        wanted[key] = (picked[0] if picked else None, count + quantity)
    keep: list[Row] = []
    counts: dict[str, int] = {}
    for shipment in existing:
        key = (shipment.get("stock_location_id"), shipment.get("shipping_category_id"))
        if key in wanted:
            keep.append(shipment)
            counts[shipment["id"]] = wanted.pop(key)[1]
        else:
            await ctx.delete("shipments", shipment["id"])
    for (location_id, category_id), (isl_id, count) in wanted.items():
        row = await ctx.insert(
            "shipments",
            {
                "order_id": order["id"],
                "stock_location_id": location_id,
                "shipping_category_id": category_id,
                "inventory_stock_location_id": isl_id,
                "shipping_address_id": address_id,
                "status": "draft",
                "currency_code": order.get("currency_code"),
                "cost_amount_cents": 0,
                "skus_count": count,
            },
        )
        keep.append(row)
        counts[row["id"]] = count
    keep.sort(key=lambda s: (s["created_at"], s["id"]))
    for index, shipment in enumerate(keep, 1):
        await _set(
            ctx,
            shipment,
            number=f"{order.get('number')}/S/{index:03d}",
            skus_count=counts[shipment["id"]],
            shipping_address_id=address_id,
        )
    base = free_over_base(items)
    rest = [i for i in items if i.get("item_type") != "shipments"]
    old_cost_items = {i.get("shipment_id"): i for i in items if i.get("item_type") == "shipments"}
    for shipment in keep:
        method = await ctx.get("shipping_methods", shipment.get("shipping_method_id"))
        cost = shipping_cost(method, *base) if method else 0
        await _set(ctx, shipment, cost_amount_cents=cost)
        line = old_cost_items.pop(shipment["id"], None)
        if method is None:
            if line is not None:
                await ctx.delete("line_items", line["id"])
            continue
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
        if line is not None:
            await _set(ctx, line, "line_items", **values)
            rest.append(line)
        else:
            rest.append(await ctx.insert("line_items", values))
    for stale in old_cost_items.values():
        await ctx.delete("line_items", stale["id"])
    return rest, len(keep)


async def _set(ctx: Session, row: Row, type_: str = "shipments", **values: object) -> None:
    """Write only the values that differ from the row (and keep the row in step)."""
    changed = {k: v for k, v in values.items() if row.get(k) != v}
    if changed:
        await ctx.update(type_, row["id"], changed)
        row.update(changed)


def free_over_base(items: list[Row]) -> tuple[int, int]:
    """(subtotal, subtotal after discounts) of the line items, for ``free_over_amount_cents``."""
    subtotal = sum(
        int(i.get("total_amount_cents") or 0)
        for i in items
        if i.get("item_type") in ("skus", "bundles", "gift_cards")
    )
    discounts = sum(
        int(i.get("total_amount_cents") or 0)
        for i in items
        if str(i.get("item_type") or "").endswith("promotions")
    )
    return subtotal, subtotal + discounts


def shipping_cost(method: Row, subtotal: int, discounted: int | None = None) -> int:
    """The method's price, or 0 once the order reaches ``free_over_amount_cents``.

    The order amount is the subtotal after discounts, or the plain subtotal with
    ``use_subtotal``.
    """
    free_over = method.get("free_over_amount_cents")
    amount = subtotal if method.get("use_subtotal") or discounted is None else discounted
    if free_over is not None and amount >= int(free_over):
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


async def available_shipping_methods(ctx: Session, shipment: Row, order: Row) -> list[Row]:
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
