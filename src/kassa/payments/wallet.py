"""The customer wallet: save an order's payment source, and reuse a saved one."""

from __future__ import annotations

from typing import Any

from kassa.failures import Field, attr, blank, invalid, not_editable, rel, unauthorized
from kassa.ids import new_id
from kassa.orders.locks import order_lock
from kassa.orders.rules import editable, refresh
from kassa.payments import callouts, leases, sources
from kassa.payments.callouts import Outcome
from kassa.session import Session
from kassa.session.rows import Changes, Row
from kassa.session.scopes import t

SAVE = "_save_payment_source_to_customer_wallet"
REUSE = "_customer_payment_source_id"
WALLET_TYPES = frozenset({"external_payments"})


def entry_name(source: Row | None, method: Row | None) -> str | None:
    """The entry's display name (§6.4): masked card, card or issuer type, or method name."""
    instrument = (source or {}).get("payment_instrument") or {}
    if isinstance(instrument, dict):
        digits = instrument.get("card_last_digits")
        if digits:
            return f"XXXX-XXXX-XXXX-{digits}"
        for key in ("card_type", "issuer_type"):
            if instrument.get(key):
                return str(instrument[key])
    if method is not None and method.get("name"):
        return str(method["name"])
    return None


async def _existing_entry(ctx: Session, source: Row) -> Row | None:
    """The wallet entry already made from this external payment, if any."""
    entries = t("customer_payment_sources")
    rows = await ctx.select(
        "customer_payment_sources",
        entries.c.payment_source_id == source["id"],
        entries.c.payment_source_type == "external_payments",
    )
    return rows[0] if rows else None


async def _already_saved(ctx: Session, order: Row) -> bool:
    """Every precondition holds and the order's payment source is in the wallet already."""
    if not order.get("customer_id") or order.get("payment_source_type") not in WALLET_TYPES:
        return False
    source = await ctx.get("external_payments", order.get("payment_source_id"))
    if source is None:
        return False
    return bool(source.get("wallet_id") or await _existing_entry(ctx, source))


async def save(ctx: Session, row: Row, _value: Any, _changes: Changes) -> None:
    """``_save_payment_source_to_customer_wallet``: one token callout, one entry (§6)."""
    if ctx.principal.guest:
        raise unauthorized()
    if await _already_saved(ctx, row):
        return  # the common repeat: no need to queue for the order's lock
    async with order_lock(ctx, row["id"]) as order:
        if not order.get("customer_id"):
            raise blank(rel("customer"))
        if not order.get("payment_source_id"):
            raise blank(rel("payment_source"))
        if order.get("payment_source_type") not in WALLET_TYPES:
            raise invalid(rel("payment_source"), "is invalid", "invalid")
        source = await ctx.get("external_payments", order["payment_source_id"])
        if source is None:
            raise blank(rel("payment_source"))
        if source.get("wallet_id") or await _existing_entry(ctx, source):
            return
        method = await ctx.get("payment_methods", order.get("payment_method_id"))
        gateway = await ctx.get(
            "external_gateways",
            source.get("payment_gateway_id") or (method or {}).get("payment_gateway_id"),
        )
        key = new_id()
        outcome: Outcome | None = None
        if gateway is not None and gateway.get("token_url"):
            body = await callouts.payload(
                ctx, "external_payments", source, gateway, {leases.KEY_META: key}
            )
            await leases.hold(
                ctx,
                key=key,
                order_id=order["id"],
                action="token",
                purpose="save",
                gateway_id=gateway["id"],
                target_type="external_payments",
                target_id=source["id"],
                amount=0,
                body=body,
            )
            async with ctx.unit.outside_transaction():
                # The breaker is counted in a transaction of its own: a failure raised
                # below rolls this request's work back, never the count.
                outcome = await callouts.call(ctx, gateway, "token", body, key)
            if outcome.kind != "success":
                await leases.drop(ctx, key)
                await ctx.unit.commit_and_continue()  # the lease is gone whatever follows
                raise _refusal(outcome)
        await store_entry(ctx, order, source, method, outcome, key)
        if outcome is not None:
            await leases.drop(ctx, key)


def _refusal(outcome: Outcome) -> Exception:
    if outcome.kind == "decline":
        return invalid(
            attr(SAVE),
            outcome.message or "customer token request declined",
            outcome.error_code or "declined",
        )
    return invalid(attr(SAVE), "customer token request failed", outcome.error_code or "failed")


