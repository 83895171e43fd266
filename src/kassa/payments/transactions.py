"""Transaction records (authorizations, captures, voids, refunds) and ``payment_status``.

Balances (``capture_balance_cents``, ``void_balance_cents``, ``refund_balance_cents``) are
never adjusted incrementally: they are recomputed from the order's succeeded transactions
whenever one changes, so every path (callout, ``_forward``, an integration flipping
``succeeded``, an asynchronous completion) ends in the same consistent state.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from kassa.ids import new_id, now
from kassa.payments.callouts import Outcome, text
from kassa.session import Session
from kassa.session.rows import Row
from kassa.session.scopes import t

MAX_AMOUNT = 10**15
"""Larger gateway amounts are ignored (the requested amount is kept)."""


async def order_transactions(ctx: Session, order_id: str) -> list[Row]:
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


def _amount(data: dict[str, Any], requested: int) -> int:
    got = data.get("amount_cents")
    if isinstance(got, int) and not isinstance(got, bool) and 0 <= got <= MAX_AMOUNT:
        return got
    return requested


async def record(
    ctx: Session,
    order: Row,
    kind: str,
    outcome: Outcome,
    amount: int,
    *,
    seq: int,
    source_id: str | None = None,
    source_type: str | None = None,
    reference: Row | None = None,
    gateway_id: str | None = None,
    id_: str | None = None,
) -> Row:
    """Store one transaction for ``outcome`` (success, decline, failure or pending).

    ``id_`` is the id chosen before the callout (its idempotency key).

    ``seq`` is the transaction's position in the order (``<order number>/T/<seq>``).
    A new transaction has nothing captured, voided or refunded yet: its balances are its
    amount when it succeeded, else zero (:func:`rebalance` keeps them right afterwards).
    """
    data = outcome.data or {}
    ok = outcome.kind == "success"
    failed = outcome.kind in ("decline", "failure")
    metadata = data.get("metadata") if outcome.kind != "failure" else None
    values: dict[str, Any] = {
        "id": id_ or new_id(),
        "order_id": order["id"],
        "number": f"{order.get('number')}/T/{seq:03d}",
        "currency_code": order.get("currency_code"),
        "amount_cents": amount if outcome.kind == "failure" else _amount(data, amount),
        "succeeded": ok,
        "pending": outcome.kind == "pending",
        "action_id": data.get("action_id") if outcome.kind == "pending" else None,
        "gateway_id": gateway_id,
        "payment_method_type": source_type,
        "payment_source_id": source_id,
        "payment_source_type": source_type,
        "token": text(data.get("transaction_token")) if outcome.kind != "failure" else None,
        "gateway_transaction_id": text(data.get("gateway_transaction_id"))
        if outcome.kind != "failure"
        else None,
        "message": outcome.message,
        "error_code": outcome.error_code if failed else None,
        "error_detail": outcome.message if failed else None,
        "metadata": metadata if isinstance(metadata, dict) else {},
    }
    if kind == "authorizations" and outcome.kind != "failure":
        for key in ("avs_code", "avs_message", "cvv_code", "cvv_message", "fraud_review"):
            values[key] = text(data.get(key))
    settled = values["amount_cents"] if ok else 0
    if kind == "authorizations":
        values.update(
            capture_amount_cents=settled, capture_balance_cents=settled, void_balance_cents=settled
        )
    elif kind == "captures":
        values.update(refund_amount_cents=settled, refund_balance_cents=settled)
    if reference is not None:
        key = "reference_capture_id" if kind == "refunds" else "reference_authorization_id"
        values[key] = reference["id"]
    return await ctx.insert(kind, values)


def _balances(txns: list[Row]) -> dict[str, dict[str, int]]:
    """What every authorization and capture's balances should be now.

    An authorization's capture balance is what is neither captured nor voided (a void ends
    the authorization), its void balance the same; a capture's refund balance is what is
    not refunded yet. Transactions that did not succeed have nothing to capture or refund.
    """
    used: dict[str, int] = defaultdict(int)
    for txn in txns:
        if not txn.get("succeeded"):
            continue
        amount = int(txn.get("amount_cents") or 0)
        if txn["type"] in ("captures", "voids") and txn.get("reference_authorization_id"):
            used[txn["reference_authorization_id"]] += amount
        elif txn["type"] == "refunds" and txn.get("reference_capture_id"):
            used[txn["reference_capture_id"]] += amount
    out: dict[str, dict[str, int]] = {}
    for txn in txns:
        base = int(txn.get("amount_cents") or 0) if txn.get("succeeded") else 0
        left = max(base - used[txn["id"]], 0)
        if txn["type"] == "authorizations":
            out[txn["id"]] = {
                "capture_balance_cents": left,
                "capture_amount_cents": left,
                "void_balance_cents": left,
            }
        elif txn["type"] == "captures":
            out[txn["id"]] = {"refund_balance_cents": left, "refund_amount_cents": left}
    return out


async def rebalance(ctx: Session, txns: list[Row]) -> None:
    """Write the balances that changed (and update the rows in ``txns`` to match)."""
    by_id = {txn["id"]: txn for txn in txns}
    for txn_id, wanted in _balances(txns).items():
        txn = by_id[txn_id]
        changed = {k: v for k, v in wanted.items() if txn.get(k) != v}
        if changed:
            await ctx.update(txn["type"], txn_id, changed)
            txn.update(changed)


def follow_ups(order: Row) -> Row:
    """Order changes implied by its payment status (orders-and-checkout §12)."""
    status, paid = order.get("status"), order.get("payment_status")
    fulfillment = order.get("fulfillment_status")
    out: Row = {}
    if status not in ("placed", "approved"):
        return out
    if paid in ("paid", "partially_paid") and fulfillment == "unfulfilled":
        out["fulfillment_status"] = "in_progress"
    if paid == "refunded":
        out.update(status="cancelled", cancelled_at=now())
        if fulfillment == "in_progress":
            out["fulfillment_status"] = "unfulfilled"
    return out


async def settle(ctx: Session, order: Row, txns: list[Row], values: Row | None = None) -> Row:
    """Rebalance, derive ``payment_status`` and store it with ``values`` in one UPDATE.

    ``order`` is updated in place and returned.
    """
    await rebalance(ctx, txns)
    changes: Row = dict(values or {})
    merged = {**order, **changes}
    status = derive_payment_status(merged, txns)
    if status != order.get("payment_status"):
        changes.update(payment_status=status, payment_updated_at=now())
    changes.update(follow_ups({**merged, **changes}))
    if changes:
        await ctx.update("orders", order["id"], changes)
        order.update(changes)
    return order


async def recompute_order(ctx: Session, order_id: str) -> Row:
    """Reload an order and its transactions and :func:`settle` them."""
    order = await ctx.get("orders", order_id)
    assert order is not None
    return await settle(ctx, order, await order_transactions(ctx, order_id))
