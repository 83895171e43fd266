"""Payment methods, gateways, payment sources, transactions and the wallet's entries."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from kassa.failures import Field
from kassa.ids import new_token
from kassa.jsonapi.errors import (
    ApiError,
    Invalid,
    attr,
    invalid,
    rel,
    unauthorized,
    validation,
)
from kassa.orders.locks import order_lock
from kassa.orders.rules import editable, refresh
from kassa.outbound import url_refusal
from kassa.payments import flows, sources
from kassa.payments.transactions import recompute_order
from kassa.resources import contract
from kassa.resources.base import (
    Access,
    Changes,
    Resource,
    Row,
    TriggerFn,
    fk,
    reverse,
    verbs,
)
from kassa.resources.common import disable_triggers
from kassa.resources.wire import WireField, WireRel
from kassa.session import Session, scopes

_GATEWAY_TYPES = ("external_gateways", "manual_gateways")


# --- payment methods ------------------------------------------------------------------------


async def _method_check(ctx: Session, values: Row, changes: Changes) -> None:
    market = changes.related.get("market")
    if market is not None and not values.get("currency_code"):
        price_list = await ctx.get("price_lists", market.get("price_list_id"))
        values["currency_code"] = (price_list or {}).get("currency_code")
    if (
        values.get("price_amount_cents") is None
        and "price_amount_cents" not in changes.sent_attributes
    ):
        values.setdefault("price_amount_cents", 0)


async def _method_create(ctx: Session, values: Row, changes: Changes) -> None:
    await _method_check(ctx, values, changes)


async def _method_update(ctx: Session, _row: Row, values: Row, changes: Changes) -> None:
    await _method_check(ctx, values, changes)


async def _method_delete(ctx: Session, row: Row) -> None:
    orders = ctx.table("orders")
    if await ctx.select("orders", orders.c.payment_method_id == row["id"]):
        raise ApiError.of(423, "LOCKED", detail="The payment method is used by orders.")


PAYMENT_METHODS = Resource(
    contract.PAYMENT_METHODS,
    access=Access(
        guest=verbs("retrieve"), customer=verbs("retrieve"), scope=scopes.enabled_in_market
    ),
    defaults={"moto": False, "require_capture": True, "auto_place": False, "auto_capture": False},
    extra_relationships=[
        WireRel(
            "payment_gateway",
            False,
            (*_GATEWAY_TYPES, "payment_gateways"),
            creatable=True,
            updatable=True,
            required=True,
        )
    ],
    relationships={"payment_gateway": fk("payment_gateway_id", "payment_gateway_type")},
    optional=frozenset({"currency_code"}),
    before_create=_method_create,
    before_update=_method_update,
    before_delete=_method_delete,
    triggers=disable_triggers("payment_methods"),
)


# --- gateways -------------------------------------------------------------------------------


def _check_urls(values: Row) -> None:
    """Gateway URLs are http(s) with a host; where they point is checked at call time."""
    for key in ("authorize_url", "capture_url", "void_url", "refund_url", "token_url"):
        url = values.get(key)
        if url and url_refusal(url) is not None:
            raise invalid(attr(key), "is invalid", "invalid")


async def _gateway_create(_ctx: Session, values: Row, _c: Changes) -> None:
    values["shared_secret"] = new_token()
    values["circuit_state"] = "closed"
    values["circuit_failure_count"] = 0
    _check_urls(values)


async def _gateway_update(ctx: Session, row: Row, values: Row, changes: Changes) -> None:
    _check_urls(values)


async def _reset_circuit(ctx: Session, row: Row, _v: Any, _c: Changes) -> None:
    await ctx.update(
        "external_gateways", row["id"], {"circuit_state": "closed", "circuit_failure_count": 0}
    )


async def _regenerate(ctx: Session, row: Row, _v: Any, _c: Changes) -> None:
    await ctx.update("external_gateways", row["id"], {"shared_secret": new_token()})


async def _gateway_delete(ctx: Session, row: Row) -> None:
    methods = ctx.table("payment_methods")
    if await ctx.select("payment_methods", methods.c.payment_gateway_id == row["id"]):
        raise ApiError.of(423, "LOCKED", detail="The gateway is used by payment methods.")


EXTERNAL_GATEWAYS = Resource(
    contract.EXTERNAL_GATEWAYS,
    defaults={"force_payments": False},
    relationships={
        "payment_methods": reverse("payment_methods", "payment_gateway_id"),
        "external_payments": reverse("external_payments", "payment_gateway_id"),
    },
    before_create=_gateway_create,
    before_update=_gateway_update,
    before_delete=_gateway_delete,
    triggers={
        **disable_triggers("external_gateways"),
        "_reset_circuit": _reset_circuit,
        "_regenerate_shared_secret": _regenerate,
    },
)

MANUAL_GATEWAYS = Resource(
    contract.MANUAL_GATEWAYS,
    defaults={"force_payments": False},
    relationships={"payment_methods": reverse("payment_methods", "payment_gateway_id")},
    before_delete=_gateway_delete,
    triggers=disable_triggers("manual_gateways"),
)


PAYMENT_GATEWAYS = Resource(
    contract.PAYMENT_GATEWAYS,
    union_of=_GATEWAY_TYPES,
    relationships={"payment_methods": reverse("payment_methods", "payment_gateway_id")},
)
"""Every gateway of the organization, whatever its kind: read-only, for integrations only (as
the gateways themselves), each rendered as ``payment_gateways`` like Commerce Layer's schema
for this endpoint. A payment method's ``payment_gateway`` still names the concrete type."""


