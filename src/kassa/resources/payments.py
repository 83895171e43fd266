"""Payment methods, gateways, payment sources, transactions and the wallet's entries."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from kassa.commerce.locks import order_lock
from kassa.commerce.orders import editable, refresh
from kassa.engine.context import Ctx
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
from kassa.payments import flows
from kassa.payments.transactions import recompute_order
from kassa.payments.wallet import source_details
from kassa.resources import contract, scopes
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

_GATEWAY_TYPES = ("external_gateways", "manual_gateways")


# --- payment methods ------------------------------------------------------------------------


async def _method_check(ctx: Ctx, values: Row, changes: Changes) -> None:
    market = changes.related.get("market")
    if market is not None and not values.get("currency_code"):
        price_list = await ctx.get("price_lists", market.get("price_list_id"))
        values["currency_code"] = (price_list or {}).get("currency_code")
    if (
        values.get("price_amount_cents") is None
        and "price_amount_cents" not in changes.sent_attributes
    ):
        values.setdefault("price_amount_cents", 0)


async def _method_create(ctx: Ctx, values: Row, changes: Changes) -> None:
    await _method_check(ctx, values, changes)


async def _method_update(ctx: Ctx, _row: Row, values: Row, changes: Changes) -> None:
    await _method_check(ctx, values, changes)


async def _method_delete(ctx: Ctx, row: Row) -> None:
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


async def _gateway_create(_ctx: Ctx, values: Row, _c: Changes) -> None:
    values["shared_secret"] = new_token()
    values["circuit_state"] = "closed"
    values["circuit_failure_count"] = 0
    for key in ("authorize_url", "capture_url", "void_url", "refund_url", "token_url"):
        url = values.get(key)
        if url and not re.match(r"^https?://", url):
            raise invalid(attr(key), "is invalid", "invalid")


async def _gateway_update(ctx: Ctx, row: Row, values: Row, changes: Changes) -> None:
    for key in ("authorize_url", "capture_url", "void_url", "refund_url", "token_url"):
        url = values.get(key)
        if url and not re.match(r"^https?://", url):
            raise invalid(attr(key), "is invalid", "invalid")


async def _reset_circuit(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    await ctx.update(
        "external_gateways", row["id"], {"circuit_state": "closed", "circuit_failure_count": 0}
    )


async def _regenerate(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
    await ctx.update("external_gateways", row["id"], {"shared_secret": new_token()})


async def _gateway_delete(ctx: Ctx, row: Row) -> None:
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
    async def create(ctx: Ctx, values: Row, changes: Changes) -> None:
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

    async def attach(ctx: Ctx, row: Row) -> None:
        details = (
            source_details(row) if source_type == "external_payments" else {"type": source_type}
        )
        await ctx.update(
            "orders",
            row["order_id"],
            {
                "payment_source_id": row["id"],
                "payment_source_type": source_type,
                "payment_source_details": details,
            },
        )
        await refresh(ctx, row["order_id"])

    async def update(ctx: Ctx, row: Row, values: Row, changes: Changes) -> None:
        order = await ctx.get("orders", row["order_id"])
        if (
            order is not None
            and not editable(order)
            and set(values) - {"metadata", "reference", "reference_origin"}
        ):
            if ctx.principal.guest:
                raise unauthorized()
            raise invalid(rel("order"), "cannot be set on a non-editable order", "not_editable")

    async def delete(ctx: Ctx, row: Row) -> None:
        order = await ctx.get("orders", row["order_id"])
        if order is not None and not editable(order):
            if ctx.principal.guest:
                raise unauthorized()
            raise ApiError.of(423, "LOCKED", detail="The order is not editable.")
        if order is not None and order.get("payment_source_id") == row["id"]:
            await ctx.update(
                "orders",
                order["id"],
                {
                    "payment_source_id": None,
                    "payment_source_type": None,
                    "payment_source_details": None,
                },
            )

    return create, attach, update, delete


async def _guest_source_check(ctx: Ctx, row: Row, verb: str) -> None:
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


async def _txn_update(ctx: Ctx, row: Row, values: Row, changes: Changes) -> None:
    if "succeeded" in values:
        values["pending"] = False


async def _txn_after_update(ctx: Ctx, row: Row) -> None:
    await recompute_order(ctx, row["order_id"])


def _amount(changes: Changes, key: str, default: int, trigger: str) -> int:
    raw = changes.triggers.get(key, changes.inputs.get(key))
    if raw is None:
        return default
    amount = int(raw)
    if amount <= 0 or amount > default:
        raise invalid(
            attr(key),
            f"must be less than or equal to {default}",
            "less_than_or_equal_to",
            count=default,
        )
    return amount


async def _txn_capture(ctx: Ctx, row: Row, _v: Any, changes: Changes) -> None:
    async with order_lock(ctx, row["order_id"]):
        auth = await ctx.get("authorizations", row["id"])
        assert auth is not None
        balance = int(auth.get("capture_balance_cents") or 0)
        if not auth.get("succeeded") or balance <= 0:
            raise invalid(
                attr("_capture"), "cannot be performed in the current status", "invalid_transition"
            )
        amount = _amount(changes, "_capture_amount_cents", balance, "_capture")
        order = await ctx.get("orders", auth["order_id"])
        assert order is not None
        await ctx.update("authorizations", auth["id"], {"capture_amount_cents": amount})
        auth["capture_amount_cents"] = amount
        outcome, _ = await flows.run(
            ctx, order, "capture", "authorizations", auth, amount, reference=auth
        )
        if outcome.kind == "decline":
            await ctx.commit()
            await ctx.resume()
            raise flows.decline_error("capture", outcome, attr("_capture"))


async def _txn_void(ctx: Ctx, row: Row, _v: Any, changes: Changes) -> None:
    async with order_lock(ctx, row["order_id"]):
        auth = await ctx.get("authorizations", row["id"])
        assert auth is not None
        balance = int(auth.get("void_balance_cents") or 0)
        if not auth.get("succeeded") or balance <= 0:
            raise invalid(
                attr("_void"), "cannot be performed in the current status", "invalid_transition"
            )
        order = await ctx.get("orders", auth["order_id"])
        assert order is not None
        outcome, _ = await flows.run(
            ctx, order, "void", "authorizations", auth, balance, reference=auth
        )
        if outcome.kind == "decline":
            await ctx.commit()
            await ctx.resume()
            raise flows.decline_error("void", outcome, attr("_void"))


async def _txn_refund(ctx: Ctx, row: Row, _v: Any, changes: Changes) -> None:
    async with order_lock(ctx, row["order_id"]):
        capture = await ctx.get("captures", row["id"])
        assert capture is not None
        balance = int(capture.get("refund_balance_cents") or 0)
        if not capture.get("succeeded") or balance <= 0:
            raise invalid(
                attr("_refund"), "cannot be performed in the current status", "invalid_transition"
            )
        amount = _amount(changes, "_refund_amount_cents", balance, "_refund")
        order = await ctx.get("orders", capture["order_id"])
        assert order is not None
        await ctx.update("captures", capture["id"], {"refund_amount_cents": amount})
        capture["refund_amount_cents"] = amount
        outcome, _ = await flows.run(
            ctx, order, "refund", "captures", capture, amount, reference=capture
        )
        if outcome.kind == "decline":
            await ctx.commit()
            await ctx.resume()
            raise flows.decline_error("refund", outcome, attr("_refund"))
        if outcome.ok:
            fresh = await ctx.get("orders", order["id"])
            if (
                fresh
                and fresh.get("payment_status") == "refunded"
                and fresh["status"] == "approved"
            ):
                from kassa.ids import now

                await ctx.update(
                    "orders", order["id"], {"status": "cancelled", "cancelled_at": now()}
                )


def _forward(type_: str) -> TriggerFn:
    async def run(ctx: Ctx, row: Row, _v: Any, _c: Changes) -> None:
        if row.get("succeeded"):
            return
        await ctx.update(type_, row["id"], {"succeeded": True, "pending": False})
        await recompute_order(ctx, row["order_id"])

    return run


async def _param(_ctx: Ctx, _row: Row, _v: Any, _c: Changes) -> None:
    """Parameter of another trigger in the same request."""


def _txn(wire: Any, triggers: dict[str, TriggerFn], **kwargs: Any) -> Resource:
    return Resource(
        wire,
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
    relationships={"payment_source": fk("payment_source_id", "payment_source_type")},
    extra_columns=_TXN_COLUMNS,
    indexes=[("order_id",)],
)
AUTHORIZATIONS = _txn(
    contract.AUTHORIZATIONS,
    {"_capture": _txn_capture, "_capture_amount_cents": _param, "_void": _txn_void},
    relationships={
        "captures": reverse("captures", "reference_authorization_id"),
        "voids": reverse("voids", "reference_authorization_id"),
    },
)
CAPTURES = _txn(
    contract.CAPTURES,
    {"_refund": _txn_refund, "_refund_amount_cents": _param},
    relationships={"refunds": reverse("refunds", "reference_capture_id")},
)
VOIDS = _txn(contract.VOIDS, {})
REFUNDS = _txn(contract.REFUNDS, {})


# --- wallet entries -------------------------------------------------------------------------


async def _entry_fill(ctx: Ctx, values: Row, changes: Changes, customer_id: str | None) -> None:
    source = changes.related.get("payment_source")
    if source is not None:
        order = await ctx.get("orders", source.get("order_id"))
        if order is not None and order.get("customer_id") and order["customer_id"] != customer_id:
            raise invalid(rel("payment_source"), "is invalid", "invalid")
        if not values.get("payment_source_token"):
            values["payment_source_token"] = source.get("payment_source_token")
        method = await ctx.get("payment_methods", (order or {}).get("payment_method_id"))
        from kassa.payments.wallet import entry_name

        values["name"] = entry_name(source, method)
    elif "payment_method" in changes.related and changes.related["payment_method"] is not None:
        values.setdefault("name", changes.related["payment_method"].get("name"))


async def _set_default(ctx: Ctx, entry: Row) -> None:
    """Kassa extension: at most one default entry per customer and payment method."""
    if not entry.get("default"):
        return
    await ctx.get("customers", entry["customer_id"], for_update=True)
    table = ctx.table("customer_payment_sources")
    same_method = (
        table.c.payment_method_id.is_(None)
        if entry.get("payment_method_id") is None
        else table.c.payment_method_id == entry["payment_method_id"]
    )
    await ctx.conn.execute(
        table.update()
        .where(
            *ctx.scoped("customer_payment_sources"),
            table.c.customer_id == entry["customer_id"],
            same_method,
            table.c.id != entry["id"],
            table.c.default.is_(True),
        )
        .values(default=False)
    )


async def _entry_create(ctx: Ctx, values: Row, changes: Changes) -> None:
    await _entry_fill(ctx, values, changes, values.get("customer_id"))
    if values.get("default") is None:
        values["default"] = False


async def _entry_update(ctx: Ctx, row: Row, values: Row, changes: Changes) -> None:
    await _entry_fill(ctx, values, changes, values.get("customer_id", row.get("customer_id")))


async def _entry_after(ctx: Ctx, row: Row) -> None:
    await _set_default(ctx, row)


async def _entry_delete(ctx: Ctx, row: Row) -> None:
    payments = ctx.table("external_payments")
    await ctx.conn.execute(
        payments.update()
        .where(*ctx.scoped("external_payments"), payments.c.wallet_id == row["id"])
        .values(wallet_id=None)
    )


CUSTOMER_PAYMENT_SOURCES = Resource(
    contract.CUSTOMER_PAYMENT_SOURCES,
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
    relationships={"payment_source": fk("payment_source_id", "payment_source_type")},
    unique=[("payment_source_type", "payment_source_id")],
    indexes=[("customer_id", "created_at")],
    before_create=_entry_create,
    after_create=_entry_after,
    before_update=_entry_update,
    after_update=_entry_after,
    before_delete=_entry_delete,
)

ALL = [
    PAYMENT_METHODS,
    EXTERNAL_GATEWAYS,
    MANUAL_GATEWAYS,
    EXTERNAL_PAYMENTS,
    WIRE_TRANSFERS,
    TRANSACTIONS,
    AUTHORIZATIONS,
    CAPTURES,
    VOIDS,
    REFUNDS,
    CUSTOMER_PAYMENT_SOURCES,
]
