"""Order triggers after placement: approve, capture, cancel, refund, fulfil, archive."""

from __future__ import annotations

from typing import Any

from kassa.commerce.locks import order_lock
from kassa.commerce.orders import editable, refresh
from kassa.commerce.placing import restore_stock
from kassa.engine.context import Ctx
from kassa.ids import now
from kassa.jsonapi.errors import ApiError, attr, invalid_transition, not_editable, rel
from kassa.payments import flows, leases
from kassa.resources.base import Changes, Row

SOURCE = rel("payment_source")
"""Declines of order triggers point at the payment source (payments-and-wallet §10.2)."""


async def approve(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    done = await ctx.update(
        "orders",
        row["id"],
        {"status": "approved", "approved_at": now()},
        ctx.table("orders").c.status == "placed",
    )
    if not done:
        raise invalid_transition("_approve")


async def approve_and_capture(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    async with order_lock(ctx, row["id"]) as order:
        if order["status"] != "placed" or order.get("payment_status") != "authorized":
            raise invalid_transition("_approve_and_capture")
        pay = await flows.load(ctx, order)
        outcome = await flows.capture_order(ctx, pay, purpose=flows.APPROVE_AND_CAPTURE)
        # Approved only once the capture went through: a decline (422) or a transport
        # failure (200) leaves the order placed and authorized (§4.6).
        approval = {"status": "approved", "approved_at": now()}
        done = outcome is None or outcome.ok
        await flows.finish(ctx, pay, outcome, "capture", SOURCE, approval if done else None)


async def capture(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    async with order_lock(ctx, row["id"]) as order:
        if order["status"] != "approved" or order.get("payment_status") not in (
            "authorized",
            "partially_paid",
        ):
            raise invalid_transition("_capture")
        pay = await flows.load(ctx, order)
        outcome = await flows.capture_order(ctx, pay)
        await flows.finish(ctx, pay, outcome, "capture", SOURCE)


async def cancel(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    async with order_lock(ctx, row["id"]) as order:
        if order["status"] not in ("pending", "placed", "approved"):
            raise invalid_transition("_cancel")
        pay = await flows.load(ctx, order)
        if pay.succeeded("captures"):
            raise invalid_transition("_cancel")
        outcome = await flows.void_order(ctx, pay, purpose=flows.CANCEL)
        if outcome is not None and not outcome.ok:
            # Declined (422) or not confirmed (transport failure, pending): not cancelled.
            await flows.finish(ctx, pay, outcome, "void", SOURCE)
            return
        if order.get("placed_at") is not None:
            await restore_stock(ctx, order)
        values = {"status": "cancelled", "cancelled_at": now()}
        await flows.finish(ctx, pay, outcome, "void", SOURCE, values)


async def refund(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    async with order_lock(ctx, row["id"]) as order:
        if order["status"] != "approved" or order.get("payment_status") not in (
            "paid",
            "partially_refunded",
        ):
            raise invalid_transition("_refund")
        pay = await flows.load(ctx, order)
        outcome = await flows.refund_order(ctx, pay)
        # A full refund cancels the order (transactions.follow_ups).
        await flows.finish(ctx, pay, outcome, "refund", SOURCE)


async def fulfill(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    if row["status"] != "approved":
        raise invalid_transition("_fulfill")
    await ctx.update(
        "orders", row["id"], {"fulfillment_status": "fulfilled", "fulfillment_updated_at": now()}
    )


async def pending(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    if row["status"] not in ("draft", "placing"):
        raise invalid_transition("_pending")
    if row["status"] == "placing" and await leases.held(ctx, row["id"]):
        # Its authorization is in flight or waiting for the recovery scan, which ends the
        # placement either way; moving the order now would strand that authorization.
        raise ApiError.of(
            423,
            "LOCKED",
            "Locked",
            "This order's authorization is in flight or being recovered; it ends placed or "
            "back to pending on its own. Retry shortly.",
        )
    await ctx.update("orders", row["id"], {"status": "pending"})


async def archive(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    await ctx.update("orders", row["id"], {"archived_at": now()})


async def unarchive(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    if row.get("archived_at") is None:
        raise invalid_transition("_unarchive")
    await ctx.update("orders", row["id"], {"archived_at": None})


async def nullify_payment_source(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    """Detach the payment source, voiding a succeeded authorization first (§8.4)."""
    if not editable(row):
        raise not_editable(attr("_nullify_payment_source"))
    async with order_lock(ctx, row["id"]) as order:
        if not editable(order):
            raise not_editable(attr("_nullify_payment_source"))
        values: Row = dict.fromkeys(
            ("payment_source_id", "payment_source_type", "payment_source_details")
        )
        if order.get("payment_status") == "unpaid":
            await ctx.update("orders", order["id"], values)
            return
        pay = await flows.load(ctx, order)
        outcome = await flows.void_order(ctx, pay, purpose=flows.CANCEL)
        if outcome is not None and not outcome.ok:
            await flows.finish(ctx, pay, outcome, "void", SOURCE)
            return
        await flows.finish(ctx, pay, outcome, "void", SOURCE, values)


async def refresh_trigger(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    if not editable(row):
        raise not_editable(attr("_refresh"))
    await refresh(ctx, row["id"], force=True)


async def refresh_prices(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    if not editable(row):
        raise not_editable(attr("_refresh_prices"))
    await refresh(ctx, row["id"], force=True, prices=True)