# --- payment sources ------------------------------------------------------------------------


def _digits_look_like_card(token: str) -> bool:
    digits = re.sub(r"[\s-]", "", token)
    if not digits.isdigit() or not 12 <= len(digits) <= 19:
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def source_writer(source_type: str, *, needs_token: bool) -> Any:
    async def create(ctx: Session, values: Row, changes: Changes) -> None:
        errors = []
        if needs_token:
            token = values.get("payment_source_token")
            if not token:
                errors.append(validation(attr("payment_source_token"), "can't be blank", "blank"))
            elif _digits_look_like_card(str(token)):
                errors.append(validation(attr("payment_source_token"), "is invalid", "invalid"))
        order = changes.related.get("order")
        order_error = None
        method = None
        if order is None:
            order_error = validation(rel("order"), "can't be blank", "blank")
        elif not editable(order):
            if ctx.principal.guest:
                raise unauthorized()
            order_error = validation(
                rel("order"), "cannot be set on a non-editable order", "not_editable"
            )
        else:
            method = await ctx.get("payment_methods", order.get("payment_method_id"))
            if method is None or method.get("payment_source_type") != source_type:
                order_error = validation(rel("order"), "payment method mismatch", "invalid")
        if order_error:
            errors.append(order_error)
        if errors:
            raise Invalid(errors)
        assert method is not None and order is not None
        if source_type == "external_payments":
            values["payment_gateway_id"] = method.get("payment_gateway_id")
        values.setdefault("options", {}) if "options" in ctx.table(source_type).c else None

    async def attach(ctx: Session, row: Row) -> None:
        await sources.attach(ctx, row["order_id"], source_type, row)
        await refresh(ctx, row["order_id"])

    async def update(ctx: Session, row: Row, values: Row, changes: Changes) -> None:
        order = await ctx.get("orders", row["order_id"])
        if (
            order is not None
            and not editable(order)
            and set(values) - {"metadata", "reference", "reference_origin"}
        ):
            if ctx.principal.guest:
                raise unauthorized()
            raise invalid(rel("order"), "cannot be set on a non-editable order", "not_editable")

    async def delete(ctx: Session, row: Row) -> None:
        order = await ctx.get("orders", row["order_id"])
        if order is not None and not editable(order):
            if ctx.principal.guest:
                raise unauthorized()
            raise ApiError.of(423, "LOCKED", detail="The order is not editable.")
        if order is not None and order.get("payment_source_id") == row["id"]:
            await sources.detach(ctx, order["id"])

    return create, attach, update, delete


