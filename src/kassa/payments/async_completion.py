"""Asynchronous completion of pending transactions (payments-and-wallet §9).

A gateway that answered a callout with HTTP 202 and a ``data.action_id`` reports the final
outcome later with ``POST /webhook_callbacks/external_gateways/{gateway id}``: a body shaped
like a callout reply (``{"success": true|false, "data": {"action_id": …, …}}``), signed
like our callouts (``X-CommerceLayer-Signature`` = Base64 HMAC-SHA256 of the raw body with
the gateway's ``shared_secret``).

Answers: 200 ``{}`` once applied (and for a repeated notice); 401 for a bad signature;
404 for an unknown gateway or ``action_id``; 400 for a body that is not such a reply. This
module applies a completion; the endpoint (``kassa.engine.gateway_callbacks``) reads the
request and answers it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kassa.failures import not_found
from kassa.orders.locks import order_lock
from kassa.orders.rules import editable
from kassa.payments import flows, sources
from kassa.payments.callouts import text
from kassa.session import Services, Session
from kassa.session.rows import Row
from kassa.session.scopes import t

PATH = "/webhook_callbacks/external_gateways/{id}"
UPDATABLE = (
    "message",
    "error_code",
    "error_detail",
    "avs_code",
    "avs_message",
    "cvv_code",
    "cvv_message",
    "fraud_review",
)
"""The only transaction fields a completion may change (amount and token are immutable)."""


async def load_gateway(services: Services, gateway_id: str) -> Row:
    """The gateway a completion is addressed to (any organization's), or not found."""
    table = services.registry["external_gateways"].table
    async with services.db.engine.connect() as conn:
        found = (await conn.execute(sa.select(table).where(table.c.id == gateway_id))).first()
    if found is None:
        raise not_found()
    return dict(found._mapping)


def fields_of(success: bool, data: dict[str, Any], doc_error: Any = None) -> Row:
    """The descriptive fields a completion reports, as transaction columns."""
    values: Row = {}
    for key in UPDATABLE:
        if key in data and text(data[key]) is not None:
            values[key] = text(data[key])
    error = data.get("error") if isinstance(data.get("error"), dict) else doc_error
    if not success and isinstance(error, dict):
        if error.get("code") is not None:
            values["error_code"] = text(error["code"], 255)
        if error.get("message") is not None:
            values["message"] = values["error_detail"] = text(error["message"])
    return values


async def apply(ctx: Session, gateway: Row, success: bool, action_id: str, fields: Row) -> None:
    """Complete the pending transaction ``action_id`` of ``gateway`` (inside a step)."""
    table = t("transactions")
    found = await ctx.select(
        "transactions", table.c.action_id == action_id, table.c.gateway_id == gateway["id"]
    )
    if not found:
        raise not_found()
    async with order_lock(ctx, found[0]["order_id"]) as order:
        pay = await flows.load(ctx, order)
        txn = pay.find(found[0]["type"], found[0]["id"])
        if txn is None or txn.get("succeeded") or not txn.get("pending"):
            return  # already completed: a repeated notice changes nothing
        if (
            success
            and gateway.get("force_payments")
            and editable(order)
            and txn.get("payment_source_id")
            and order.get("payment_source_id") != txn["payment_source_id"]
        ):
            # force_payments: the paid source becomes the (still editable) order's source.
            kind = txn.get("payment_source_type") or "external_payments"
            source = await ctx.get(kind, txn["payment_source_id"])
            if source is not None:
                order.update(await sources.attach(ctx, order["id"], kind, source))
        await flows.complete(ctx, pay, txn, success=success, fields=fields)
