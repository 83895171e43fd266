"""Money operations on an order: authorize, capture, void and refund through its gateway."""

from __future__ import annotations

from typing import Any

from kassa.engine.context import Ctx
from kassa.jsonapi.errors import Invalid, validation
from kassa.payments import callouts
from kassa.payments.callouts import Outcome
from kassa.payments.transactions import recompute_order, record, settle_effects
from kassa.resources.base import Row
from kassa.resources.scopes import t

FALLBACK_TITLES = {
    "authorize": "authorization failed",
    "capture": "capture failed",
    "void": "void failed",
    "refund": "refund failed",
}
KIND = {"authorize": "authorizations", "capture": "captures", "void": "voids", "refund": "refunds"}


def decline_error(action: str, outcome: Outcome, pointer: str) -> Invalid:
    title = outcome.message or FALLBACK_TITLES[action]
    return Invalid([validation(pointer, title, outcome.error_code or "declined")])


async def gateway_of(ctx: Ctx, order: Row) -> tuple[Row | None, Row | None]:
    """(payment method, external gateway or None for manual gateways)."""
    method = await ctx.get("payment_methods", order.get("payment_method_id"))
    if method is None:
        return None, None
    if method.get("payment_gateway_type") == "external_gateways":
        return method, await ctx.get("external_gateways", method.get("payment_gateway_id"))
    return method, None


async def run(
    ctx: Ctx,
    order: Row,
    action: str,
    target_type: str,
    target: Row,
    amount: int,
    *,
    reference: Row | None = None,
    meta: dict[str, Any] | None = None,
) -> tuple[Outcome, Row]:
    """One transaction callout and its record; no transaction is open during the call.

    Manual gateways (wire transfers) succeed without a callout.
    """
    _method, gateway = await gateway_of(ctx, order)
    source = (
        await ctx.get(
            order.get("payment_source_type") or "external_payments", order.get("payment_source_id")
        )
        if order.get("payment_source_id")
        else None
    )
    if gateway is None:
        outcome = Outcome("success", {"amount_cents": amount}, message="Accepted")
    else:
        body = await callouts.payload(ctx, target_type, target, gateway, meta)
        await ctx.pause()
        outcome = await callouts.call(ctx, gateway, action, body)
        await ctx.resume()
    txn = await record(
        ctx,
        order,
        KIND[action],
        outcome,
        amount,
        source=source,
        source_type=order.get("payment_source_type"),
        reference=reference,
        gateway_id=gateway["id"] if gateway else None,
    )
    if outcome.ok:
        await settle_effects(ctx, KIND[action], txn, reference)
        if action == "authorize" and source is not None:
            instrument = outcome.data.get("payment_instrument")
            if (
                isinstance(instrument, dict)
                and order.get("payment_source_type") == "external_payments"
            ):
                await ctx.update(
                    "external_payments", source["id"], {"payment_instrument": instrument}
                )
    await recompute_order(ctx, order["id"])
    return outcome, txn


async def succeeded(ctx: Ctx, order_id: str, kind: str) -> list[Row]:
    table = t("transactions")
    return await ctx.select(kind, table.c.order_id == order_id, table.c.succeeded.is_(True))


async def capture_order(ctx: Ctx, order: Row, pointer: str) -> Outcome | None:
    """Capture the capture balance of the order's succeeded authorizations."""
    last: Outcome | None = None
    for auth in await succeeded(ctx, order["id"], "authorizations"):
        balance = int(auth.get("capture_balance_cents") or 0)
        if balance <= 0:
            continue
        outcome, _ = await run(
            ctx, order, "capture", "authorizations", auth, balance, reference=auth
        )
        if outcome.kind == "decline":
            await ctx.commit()
            await ctx.resume()
            raise decline_error("capture", outcome, pointer)
        last = outcome
        if not outcome.ok:
            return outcome
    return last


async def void_order(ctx: Ctx, order: Row, pointer: str) -> Outcome | None:
    """Void the succeeded authorizations that still have a void balance."""
    last: Outcome | None = None
    for auth in await succeeded(ctx, order["id"], "authorizations"):
        balance = int(auth.get("void_balance_cents") or 0)
        if balance <= 0:
            continue
        outcome, _ = await run(ctx, order, "void", "authorizations", auth, balance, reference=auth)
        if outcome.kind == "decline":
            await ctx.commit()
            await ctx.resume()
            raise decline_error("void", outcome, pointer)
        last = outcome
        if not outcome.ok:
            return outcome
    return last


async def refund_order(ctx: Ctx, order: Row, pointer: str) -> Outcome | None:
    last: Outcome | None = None
    for capture in await succeeded(ctx, order["id"], "captures"):
        balance = int(capture.get("refund_balance_cents") or 0)
        if balance <= 0:
            continue
        outcome, _ = await run(
            ctx, order, "refund", "captures", capture, balance, reference=capture
        )
        if outcome.kind == "decline":
            await ctx.commit()
            await ctx.resume()
            raise decline_error("refund", outcome, pointer)
        last = outcome
        if not outcome.ok:
            return outcome
    return last
