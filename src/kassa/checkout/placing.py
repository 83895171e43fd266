"""``_place`` and ``_authorize``: validate, reserve stock, authorize, and place an order.

Both run under the order's lock, so concurrent requests on one order authorize at most
once: the others wait and then find the order placed (or authorized) and answer 200
without calling the gateway (the triggers are idempotent, api-conventions §8).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kassa.failures import attr, blank, invalid, invalid_transition, rel
from kassa.ids import now
from kassa.orders import stock
from kassa.orders.locks import RELEASED, order_lock
from kassa.orders.rules import PURCHASABLE, line_items, place_errors, raise_if, refresh
from kassa.payments import flows
from kassa.payments.callouts import Outcome
from kassa.payments.transactions import MAX_AMOUNT, derive_payment_status
from kassa.session import Session
from kassa.session.rows import Changes, Row

AMOUNT = "_authorization_amount_cents"
SOURCE = rel("payment_source")
_COVERED = ("authorized", "paid", "partially_paid")


def _tracked(items: list[Row], skus: dict[str, Row]) -> dict[str, int]:
    """Quantity per tracked SKU among the purchasable line items."""
    wanted: dict[str, int] = {}
    for item in items:
        sku = skus.get(item.get("sku_id") or "")
        if item.get("item_type") in PURCHASABLE and sku is not None and stock.tracked(sku):
            wanted[sku["id"]] = wanted.get(sku["id"], 0) + int(item.get("quantity") or 0)
    return wanted


async def _reserve(ctx: Session, order: Row, items: list[Row], skus: dict[str, Row]) -> None:
    """Decrement stock for every tracked SKU; all or nothing (422 when short).

    Runs in the transaction that is rolled back on failure, so a short SKU leaves the
    others untouched too.
    """
    # SKU by SKU in id order: two orders sharing SKUs lock their stock rows in the same order,
    # so on PostgreSQL neither waits for the other in a cycle.
    for sku_id, quantity in sorted(_tracked(items, skus).items()):
        if not await stock.decrement(ctx, order["market_id"], sku_id, quantity):
            item = next(i for i in items if i.get("sku_id") == sku_id)
            raise invalid(
                attr("quantity"),
                "is out of stock",
                "out_of_stock",
                line_item_id=item["id"],
                sku_code=item.get("sku_code"),
            )


async def _give_back(ctx: Session, order: Row, items: list[Row], skus: dict[str, Row]) -> None:
    for sku_id, quantity in sorted(_tracked(items, skus).items()):
        await stock.restore(ctx, order["market_id"], sku_id, quantity)


async def restore_stock(ctx: Session, order: Row) -> None:
    """Put a placed order's tracked quantities back (cancellation)."""
    items = await line_items(ctx, order["id"])
    await _give_back(ctx, order, items, await stock.skus_of(ctx, items))


async def _count_customer_order(ctx: Session, customer_id: str) -> int:
    """One more placed order for the customer (prospect → acquired → repeat); the new count."""
    table = ctx.table("customers")
    count = sa.func.coalesce(table.c.total_orders_count, 0) + 1
    stmt = (
        table.update()
        .where(table.c.id == customer_id, *ctx.scoped("customers"))
        .values(
            total_orders_count=count,
            status=sa.case((count == 1, "acquired"), else_="repeat"),
            updated_at=now(),
        )
        .returning(table.c.total_orders_count)
    )
    found = (await ctx.conn.execute(stmt)).scalar_one_or_none()
    return int(found or 0)


async def _placed_values(ctx: Session, order: Row, items: list[Row], skus: dict[str, Row]) -> Row:
    """Side effects of a successful placement and the order columns it sets."""
    stamp = now()
    shippable = any(
        item.get("item_type") == "skus"
        and item.get("sku_id") in skus
        and not skus[item["sku_id"]].get("do_not_ship")
        for item in items
    )
    values: Row = {
        "status": "placed",
        "placed_at": stamp,
        "payment_updated_at": stamp,
        "place_total_amount_cents": order.get("total_amount_with_taxes_cents"),
        "fulfillment_status": "unfulfilled" if shippable else "not_required",
    }
    if order.get("customer_id"):
        count = await _count_customer_order(ctx, order["customer_id"])
        if count:
            values["customer_type"] = "new" if count == 1 else "returning"
    if int(order.get("shipments_count") or 0) > 0:
        shipments = ctx.table("shipments")
        upcoming = await ctx.conn.execute(
            shipments.update()
            .where(shipments.c.order_id == order["id"], *ctx.scoped("shipments"))
            .values(status="upcoming", updated_at=stamp)
            .returning(shipments.c.id)
        )
        for (shipment_id,) in upcoming:  # webhooks: shipments.upcoming
            ctx.events.updated("shipments", shipment_id, {"status": "upcoming"})
    return values


def _override(changes: Changes) -> int | None:
    """``_authorization_amount_cents`` sent with the trigger (must be positive)."""
    raw = changes.triggers.get(AMOUNT)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        raise invalid(attr(AMOUNT), "must be greater than 0", "greater_than", count=0)
    if raw > MAX_AMOUNT:
        title = f"must be less than or equal to {MAX_AMOUNT}"
        raise invalid(attr(AMOUNT), title, "less_than_or_equal_to", count=MAX_AMOUNT)
    return raw