async def _guest_source_check(ctx: Session, row: Row, verb: str) -> None:
    order = await ctx.get("orders", row.get("order_id"))
    if order is None or not ctx.principal.guest:
        return
    allowed = ("draft", "pending", "placed") if verb == "retrieve" else ("draft", "pending")
    if order.get("status") not in allowed:
        raise unauthorized()


_SOURCE_ACCESS = Access(
    guest=verbs("create", "retrieve", "update", "delete"),
    customer=verbs("list", "create", "retrieve", "update", "delete"),
    scope=scopes.via_order,
    row_check=_guest_source_check,
)

_ep_create, _ep_attach, _ep_update, _ep_delete = source_writer(
    "external_payments", needs_token=True
)
EXTERNAL_PAYMENTS = Resource(
    contract.EXTERNAL_PAYMENTS,
    access=_SOURCE_ACCESS,
    defaults={"options": {}, "payment_instrument": {}},
    relationships={"wallet": fk("wallet_id"), "payment_gateway": fk("payment_gateway_id")},
    extra_relationships=[WireRel("payment_gateway", False, ("external_gateways",))],
    optional=frozenset({"payment_source_token", "order", "payment_gateway"}),
    before_create=_ep_create,
    after_create=_ep_attach,
    before_update=_ep_update,
    before_delete=_ep_delete,
)

_wt_create, _wt_attach, _wt_update, _wt_delete = source_writer("wire_transfers", needs_token=False)
WIRE_TRANSFERS = Resource(
    contract.WIRE_TRANSFERS,
    access=_SOURCE_ACCESS,
    defaults={"payment_instrument": {}},
    optional=frozenset({"order"}),
    before_create=_wt_create,
    after_create=_wt_attach,
    before_update=_wt_update,
    before_delete=_wt_delete,
)


# --- transactions ---------------------------------------------------------------------------


async def _txn_update(ctx: Session, row: Row, values: Row, changes: Changes) -> None:
    if "succeeded" in values:
        values["pending"] = False


async def _txn_after_update(ctx: Session, row: Row) -> None:
    await recompute_order(ctx, row["order_id"])


def _amount(changes: Changes, key: str, balance: int) -> int:
    """``_capture_amount_cents`` / ``_refund_amount_cents``: 1 … balance (default: balance)."""
    raw = changes.triggers.get(key, changes.inputs.get(key))
    if raw is None:
        return balance
    amount = int(raw)
    if amount <= 0:
        raise invalid(attr(key), "must be greater than 0", "greater_than", count=0)
    if amount > balance:
        raise invalid(
            attr(key),
            f"must be less than or equal to {balance}",
            "less_than_or_equal_to",
            count=balance,
        )
    return amount


def _not_now(trigger: str) -> Exception:
    return invalid(attr(trigger), "cannot be performed in the current status", "invalid_transition")


def _capture_trigger(trigger: str) -> TriggerFn:
    async def run(ctx: Session, row: Row, _v: Any, changes: Changes) -> None:
        async with order_lock(ctx, row["order_id"]) as order:
            pay = await flows.load(ctx, order)
            auth = pay.find("authorizations", row["id"])
            assert auth is not None
            balance = int(auth.get("capture_balance_cents") or 0)
            if not auth.get("succeeded") or balance <= 0:
                raise _not_now(trigger)
            amount = _amount(changes, "_capture_amount_cents", balance)
            target = {**auth, "capture_amount_cents": amount}
            outcome, _ = await flows.run(
                ctx, pay, "capture", "authorizations", target, amount, reference=auth
            )
            await flows.finish(ctx, pay, outcome, "capture", Field(trigger))

    return run


