"""Money operations on an order: authorize, capture, void and refund through its gateway.

Callers hold the order's lock (:func:`kassa.orders.locks.order_lock`) and load a
:class:`Payment` once; each operation records its transaction, and :func:`finish` settles
the order (balances, ``payment_status``) and turns a decline into the 422 of §10.2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kassa.failures import Failure, Field, invalid
from kassa.ids import new_id
from kassa.payments import callouts, leases
from kassa.payments.callouts import Outcome
from kassa.payments.transactions import order_transactions, record, settle
from kassa.session import Session
from kassa.session.rows import Row

FALLBACK_TITLES = {
    "authorize": "authorization failed",
    "capture": "capture failed",
    "void": "void failed",
    "refund": "refund failed",
}
KIND = {"authorize": "authorizations", "capture": "captures", "void": "voids", "refund": "refunds"}
LAST_ERROR = "kassa_last_payment_error"
"""A Kassa extension on the order's ``meta``, in the response of the request whose callout
did not succeed (the order then often looks unchanged): what was tried and why it failed."""


@dataclass
class Payment:
    """An order's payment side, read once under the order's lock."""

    order: Row
    method: Row | None
    gateway: Row | None
    """The external gateway, or ``None`` for manual gateways (no callouts)."""
    txns: list[Row] = field(default_factory=list)
    source: Row | None = None

    def find(self, kind: str, txn_id: str) -> Row | None:
        return next((x for x in self.txns if x["id"] == txn_id and x["type"] == kind), None)

    def succeeded(self, kind: str) -> list[Row]:
        return [x for x in self.txns if x["type"] == kind and x.get("succeeded")]


async def load(
    ctx: Session, order: Row, *, method: Row | None = None, source: bool = False
) -> Payment:
    """The order's payment method, gateway, transactions (and, if asked, payment source)."""
    if method is None:
        method = await ctx.get("payment_methods", order.get("payment_method_id"))
    gateway = None
    if method is not None and method.get("payment_gateway_type") == "external_gateways":
        gateway = await ctx.get("external_gateways", method.get("payment_gateway_id"))
    pay = Payment(order, method, gateway, await order_transactions(ctx, order["id"]))
    if source and order.get("payment_source_id") and order.get("payment_source_type"):
        pay.source = await ctx.get(order["payment_source_type"], order["payment_source_id"])
    return pay


def decline_error(action: str, outcome: Outcome, at: Field) -> Failure:
    title = outcome.message or FALLBACK_TITLES[action]
    return invalid(at, title, outcome.error_code or "declined")


async def _gateway_for(ctx: Session, pay: Payment, reference: Row | None) -> Row | None:
    """The gateway that handled ``reference`` (normally the method's current one)."""
    wanted = (reference or {}).get("gateway_id")
    if not wanted or (pay.gateway is not None and pay.gateway["id"] == wanted):
        return pay.gateway
    return await ctx.get("external_gateways", wanted) or pay.gateway


async def run(
    ctx: Session,
    pay: Payment,
    action: str,
    target_type: str,
    target: Row,
    amount: int,
    *,
    reference: Row | None = None,
    meta: dict[str, Any] | None = None,
    purpose: str | None = None,
    context: dict[str, Any] | None = None,
) -> tuple[Outcome, Row]:
    """One transaction callout and its record; no transaction is open during the call.

    The transaction's id is chosen first and sent as the callout's idempotency key; the
    callout is leased (:mod:`kassa.payments.leases`, with ``purpose`` and ``context`` for
    the recovery) in the transaction committed before it leaves. Manual gateways (wire
    transfers) succeed without a callout. The order is not settled here: call
    :func:`finish` (or :func:`settle`) once the operation is complete.
    """
    gateway = await _gateway_for(ctx, pay, reference)
    key = new_id()
    if gateway is None:
        outcome = Outcome("success", {"amount_cents": amount}, message="Accepted")
    else:
        body = await callouts.payload(
            ctx, target_type, target, gateway, {**(meta or {}), leases.KEY_META: key}
        )
        await leases.hold(
            ctx,
            key=key,
            order_id=pay.order["id"],
            action=action,
            purpose=purpose or action,
            gateway_id=gateway["id"],
            target_type=target_type,
            target_id=target["id"],
            amount=amount,
            body=body,
            context=context,
        )
        outcome = await callouts.callout(ctx, gateway, action, body, key)
    txn = await conclude(
        ctx,
        pay,
        action,
        target_type,
        target,
        amount,
        outcome,
        key,
        reference=reference,
        gateway_id=gateway["id"] if gateway else None,
    )
    if gateway is not None:
        await leases.drop(ctx, key)
    return outcome, txn