def _to_authorize(pay: flows.Payment, total: int) -> int:
    """What is still to authorize: the total minus succeeded, unvoided authorizations."""
    authorized = sum(int(x.get("void_balance_cents") or 0) for x in pay.succeeded("authorizations"))
    return max(total - authorized, 0)


async def place(ctx: Session, row: Row, _value: Any, changes: Changes) -> None:
    override = _override(changes)
    async with order_lock(ctx, row["id"]) as order:
        if order["status"] in ("placed", "placing"):
            return
        if order["status"] not in ("draft", "pending"):
            raise invalid_transition("_place")
        if order.get("autorefresh") is False:
            order = await refresh(ctx, order["id"], force=True, order=order)
        elif order["status"] == "draft":
            # A draft is refreshed first (it may become pending), as the autorefresh step
            # of the PATCH: committed, so it stays applied when a check below fails.
            order = await refresh(ctx, order["id"], order=order)
            await ctx.unit.commit_and_continue()
        items = await line_items(ctx, order["id"])
        skus = await stock.skus_of(ctx, items)
        method = await ctx.get("payment_methods", order.get("payment_method_id"))
        raise_if(await place_errors(ctx, order, items, skus, method=method))
        await _reserve(ctx, order, items, skus)
        total = int(order.get("total_amount_with_taxes_cents") or 0)
        pay = await flows.load(ctx, order, method=method, source=total > 0)
        due = _to_authorize(pay, total)
        if total == 0 or derive_payment_status(order, pay.txns) in _COVERED or due == 0:
            free = await _placed_values(ctx, order, items, skus)
            await flows.finish(ctx, pay, None, "authorize", SOURCE, {**free, **RELEASED})
            return
        if pay.source is None:
            raise blank(rel("payment_source"))
        amount = override or due
        status_before = order["status"]
        # While the gateway decides, the order is `placing`: not editable, so the cart
        # cannot change under the authorization, and a repeated _place is a no-op.
        await ctx.update("orders", order["id"], {"status": "placing"})
        order["status"] = "placing"
        meta = {"amount_cents": amount} if amount != total else None
        outcome, _txn = await flows.run(
            ctx,
            pay,
            "authorize",
            order["payment_source_type"],
            pay.source,
            amount,
            meta=meta,
            purpose="place",
            context={"status_before": status_before},
        )
        await conclude_placement(ctx, pay, order, items, skus, outcome, status_before)


async def conclude_placement(
    ctx: Session,
    pay: flows.Payment,
    order: Row,
    items: list[Row],
    skus: dict[str, Row],
    outcome: Outcome,
    status_before: str,
) -> None:
    """Place the order after its authorization (or put it back): ``_place`` and recovery."""
    total = int(order.get("total_amount_with_taxes_cents") or 0)
    if outcome.kind in ("success", "pending"):
        placed = await _placed_values(ctx, order, items, skus)
        cap = (pay.method or {}).get("auto_capture_max_amount_cents")
        auto = bool((pay.method or {}).get("auto_capture")) and outcome.ok
        if not auto or (cap is not None and int(cap) < total):
            await flows.finish(ctx, pay, outcome, "authorize", SOURCE, {**placed, **RELEASED})
            return
        await flows.finish(ctx, pay, outcome, "authorize", SOURCE, placed)
        # A failed automatic capture leaves the order placed and authorized.
        await flows.capture_order(ctx, pay)
        await flows.finish(ctx, pay, None, "capture", SOURCE)
        return
    # Decline or transport failure: the order stays as it was, the stock comes back,
    # the failed authorization is kept. A decline answers 422, a failure 200.
    await _give_back(ctx, order, items, skus)
    back = {"status": status_before, **RELEASED}
    await flows.finish(ctx, pay, outcome, "authorize", SOURCE, back)


async def authorize(ctx: Session, row: Row, _value: Any, changes: Changes) -> None:
    override = _override(changes)
    async with order_lock(ctx, row["id"]) as order:
        if order["status"] not in ("draft", "pending"):
            raise invalid_transition("_authorize")
        if order.get("payment_status") != "unpaid":
            return
        if not order.get("payment_source_id"):
            raise blank(rel("payment_source"))
        if order.get("autorefresh") is False:
            order = await refresh(ctx, order["id"], force=True, order=order)
        total = int(order.get("total_amount_with_taxes_cents") or 0)
        pay = await flows.load(ctx, order, source=True)
        if pay.source is None:
            raise blank(rel("payment_source"))
        amount = override or total
        if amount <= 0:
            return
        meta = {"amount_cents": amount} if amount != total else None
        outcome, _ = await flows.run(
            ctx,
            pay,
            "authorize",
            order["payment_source_type"],
            pay.source,
            amount,
            meta=meta,
            purpose="authorize",
        )
        await flows.finish(ctx, pay, outcome, "authorize", SOURCE, RELEASED)