def _void_trigger(trigger: str) -> TriggerFn:
    """``_void`` (and ``_cancel``): void what is left of a succeeded authorization."""

    async def run(ctx: Session, row: Row, _v: Any, _c: Changes) -> None:
        async with order_lock(ctx, row["order_id"]) as order:
            pay = await flows.load(ctx, order)
            auth = pay.find("authorizations", row["id"])
            assert auth is not None
            balance = int(auth.get("void_balance_cents") or 0)
            if not auth.get("succeeded") or balance <= 0:
                raise _not_now(trigger)
            outcome, _ = await flows.run(
                ctx, pay, "void", "authorizations", auth, balance, reference=auth
            )
            await flows.finish(ctx, pay, outcome, "void", Field(trigger))

    return run


def _refund_trigger(trigger: str) -> TriggerFn:
    """``_refund`` (+ ``_refund_amount_cents``) and ``_cancel`` (full refund) on a capture."""

    async def run(ctx: Session, row: Row, _v: Any, changes: Changes) -> None:
        async with order_lock(ctx, row["order_id"]) as order:
            pay = await flows.load(ctx, order)
            capture = pay.find("captures", row["id"])
            assert capture is not None
            balance = int(capture.get("refund_balance_cents") or 0)
            if not capture.get("succeeded") or balance <= 0:
                raise _not_now(trigger)
            amount = balance
            if trigger == "_refund":
                amount = _amount(changes, "_refund_amount_cents", balance)
            target = {**capture, "refund_amount_cents": amount}
            outcome, _ = await flows.run(
                ctx, pay, "refund", "captures", target, amount, reference=capture
            )
            # A full refund cancels a placed or approved order (transactions.follow_ups).
            await flows.finish(ctx, pay, outcome, "refund", Field(trigger))

    return run


def _forward(type_: str) -> TriggerFn:
    """Force a pending or failed transaction to succeeded and settle the order (§8.1)."""

    async def run(ctx: Session, row: Row, _v: Any, _c: Changes) -> None:
        async with order_lock(ctx, row["order_id"]) as order:
            pay = await flows.load(ctx, order)
            txn = pay.find(type_, row["id"])
            if txn is not None and not txn.get("succeeded"):
                await flows.complete(ctx, pay, txn, success=True)

    return run


async def _param(_ctx: Session, _row: Row, _v: Any, _c: Changes) -> None:
    """Parameter of another trigger in the same request."""


_TXN_ACCESS = Access(scope=scopes.via_order, via_include=True)
"""Integration only; sales channels see an order's transactions through ``include=``."""


def _txn(wire: Any, triggers: dict[str, TriggerFn], **kwargs: Any) -> Resource:
    return Resource(
        wire,
        access=_TXN_ACCESS,
        table_name="transactions",
        type_value=wire.type,
        relationships={
            "payment_source": fk("payment_source_id", "payment_source_type"),
            **kwargs.pop("relationships", {}),
        },
        before_update=_txn_update,
        after_update=_txn_after_update,
        triggers={**triggers, "_forward": _forward(wire.type)},
        **kwargs,
    )


_TXN_COLUMNS: list[sa.Column[Any]] = [
    sa.Column("pending", sa.Boolean, nullable=True),
    sa.Column("action_id", sa.String(128), nullable=True, index=True),
    sa.Column("gateway_id", sa.String(16), nullable=True),
]

TRANSACTIONS = Resource(
    contract.TRANSACTIONS,
    list_indexes=True,  # grows with the shop: kassa.resources.tables.list_indexes
    searched=("number", "reference"),
    access=_TXN_ACCESS,
    relationships={"payment_source": fk("payment_source_id", "payment_source_type")},
    extra_columns=_TXN_COLUMNS,
    indexes=[("order_id",)],
)
AUTHORIZATIONS = _txn(
    contract.AUTHORIZATIONS,
    {
        "_capture": _capture_trigger("_capture"),
        "_capture_amount_cents": _param,
        "_void": _void_trigger("_void"),
        "_cancel": _void_trigger("_cancel"),
    },
    relationships={
        "captures": reverse("captures", "reference_authorization_id"),
        "voids": reverse("voids", "reference_authorization_id"),
    },
)
CAPTURES = _txn(
    contract.CAPTURES,
    {
        "_refund": _refund_trigger("_refund"),
        "_refund_amount_cents": _param,
        "_cancel": _refund_trigger("_cancel"),
    },
    relationships={"refunds": reverse("refunds", "reference_capture_id")},
)
VOIDS = _txn(contract.VOIDS, {})
REFUNDS = _txn(contract.REFUNDS, {})


