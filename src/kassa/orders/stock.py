"""Stock: what a market can sell of a SKU, and moving quantities on place and cancel."""

from __future__ import annotations

import sqlalchemy as sa

from kassa.session import Session
from kassa.session.rows import Row
from kassa.session.scopes import market_stock_locations, t


async def available(ctx: Session, market_id: str, sku_id: str) -> int:
    stock = t("stock_items")
    stmt = sa.select(sa.func.coalesce(sa.func.sum(stock.c.quantity), 0)).where(
        stock.c.sku_id == sku_id,
        stock.c.stock_location_id.in_(market_stock_locations(market_id)),
        *ctx.tenant(stock),
    )
    return int((await ctx.conn.execute(stmt)).scalar_one())


async def decrement(ctx: Session, market_id: str, sku_id: str, quantity: int) -> bool:
    """Take ``quantity`` from the market's locations in priority order; False if short.

    Each location is decremented with a guarded UPDATE (``quantity >= n``), so concurrent
    placements can never drive stock below zero.
    """
    stock, isl, markets = t("stock_items"), t("inventory_stock_locations"), t("markets")
    model = sa.select(markets.c.inventory_model_id).where(markets.c.id == market_id)
    stmt = (
        sa.select(stock.c.id, stock.c.quantity)
        .join(isl, isl.c.stock_location_id == stock.c.stock_location_id)
        .where(stock.c.sku_id == sku_id, isl.c.inventory_model_id.in_(model), *ctx.tenant(stock))
        .order_by(isl.c.priority, stock.c.id)
    )
    remaining = quantity
    for item_id, on_hand in (await ctx.conn.execute(stmt)).all():
        if remaining <= 0:
            break
        take = min(remaining, int(on_hand or 0))
        if take <= 0:
            continue
        done = await ctx.update(
            "stock_items",
            item_id,
            {"quantity": stock.c.quantity - take},
            stock.c.quantity >= take,
        )
        if done:
            remaining -= take
    return remaining <= 0


async def restore(ctx: Session, market_id: str, sku_id: str, quantity: int) -> None:
    """Give stock back to the first location of the market that holds the SKU."""
    stock, isl, markets = t("stock_items"), t("inventory_stock_locations"), t("markets")
    model = sa.select(markets.c.inventory_model_id).where(markets.c.id == market_id)
    stmt = (
        sa.select(stock.c.id)
        .join(isl, isl.c.stock_location_id == stock.c.stock_location_id)
        .where(stock.c.sku_id == sku_id, isl.c.inventory_model_id.in_(model), *ctx.tenant(stock))
        .order_by(isl.c.priority, stock.c.id)
        .limit(1)
    )
    item_id = (await ctx.conn.execute(stmt)).scalar_one_or_none()
    if item_id is not None:
        await ctx.update("stock_items", item_id, {"quantity": stock.c.quantity + quantity})


async def skus_of(ctx: Session, items: list[Row]) -> dict[str, Row]:
    """The SKUs of these line items, by id, in one query."""
    ids = sorted({str(i["sku_id"]) for i in items if i.get("sku_id")})
    if not ids:
        return {}
    return {s["id"]: s for s in await ctx.select("skus", t("skus").c.id.in_(ids))}


async def available_many(ctx: Session, market_id: str, sku_ids: list[str]) -> dict[str, int]:
    """What the market's stock locations hold of each SKU, in one query (0 when none)."""
    if not sku_ids:
        return {}
    stock = t("stock_items")
    stmt = (
        sa.select(stock.c.sku_id, sa.func.coalesce(sa.func.sum(stock.c.quantity), 0))
        .where(
            stock.c.sku_id.in_(sku_ids),
            stock.c.stock_location_id.in_(market_stock_locations(market_id)),
            *ctx.tenant(stock),
        )
        .group_by(stock.c.sku_id)
    )
    found = {str(sku): int(qty) for sku, qty in (await ctx.conn.execute(stmt)).all()}
    return {sku: found.get(sku, 0) for sku in sku_ids}


def tracked(sku: Row | None) -> bool:
    return sku is not None and not sku.get("do_not_track")
