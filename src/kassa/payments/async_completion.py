"""Asynchronous completion of pending transactions (payments-and-wallet §9).

A gateway that answered a callout with HTTP 202 and a ``data.action_id`` reports the final
outcome later with ``POST /webhook_callbacks/external_gateways/{gateway id}``: a body shaped
like a callout reply (``{"success": true|false, "data": {"action_id": …, …}}``), signed
like our callouts (``X-CommerceLayer-Signature`` = Base64 HMAC-SHA256 of the raw body with
the gateway's ``shared_secret``).

Answers: 200 ``{}`` once applied (and for a repeated notice); 401 for a bad signature;
404 for an unknown gateway or ``action_id``; 400 for a body that is not such a reply.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response

from kassa.auth.principal import Principal
from kassa.commerce.locks import order_lock
from kassa.commerce.orders import editable
from kassa.engine.context import Ctx, Services
from kassa.jsonapi.errors import ApiError, bad_request, error_object, not_found, unauthorized
from kassa.payments import flows
from kassa.payments.callouts import SIGNATURE_HEADER, text, verify
from kassa.payments.wallet import source_details
from kassa.resources.base import Row
from kassa.resources.scopes import t

log = logging.getLogger("kassa.async_completion")
JSONAPI = "application/vnd.api+json"
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


def _error(err: ApiError) -> Response:
    return Response(orjson.dumps({"errors": err.errors}), err.status, media_type=JSONAPI)


async def _gateway(services: Services, gateway_id: str) -> Row:
    table = services.registry["external_gateways"].table
    async with services.db.engine.connect() as conn:
        found = (await conn.execute(sa.select(table).where(table.c.id == gateway_id))).first()
    if found is None:
        raise not_found()
    return dict(found._mapping)


def parse(raw: bytes) -> tuple[bool, str, Row]:
    """``(success, action_id, fields)`` of a completion body, or a 400."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request("INVALID_DATA_FORMAT", "The request body is not valid JSON.") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("success"), bool):
        raise bad_request("PARAM_MISSING", "success (boolean) is required.", "/success")
    data = doc.get("data") if isinstance(doc.get("data"), dict) else {}
    assert isinstance(data, dict)
    action_id = data.get("action_id", doc.get("action_id"))
    if not isinstance(action_id, str) or not action_id:
        raise bad_request("PARAM_MISSING", "data.action_id is required.", "/data/action_id")
    return doc["success"], action_id, fields_of(doc["success"], data, doc.get("error"))


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


async def apply(ctx: Ctx, gateway: Row, success: bool, action_id: str, fields: Row) -> None:
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
                forced: Row = {
                    "payment_source_id": source["id"],
                    "payment_source_type": kind,
                    "payment_source_details": source_details(source)
                    if kind == "external_payments"
                    else {"type": kind},
                }
                await ctx.update("orders", order["id"], forced)
                order.update(forced)
        await flows.complete(ctx, pay, txn, success=success, fields=fields)


def endpoint(api: Any) -> Callable[[Request], Awaitable[Response]]:
    """The route handler; ``api.services`` is read per request (it exists after startup)."""

    async def handle(request: Request) -> Response:
        services: Services = api.services
        try:
            gateway = await _gateway(services, request.path_params["id"])
            raw = await request.body()
            secret = gateway.get("shared_secret") or ""
            if not verify(secret, raw, request.headers.get(SIGNATURE_HEADER)):
                raise unauthorized()
            success, action_id, fields = parse(raw)
            principal = Principal(
                organization_id=gateway["organization_id"],
                organization_slug="",
                mode=gateway["mode"],
                application_id="",
                kind="integration",
            )
            base = services.settings.public_base_url or str(request.base_url).rstrip("/")
            ctx = Ctx(services, principal, base)
            async with ctx.step():
                await apply(ctx, gateway, success, action_id, fields)
        except ApiError as err:
            return _error(err)
        except Exception:
            log.exception("asynchronous completion for gateway %s failed", request.path_params)
            return Response(
                orjson.dumps({"errors": [error_object(500, "INTERNAL_SERVER_ERROR")]}),
                500,
                media_type=JSONAPI,
            )
        return Response(b"{}", 200, media_type="application/json")

    return handle
