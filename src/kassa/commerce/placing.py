"""``_place`` and ``_authorize``: validate, reserve stock, authorize, and place an order."""

from __future__ import annotations

from typing import Any

from kassa.commerce import stock
from kassa.commerce.locks import order_lock
from kassa.commerce.orders import PURCHASABLE, line_items, place_errors, raise_if, refresh
from kassa.engine.context import Ctx
from kassa.ids import now
from kassa.jsonapi.errors import attr, blank, invalid_transition, rel
from kassa.payments import flows
from kassa.payments.transactions import recompute_order
from kassa.resources.base import Changes, Row


async def _reserve(ctx: Ctx, order: Row) -> list[tuple[str, int]]:
    """Decrement stock for every tracked SKU line item; all or nothing (422 when short)."""
    taken: list[tuple[str, int]] = []
    for item in await line_items(ctx, order["id"]):
        if item.get("item_type") not in PURCHASABLE or not item.get("sku_id"):
            continue
        sku = await ctx.get("skus", item["sku_id"])
        if not stock.tracked(sku):
            continue
        ok = await stock.decrement(ctx, order["market_id"], item["sku_id"], int(item["quantity"]))
        if not ok:
            from kassa.jsonapi.errors import invalid

            raise invalid(
                attr("quantity"),
                "is out of stock",
                "out_of_stock",
                line_item_id=item["id"],
                sku_code=item.get("sku_code"),
            )
        taken.append((item["sku_id"], int(item["quantity"])))
    return taken


async def _give_back(ctx: Ctx, order: Row, taken: list[tuple[str, int]]) -> None:
    for sku_id, quantity in taken:
        await stock.restore(ctx, order["market_id"], sku_id, quantity)


async def restore_stock(ctx: Ctx, order: Row) -> None:
    for item in await line_items(ctx, order["id"]):
        if item.get("item_type") in PURCHASABLE and item.get("sku_id"):
            sku = await ctx.get("skus", item["sku_id"])
            if stock.tracked(sku):
                await stock.restore(ctx, order["market_id"], item["sku_id"], int(item["quantity"]))


async def _mark_placed(ctx: Ctx, order: Row) -> None:
    stamp = now()
    items = await line_items(ctx, order["id"])
    shippable = False
    for item in items:
        if item.get("item_type") == "skus" and item.get("sku_id"):
            sku = await ctx.get("skus", item["sku_id"])
            shippable = shippable or (sku is not None and not sku.get("do_not_ship"))
    values: dict[str, Any] = {
        "status": "placed",
        "placed_at": stamp,
        "payment_updated_at": stamp,
        "place_total_amount_cents": order.get("total_amount_with_taxes_cents"),
        "fulfillment_status": "unfulfilled" if shippable else "not_required",
    }
    customer = await ctx.get("customers", order.get("customer_id"))
    if customer is not None:
        count = int(customer.get("total_orders_count") or 0) + 1
        await ctx.update(
            "customers",
            customer["id"],
            {"total_orders_count": count, "status": "acquired" if count == 1 else "repeat"},
        )
        values["customer_type"] = "new" if count == 1 else "returning"
    await ctx.update("orders", order["id"], values)
    for shipment in await ctx.select("shipments", ctx.table("shipments").c.order_id == order["id"]):
        await ctx.update("shipments", shipment["id"], {"status": "upcoming"})
    await recompute_order(ctx, order["id"])


def _authorized(order: Row) -> bool:
    return order.get("payment_status") in ("authorized", "paid", "partially_paid")


async def place(ctx: Ctx, row: Row, _value: Any, changes: Changes) -> None:
    async with order_lock(ctx, row["id"]):
        order = await ctx.get("orders", row["id"])
        assert order is not None
        if order["status"] in ("placed", "placing"):
            return
        if order["status"] not in ("draft", "pending"):
            raise invalid_transition("_place")
        order = await refresh(ctx, order["id"], force=True)
        raise_if(await place_errors(ctx, order))
        taken = await _reserve(ctx, order)
        total = int(order.get("total_amount_with_taxes_cents") or 0)
        if total == 0 or _authorized(order):
            await _mark_placed(ctx, order)
            return
        amount = int(changes.triggers.get("_authorization_amount_cents") or total)
        if order.get("place_async"):
            await ctx.update("orders", order["id"], {"status": "placing"})
        meta = {"amount_cents": amount} if amount != total else None
        source = await ctx.get(order["payment_source_type"], order["payment_source_id"])
        assert source is not None
        outcome, _txn = await flows.run(
            ctx, order, "authorize", order["payment_source_type"], source, amount, meta=meta
        )
        if outcome.kind in ("success", "pending"):
            await _mark_placed(ctx, order)
            if outcome.ok:
                method, _ = await flows.gateway_of(ctx, order)
                if method and method.get("auto_capture"):
                    cap = method.get("auto_capture_max_amount_cents")
                    if cap is None or int(cap) >= total:
                        fresh = await ctx.get("orders", order["id"])
                        assert fresh is not None
                        await flows.capture_order(ctx, fresh, rel("payment_source"))
            return
        await _give_back(ctx, order, taken)
        if order.get("place_async"):
            await ctx.update("orders", order["id"], {"status": "pending"})
        if outcome.kind == "decline":
            await ctx.commit()
            await ctx.resume()
            raise flows.decline_error("authorize", outcome, rel("payment_source"))
        # Transport failure: 200, the order stays pending, the failed authorization is kept.


async def authorize(ctx: Ctx, row: Row, _value: Any, changes: Changes) -> None:
    async with order_lock(ctx, row["id"]):
        order = await ctx.get("orders", row["id"])
        assert order is not None
        if order["status"] not in ("draft", "pending"):
            raise invalid_transition("_authorize")
        if order.get("payment_status") != "unpaid":
            return
        if not order.get("payment_source_id"):
            raise blank(rel("payment_source"))
        order = await refresh(ctx, order["id"], force=True)
        total = int(order.get("total_amount_with_taxes_cents") or 0)
        amount = int(changes.triggers.get("_authorization_amount_cents") or total)
        source = await ctx.get(order["payment_source_type"], order["payment_source_id"])
        if source is None:
            raise blank(rel("payment_source"))
        meta = {"amount_cents": amount} if amount != total else None
        outcome, _ = await flows.run(
            ctx, order, "authorize", order["payment_source_type"], source, amount, meta=meta
        )
        if outcome.kind == "decline":
            await ctx.commit()
            await ctx.resume()
            raise flows.decline_error("authorize", outcome, rel("payment_source"))
