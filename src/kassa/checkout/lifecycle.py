"""Order triggers after placement: approve, capture, cancel, refund, fulfil, archive."""

from __future__ import annotations

from typing import Any

from kassa.checkout.placing import restore_stock
from kassa.failures import attr, invalid_transition, locked, not_editable, rel
from kassa.ids import now
from kassa.orders.locks import order_lock
from kassa.orders.rules import editable, refresh
from kassa.payments import flows, leases, sources
from kassa.session import Session
from kassa.session.rows import Changes, Row

SOURCE = rel("payment_source")
"""Declines of order triggers point at the payment source (payments-and-wallet §10.2)."""


async def approve(ctx: Session, row: Row, _v: Any, _c: Changes) -> None:
    done = await ctx.update(
        "orders",
        row["id"],
        {"status": "approved", "approved_at": now()},
        ctx.table("orders").c.status == "placed",
    )
    if not done:
        raise invalid_transition("_approve")


async def approve_and_capture(ctx: Session, row: Row, _v: Any, _c: Changes) -> None:
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


async def capture(ctx: Session, row: Row, _v: Any, _c: Changes) -> None:
    async with order_lock(ctx, row["id"]) as order:
        if order["status"] != "approved" or order.get("payment_status") not in (
            "authorized",
            "partially_paid",
        ):
            raise invalid_transition("_capture")
        pay = await flows.load(ctx, order)
        outcome = await flows.capture_order(ctx, pay)
        await flows.finish(ctx, pay, outcome, "capture", SOURCE)


async def cancel(ctx: Session, row: Row, _v: Any, _c: Changes) -> None:
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


async def refund(ctx: Session, row: Row, _v: Any, _c: Changes) -> None:
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


async def fulfill(ctx: Session, row: Row, _v: Any, _c: Changes) -> None:
    if row["status"] != "approved":
        raise invalid_transition("_fulfill")
    await ctx.update(
        "orders", row["id"], {"fulfillment_status": "fulfilled", "fulfillment_updated_at": now()}
    )


async def pending(ctx: Session, row: Row, _v: Any, _c: Changes) -> None:
    if row["status"] not in ("draft", "placing"):
        raise invalid_transition("_pending")
    if row["status"] == "placing" and await leases.held(ctx, row["id"]):
        # Its authorization is in flight or waiting for the recovery scan, which ends the
        # placement either way; moving the order now would strand that authorization.
        raise locked(
            "This order's authorization is in flight or being recovered; it ends placed or "
            "back to pending on its own. Retry shortly."
        )
    await ctx.update("orders", row["id"], {"status": "pending"})


async def archive(ctx: Session, row: Row, _v: Any, _c: Changes) -> None:
    await ctx.update("orders", row["id"], {"archived_at": now()})


async def unarchive(ctx: Session, row: Row, _v: Any, _c: Changes) -> None:
    if row.get("archived_at") is None:
        raise invalid_transition("_unarchive")
    await ctx.update("orders", row["id"], {"archived_at": None})


async def nullify_payment_source(ctx: Session, row: Row, _v: Any, _c: Changes) -> None:
    """Detach the payment source, voiding a succeeded authorization first (§8.4)."""
    if not editable(row):
        raise not_editable(attr("_nullify_payment_source"))
    async with order_lock(ctx, row["id"]) as order:
        if not editable(order):
            raise not_editable(attr("_nullify_payment_source"))
        if order.get("payment_status") == "unpaid":
            await sources.detach(ctx, order["id"])
            return
        pay = await flows.load(ctx, order)
        outcome = await flows.void_order(ctx, pay, purpose=flows.CANCEL)
        if outcome is not None and not outcome.ok:
            await flows.finish(ctx, pay, outcome, "void", SOURCE)
            return
        await flows.finish(ctx, pay, outcome, "void", SOURCE, sources.detached())


async def refresh_trigger(ctx: Session, row: Row, _v: Any, _c: Changes) -> None:
    if not editable(row):
        raise not_editable(attr("_refresh"))
    await refresh(ctx, row["id"], force=True)


async def refresh_prices(ctx: Session, row: Row, _v: Any, _c: Changes) -> None:
    if not editable(row):
        raise not_editable(attr("_refresh_prices"))
    await refresh(ctx, row["id"], force=True, prices=True)