async def store_entry(
    ctx: Session, order: Row, source: Row, method: Row | None, outcome: Outcome | None, key: str
) -> Row | None:
    """The wallet entry ``key`` from the token callout's answer (``None``: no callout).

    Also used by the recovery of an interrupted save. ``None`` when an entry for the
    source exists already (imported by the integration meanwhile: that entry stands).
    """
    customer_token: str | None = None
    source_token = source.get("payment_source_token")
    metadata: dict[str, Any] = {}
    if outcome is not None:
        data = outcome.data
        if isinstance(data.get("customer_token"), str) and data["customer_token"]:
            customer_token = data["customer_token"]
        if isinstance(data.get("payment_source_token"), str) and data["payment_source_token"]:
            source_token = data["payment_source_token"]
        if isinstance(data.get("metadata"), dict):
            metadata = data["metadata"]
        if await _existing_entry(ctx, source):
            return None
    entry = await ctx.insert(
        "customer_payment_sources",
        {
            "id": key,
            "customer_id": order["customer_id"],
            "payment_method_id": order.get("payment_method_id"),
            "payment_source_id": source["id"],
            "payment_source_type": "external_payments",
            "customer_token": customer_token,
            "payment_source_token": source_token,
            "name": entry_name(source, method),
            "metadata": metadata,
            "default": False,
        },
    )
    await ctx.update("external_payments", source["id"], {"wallet_id": entry["id"]})
    return entry


async def reuse(ctx: Session, row: Row, value: Any, _changes: Changes) -> None:
    """``_customer_payment_source_id``: a new payment source copying a wallet entry (§7.4)."""
    if ctx.principal.guest:
        raise unauthorized()
    pointer = attr(REUSE)
    if not isinstance(value, str) or not value.strip():
        raise blank(pointer)
    if not editable(row):
        raise not_editable(pointer)
    if not row.get("customer_id"):
        raise invalid(pointer, "requires a customer", "invalid")
    # Under the order's lock: a concurrent _place cannot authorize the source being replaced.
    async with order_lock(ctx, row["id"]) as order:
        if not editable(order):
            raise not_editable(pointer)
        if not order.get("customer_id"):
            raise invalid(pointer, "requires a customer", "invalid")
        # Locked, so a concurrent deletion of the entry either waits for the copy (and then
        # empties its wallet link) or wins, and the entry is not found here.
        entry = await ctx.get("customer_payment_sources", value.strip(), for_update=True)
        if entry is None or entry.get("customer_id") != order["customer_id"]:
            raise invalid(pointer, "is invalid", "invalid")
        method = await _reuse_method(ctx, order, entry, pointer)
        original = None
        if entry.get("payment_source_type") == "external_payments":
            original = await ctx.get("external_payments", entry.get("payment_source_id"))
        token = entry.get("payment_source_token") or (original or {}).get("payment_source_token")
        copy = await ctx.insert(
            "external_payments",
            {
                "order_id": order["id"],
                "payment_source_token": token,
                "options": (original or {}).get("options") or {},
                "payment_instrument": (original or {}).get("payment_instrument") or {},
                "payment_gateway_id": method.get("payment_gateway_id"),
                "wallet_id": entry["id"],
            },
        )
        await sources.attach(ctx, order["id"], "external_payments", copy, method_id=method["id"])
        await refresh(ctx, order["id"])


async def _reuse_method(ctx: Session, order: Row, entry: Row, pointer: Field) -> Row:
    """The payment method the order gets from the entry, or 422 when it is not available."""
    available = {m["id"]: m for m in await sources.methods_for(ctx, order)}
    method = available.get(entry.get("payment_method_id") or order.get("payment_method_id") or "")
    source_type = entry.get("payment_source_type") or "external_payments"
    if (
        method is None
        or source_type not in WALLET_TYPES
        or method.get("payment_source_type") != source_type
    ):
        raise invalid(pointer, "payment method not available", "invalid")
    return method


async def available_entries(ctx: Session, orders: list[Row]) -> dict[str, list[tuple[str, Row]]]:
    """``available_customer_payment_sources`` for many orders: two queries in all."""
    out: dict[str, list[tuple[str, Row]]] = {o["id"]: [] for o in orders}
    if ctx.principal.guest:
        return out
    with_customer = [o for o in orders if o.get("customer_id")]
    if not with_customer:
        return out
    entries_t = t("customer_payment_sources")
    entries = await ctx.select(
        "customer_payment_sources",
        entries_t.c.customer_id.in_({o["customer_id"] for o in with_customer}),
    )
    methods = await sources.available_methods(ctx, with_customer)
    for order, available in zip(with_customer, methods, strict=True):
        usable = {m["id"] for m in available}
        out[order["id"]] = [
            ("customer_payment_sources", e)
            for e in entries
            if e["customer_id"] == order["customer_id"]
            and (e.get("payment_method_id") is None or e["payment_method_id"] in usable)
        ]
    return out


async def available_methods(ctx: Session, orders: list[Row]) -> dict[str, list[tuple[str, Row]]]:
    """``available_payment_methods`` for many orders (orders-and-checkout §8): one query."""
    methods = await sources.available_methods(ctx, orders)
    return {
        o["id"]: [("payment_methods", m) for m in available]
        for o, available in zip(orders, methods, strict=True)
    }
