"""Order triggers after placement: approve, capture, cancel, refund, fulfil, archive."""

from __future__ import annotations

from typing import Any

from kassa.commerce.locks import order_lock
from kassa.commerce.orders import editable, refresh
from kassa.commerce.placing import restore_stock
from kassa.engine.context import Ctx
from kassa.ids import now
from kassa.jsonapi.errors import attr, invalid_transition, not_editable, rel
from kassa.payments import flows
from kassa.payments.transactions import order_transactions
from kassa.resources.base import Changes, Row


async def _fresh(ctx: Ctx, order_id: str) -> Row:
    order = await ctx.get("orders", order_id)
    assert order is not None
    return order


async def approve(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    if row["status"] != "placed":
        raise invalid_transition("_approve")
    await ctx.update(
        "orders",
        row["id"],
        {"status": "approved", "approved_at": now()},
        ctx.table("orders").c.status == "placed",
    )


async def approve_and_capture(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    async with order_lock(ctx, row["id"]):
        order = await _fresh(ctx, row["id"])
        if order["status"] != "placed" or order.get("payment_status") != "authorized":
            raise invalid_transition("_approve_and_capture")
        await ctx.update("orders", order["id"], {"status": "approved", "approved_at": now()})
        await flows.capture_order(ctx, order, attr("_approve_and_capture"))
        await _capture_started(ctx, order["id"])


async def _capture_started(ctx: Ctx, order_id: str) -> None:
    order = await _fresh(ctx, order_id)
    if (
        order.get("payment_status") in ("paid", "partially_paid")
        and order.get("fulfillment_status") == "unfulfilled"
    ):
        await ctx.update("orders", order_id, {"fulfillment_status": "in_progress"})


async def capture(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    async with order_lock(ctx, row["id"]):
        order = await _fresh(ctx, row["id"])
        if order["status"] != "approved" or order.get("payment_status") not in (
            "authorized",
            "partially_paid",
        ):
            raise invalid_transition("_capture")
        await flows.capture_order(ctx, order, attr("_capture"))
        await _capture_started(ctx, order["id"])


async def cancel(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    async with order_lock(ctx, row["id"]):
        order = await _fresh(ctx, row["id"])
        txns = await order_transactions(ctx, order["id"])
        captured = any(t["type"] == "captures" and t.get("succeeded") for t in txns)
        if order["status"] not in ("pending", "placed", "approved") or captured:
            raise invalid_transition("_cancel")
        outcome = await flows.void_order(ctx, order, rel("payment_source"))
        if outcome is not None and not outcome.ok:
            return
        if order.get("placed_at") is not None:
            await restore_stock(ctx, order)
        await ctx.update(
            "orders",
            order["id"],
            {"status": "cancelled", "cancelled_at": now()},
            ctx.table("orders").c.status == order["status"],
        )


async def refund(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    async with order_lock(ctx, row["id"]):
        order = await _fresh(ctx, row["id"])
        if order["status"] != "approved" or order.get("payment_status") not in (
            "paid",
            "partially_refunded",
        ):
            raise invalid_transition("_refund")
        outcome = await flows.refund_order(ctx, order, attr("_refund"))
        if outcome is not None and not outcome.ok:
            return
        order = await _fresh(ctx, order["id"])
        if order.get("payment_status") == "refunded":
            values: dict[str, Any] = {"status": "cancelled", "cancelled_at": now()}
            if order.get("fulfillment_status") == "in_progress":
                values["fulfillment_status"] = "unfulfilled"
            await ctx.update("orders", order["id"], values)


async def fulfill(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    if row["status"] != "approved":
        raise invalid_transition("_fulfill")
    await ctx.update(
        "orders", row["id"], {"fulfillment_status": "fulfilled", "fulfillment_updated_at": now()}
    )


async def pending(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    if row["status"] not in ("draft", "placing"):
        raise invalid_transition("_pending")
    await ctx.update("orders", row["id"], {"status": "pending"})


async def archive(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    await ctx.update("orders", row["id"], {"archived_at": now()})


async def unarchive(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    if row.get("archived_at") is None:
        raise invalid_transition("_unarchive")
    await ctx.update("orders", row["id"], {"archived_at": None})


async def nullify_payment_source(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    if not editable(row):
        raise not_editable(attr("_nullify_payment_source"))
    await ctx.update(
        "orders",
        row["id"],
        {"payment_source_id": None, "payment_source_type": None, "payment_source_details": None},
    )


async def refresh_trigger(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    if not editable(row):
        raise not_editable(attr("_refresh"))
    await refresh(ctx, row["id"], force=True)


async def refresh_prices(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    if not editable(row):
        raise not_editable(attr("_refresh_prices"))
    await refresh(ctx, row["id"], force=True, prices=True)