async def conclude(
    ctx: Session,
    pay: Payment,
    action: str,
    target_type: str,
    target: Row,
    amount: int,
    outcome: Outcome,
    key: str,
    *,
    reference: Row | None = None,
    gateway_id: str | None = None,
) -> Row:
    """Record a callout's outcome as the transaction ``key`` (also after a recovery)."""
    origin = reference if reference is not None else target
    source_id: str | None = target["id"]
    source_type: str | None = target_type
    if action != "authorize":
        source_id, source_type = origin.get("payment_source_id"), origin.get("payment_source_type")
    txn = await record(
        ctx,
        pay.order,
        KIND[action],
        outcome,
        amount,
        seq=len(pay.txns) + 1,
        source_id=source_id,
        source_type=source_type,
        reference=reference,
        gateway_id=gateway_id,
        id_=key,
    )
    pay.txns.append(txn)
    if outcome.kind in ("decline", "failure"):
        ctx.notices.setdefault(("orders", pay.order["id"]), {})[LAST_ERROR] = {
            "action": action,
            "code": outcome.error_code or "declined",
            "message": outcome.message or FALLBACK_TITLES[action],
            "transaction": {"type": KIND[action], "id": txn["id"]},
        }
    instrument = outcome.data.get("payment_instrument")
    if (
        action == "authorize"
        and outcome.ok
        and target_type == "external_payments"
        and isinstance(instrument, dict)
    ):
        await ctx.update("external_payments", target["id"], {"payment_instrument": instrument})
    return txn


async def finish(
    ctx: Session,
    pay: Payment,
    outcome: Outcome | None,
    action: str,
    at: Field,
    values: Row | None = None,
) -> Row:
    """Settle the order; a decline is committed (its record is kept) and raised as a 422."""
    order = await settle(ctx, pay.order, pay.txns, values)
    if outcome is not None and outcome.kind == "decline":
        await ctx.unit.commit_and_continue()
        raise decline_error(action, outcome, at)
    return order


APPROVE_AND_CAPTURE = "approve_capture"  # purpose is at most 16 characters
CANCEL = "cancel"
"""Lease purposes of the order triggers whose rest a recovery finishes
(:mod:`kassa.checkout.recovery`) once their interrupted callout is recorded."""


async def _each(
    ctx: Session,
    pay: Payment,
    action: str,
    kind: str,
    balance_key: str,
    target_type: str,
    purpose: str | None = None,
) -> Outcome | None:
    """Run ``action`` on every succeeded ``kind`` transaction that still has a balance.

    Stops at the first outcome that is not a success and returns it (else the last one).
    ``purpose`` names the trigger for the leases, so a recovery can finish it.
    """
    last: Outcome | None = None
    for txn in pay.succeeded(kind):
        balance = int(txn.get(balance_key) or 0)
        if balance <= 0:
            continue
        outcome, _ = await run(
            ctx, pay, action, target_type, txn, balance, reference=txn, purpose=purpose
        )
        last = outcome
        if not outcome.ok:
            return outcome
        await settle(ctx, pay.order, pay.txns)
    return last


async def capture_order(ctx: Session, pay: Payment, purpose: str | None = None) -> Outcome | None:
    """Capture the capture balance of the order's succeeded authorizations."""
    return await _each(
        ctx, pay, "capture", "authorizations", "capture_balance_cents", "authorizations", purpose
    )


async def void_order(ctx: Session, pay: Payment, purpose: str | None = None) -> Outcome | None:
    """Void the succeeded authorizations that still have a void balance."""
    return await _each(
        ctx, pay, "void", "authorizations", "void_balance_cents", "authorizations", purpose
    )


async def refund_order(ctx: Session, pay: Payment) -> Outcome | None:
    """Refund the refund balance of the order's succeeded captures."""
    return await _each(ctx, pay, "refund", "captures", "refund_balance_cents", "captures")


async def complete(
    ctx: Session, pay: Payment, txn: Row, *, success: bool, fields: Row | None = None
) -> Row:
    """End a pending (or failed) transaction: asynchronous completion or ``_forward``.

    Only the descriptive fields may change; amount and token are immutable.
    """
    values: Row = dict(fields or {})
    values["pending"] = False
    if success:
        values["succeeded"] = True
        values.setdefault("message", "Accepted")
        values.update(error_code=None, error_detail=None)
    await ctx.update(txn["type"], txn["id"], values)
    txn.update(values)
    return await settle(ctx, pay.order, pay.txns)