# --- wallet entries -------------------------------------------------------------------------


_ENTRY_SOURCE_TYPES = tuple(
    contract.CUSTOMER_PAYMENT_SOURCES.relationships["payment_source"].targets
)


async def _entry_fill(ctx: Session, row: Row | None, values: Row, changes: Changes) -> None:
    """Name, token and owner checks for an entry written through the API (§7.1)."""
    from kassa.payments.wallet import WALLET_TYPES, entry_name

    customer_id = values.get("customer_id", (row or {}).get("customer_id"))
    sent = changes.related.get("payment_source")
    source = sent
    # The owner changes: the payment source the entry keeps must be the new owner's too.
    keeps = row is not None and "payment_source" not in changes.related
    if keeps and row and "customer_id" in values and row.get("payment_source_type") in WALLET_TYPES:
        source = await ctx.get(row["payment_source_type"], row.get("payment_source_id"))
    if source is None:
        method = changes.related.get("payment_method")
        if method is not None and not (row or {}).get("name"):
            values["name"] = method.get("name")
        return
    order = await ctx.get("orders", source.get("order_id"))
    owner = (order or {}).get("customer_id")
    if customer_id and owner and owner != customer_id:
        raise invalid(rel("payment_source"), "is invalid", "invalid")
    if sent is None:
        return
    table = ctx.table("customer_payment_sources")
    others = [table.c.id != row["id"]] if row is not None else []
    taken = await ctx.select(
        "customer_payment_sources",
        table.c.payment_source_type == values.get("payment_source_type"),
        table.c.payment_source_id == sent["id"],
        *others,
    )
    if taken:
        raise invalid(rel("payment_source"), "has already been taken", "taken")
    if not values.get("payment_source_token") and not (row or {}).get("payment_source_token"):
        values["payment_source_token"] = sent.get("payment_source_token")
    method_row = await ctx.get("payment_methods", (order or {}).get("payment_method_id"))
    values["name"] = entry_name(sent, method_row)


async def _link_wallet(ctx: Session, entry_id: str, old: Row | None, values: Row) -> None:
    """Keep ``external_payments.wallet`` pointing back at the entry made from it."""
    old_id = (old or {}).get("payment_source_id")
    new_id = values.get("payment_source_id", old_id)
    new_type = values.get("payment_source_type", (old or {}).get("payment_source_type"))
    payments = ctx.table("external_payments")
    if old_id and old_id != new_id:
        await ctx.conn.execute(
            payments.update()
            .where(*ctx.scoped("external_payments"), payments.c.id == old_id)
            .where(payments.c.wallet_id == entry_id)
            .values(wallet_id=None)
        )
    if new_id and new_id != old_id and new_type == "external_payments":
        await ctx.conn.execute(
            payments.update()
            .where(*ctx.scoped("external_payments"), payments.c.id == new_id)
            .where(payments.c.wallet_id.is_(None))
            .values(wallet_id=entry_id)
        )


