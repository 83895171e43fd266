"""Transaction records (authorizations, captures, voids, refunds) and ``payment_status``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kassa.engine.context import Ctx
from kassa.payments.callouts import Outcome
from kassa.resources.base import Row
from kassa.resources.scopes import t


async def order_transactions(ctx: Ctx, order_id: str) -> list[Row]:
    return await ctx.select("transactions", t("transactions").c.order_id == order_id)


def derive_payment_status(order: Row, txns: list[Row]) -> str:
    """The order's ``payment_status`` from its succeeded transactions; first match wins."""
    sums = {"authorizations": 0, "captures": 0, "voids": 0, "refunds": 0}
    for txn in txns:
        if txn.get("succeeded"):
            sums[txn["type"]] += int(txn.get("amount_cents") or 0)
    total = int(order.get("total_amount_with_taxes_cents") or 0)
    a, c, v, r = sums["authorizations"], sums["captures"], sums["voids"], sums["refunds"]
    if total == 0 and order.get("placed_at") is not None:
        return "free"
    if r > 0:
        return "refunded" if r >= c else "partially_refunded"
    if c > 0:
        return "paid" if c >= a - v else "partially_paid"
    if v > 0:
        return "voided" if v >= a else "partially_voided"
    if a > 0:
        return "authorized" if a >= total else "partially_authorized"
    return "unpaid"


async def record(
    ctx: Ctx,
    order: Row,
    kind: str,
    outcome: Outcome,
    amount: int,
    *,
    source: Row | None = None,
    source_type: str | None = None,
    reference: Row | None = None,
    gateway_id: str | None = None,
) -> Row:
    """Store one transaction for ``outcome`` (success, decline, failure or pending)."""
    existing = await ctx.conn.execute(
        sa.select(sa.func.count())
        .select_from(t("transactions"))
        .where(t("transactions").c.order_id == order["id"])
    )
    seq = int(existing.scalar_one()) + 1
    data = outcome.data or {}
    ok = outcome.kind == "success"
    got = data.get("amount_cents")
    final = int(got) if isinstance(got, int) and not isinstance(got, bool) and got >= 0 else amount
    values: dict[str, Any] = {
        "order_id": order["id"],
        "number": f"{order.get('number')}/T/{seq:03d}",
        "currency_code": order.get("currency_code"),
        "amount_cents": final,
        "succeeded": ok,
        "pending": outcome.kind == "pending",
        "action_id": data.get("action_id") if outcome.kind == "pending" else None,
        "gateway_id": gateway_id,
        "payment_method_type": source_type,
        "payment_source_id": source["id"] if source else None,
        "payment_source_type": source_type,
        "token": data.get("transaction_token") if outcome.kind != "failure" else None,
        "gateway_transaction_id": data.get("gateway_transaction_id"),
        "message": outcome.message
        if outcome.kind != "success"
        else (data.get("message") or "Accepted"),
        "error_code": None if ok or outcome.kind == "pending" else outcome.error_code,
        "error_detail": None if ok or outcome.kind == "pending" else outcome.message,
        "metadata": data.get("metadata") if isinstance(data.get("metadata"), dict) else {},
    }
    for key in ("avs_code", "avs_message", "cvv_code", "cvv_message", "fraud_review"):
        if kind == "authorizations" and isinstance(data.get(key), str):
            values[key] = data[key]
    settled = final if ok else 0
    if kind == "authorizations":
        values.update(
            capture_amount_cents=settled,
            capture_balance_cents=settled,
            void_balance_cents=settled,
        )
    elif kind == "captures":
        values.update(refund_amount_cents=settled, refund_balance_cents=settled)
        if reference is not None:
            values["reference_authorization_id"] = reference["id"]
    elif kind == "voids" and reference is not None:
        values["reference_authorization_id"] = reference["id"]
    elif kind == "refunds" and reference is not None:
        values["reference_capture_id"] = reference["id"]
    return await ctx.insert(kind, values)


async def settle_effects(ctx: Ctx, kind: str, txn: Row, reference: Row | None) -> None:
    """Balances on the referenced transaction once ``txn`` has succeeded."""
    if reference is None:
        return
    amount = int(txn["amount_cents"])
    table = t("transactions")
    if kind == "captures":
        await ctx.update(
            "authorizations",
            reference["id"],
            {
                "capture_balance_cents": sa.func.max(table.c.capture_balance_cents - amount, 0)
                if ctx.services.db.is_sqlite
                else sa.func.greatest(table.c.capture_balance_cents - amount, 0),
                "void_balance_cents": sa.func.max(table.c.void_balance_cents - amount, 0)
                if ctx.services.db.is_sqlite
                else sa.func.greatest(table.c.void_balance_cents - amount, 0),
                "capture_amount_cents": sa.func.max(table.c.capture_balance_cents - amount, 0)
                if ctx.services.db.is_sqlite
                else sa.func.greatest(table.c.capture_balance_cents - amount, 0),
            },
        )
    elif kind == "voids":
        await ctx.update(
            "authorizations",
            reference["id"],
            {"void_balance_cents": 0, "capture_balance_cents": 0, "capture_amount_cents": 0},
        )
    elif kind == "refunds":
        greatest = sa.func.max if ctx.services.db.is_sqlite else sa.func.greatest
        await ctx.update(
            "captures",
            reference["id"],
            {
                "refund_balance_cents": greatest(table.c.refund_balance_cents - amount, 0),
                "refund_amount_cents": greatest(table.c.refund_balance_cents - amount, 0),
            },
        )


async def recompute_order(ctx: Ctx, order_id: str) -> Row:
    from kassa.ids import now

    order = await ctx.get("orders", order_id)
    assert order is not None
    status = derive_payment_status(order, await order_transactions(ctx, order_id))
    if status != order.get("payment_status"):
        await ctx.update(
            "orders", order_id, {"payment_status": status, "payment_updated_at": now()}
        )
        order["payment_status"] = status
    return order