async def _claim_default(ctx: Session, old: Row | None, values: Row) -> None:
    """Kassa extension: at most one default entry per customer and payment method.

    Runs before the entry is written, only when it becomes the default of its group (it was
    not the default, or it moves to another customer or method): the customer row's lock
    serializes concurrent claims, and the others' flag is cleared under it.
    """
    merged = {**(old or {}), **values}
    if not merged.get("default"):
        return
    group = ("customer_id", "payment_method_id")
    if old is not None and old.get("default") and all(merged[k] == old.get(k) for k in group):
        return
    from kassa.ids import now

    table = ctx.table("customer_payment_sources")
    method = merged.get("payment_method_id")
    clear = (
        table.update()
        .where(
            *ctx.scoped("customer_payment_sources"),
            table.c.customer_id == merged["customer_id"],
            table.c.payment_method_id.is_(None)
            if method is None
            else table.c.payment_method_id == method,
            table.c.id != (old or {}).get("id", ""),
            table.c.default.is_(True),
        )
        .values(default=False, updated_at=now())
    )
    if ctx.services.db.is_sqlite:  # writers are serialized: nothing to lock
        await ctx.conn.execute(clear)
        return
    try:
        async with ctx.unit.savepoint():
            await ctx.get("customers", merged["customer_id"], for_update=True)
            await ctx.conn.execute(clear)
    except sa.exc.DBAPIError as exc:
        # A claim crossing another one (deadlock, lock timeout): the loser retries.
        if getattr(exc.orig, "sqlstate", None) not in ("40P01", "40001", "55P03"):
            raise
        raise ApiError.of(
            423, "LOCKED", "Locked", "Another request is changing this wallet; retry later."
        ) from None


async def _entry_create(ctx: Session, values: Row, changes: Changes) -> None:
    """An imported entry (integration only): checks, name, and the default flag."""
    await _entry_fill(ctx, None, values, changes)
    if values.get("default") is None:
        values["default"] = False
    if values.get("customer_id"):
        await _claim_default(ctx, None, values)


async def _entry_after_create(ctx: Session, row: Row) -> None:
    """The linked external payment's ``wallet`` points at the new entry."""
    await _link_wallet(ctx, row["id"], None, row)


async def _entry_update(ctx: Session, row: Row, values: Row, changes: Changes) -> None:
    """Owner or integration: checks, the default flag, and the payment source's back link."""
    if "default" in values and values["default"] is None:
        values["default"] = False
    await _entry_fill(ctx, row, values, changes)
    await _claim_default(ctx, row, values)
    await _link_wallet(ctx, row["id"], row, values)


async def _entry_delete(ctx: Session, row: Row) -> None:
    """Never calls the gateway; the payment sources stay, with an empty ``wallet``."""
    # Lock the entry first: a reuse holding it finishes its copy before we unlink copies.
    await ctx.get("customer_payment_sources", row["id"], for_update=True)
    payments = ctx.table("external_payments")
    await ctx.conn.execute(
        payments.update()
        .where(*ctx.scoped("external_payments"), payments.c.wallet_id == row["id"])
        .values(wallet_id=None)
    )


CUSTOMER_PAYMENT_SOURCES = Resource(
    contract.CUSTOMER_PAYMENT_SOURCES,
    list_indexes=True,  # grows with the shop: kassa.resources.tables.list_indexes
    searched=("name", "reference"),
    access=Access(
        customer=verbs("list", "retrieve", "update", "delete"), scope=scopes.owned_by_customer
    ),
    extra_fields=[
        WireField(
            "default",
            "boolean",
            creatable=True,
            updatable=True,
            fetchable=True,
            filterable=True,
            sortable=True,
        )
    ],
    extra_relationships=[
        # The docs' placeholder type "payment_sources" is accepted on the wire and refused
        # as an invalid linkage (422), like any id that is not a concrete payment source.
        WireRel(
            "payment_source",
            False,
            (*_ENTRY_SOURCE_TYPES, "payment_sources"),
            creatable=True,
            updatable=True,
        )
    ],
    relationships={"payment_source": fk("payment_source_id", "payment_source_type")},
    unique=[("payment_source_type", "payment_source_id")],
    indexes=[("customer_id", "created_at")],
    before_create=_entry_create,
    after_create=_entry_after_create,
    before_update=_entry_update,
    before_delete=_entry_delete,
)

ALL = [
    PAYMENT_METHODS,
    EXTERNAL_GATEWAYS,
    MANUAL_GATEWAYS,
    PAYMENT_GATEWAYS,
    EXTERNAL_PAYMENTS,
    WIRE_TRANSFERS,
    TRANSACTIONS,
    AUTHORIZATIONS,
    CAPTURES,
    VOIDS,
    REFUNDS,
    CUSTOMER_PAYMENT_SOURCES,
]
