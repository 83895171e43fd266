"""The one client that calls merchants' gateways: signing, timeouts, the circuit breaker.

A callout is a signed POST of a JSON:API document. The reply is classified as success,
decline, pending (asynchronous) or failure; failures count towards the gateway's circuit
breaker, whose state lives on the gateway row so every process and host shares it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

from kassa.auth.principal import Principal
from kassa.engine.context import Ctx
from kassa.engine.documents import IncludeTree, include_tree, render
from kassa.jsonapi.errors import ApiError
from kassa.jsonapi.query import Query
from kassa.resources.base import Row

log = logging.getLogger("kassa.callouts")
SIGNATURE_HEADER = "X-CommerceLayer-Signature"
DEFAULT_INCLUDES = (
    "order",
    "order.market",
    "order.line_items",
    "order.line_items.item",
    "order.shipping_address",
    "order.billing_address",
    "order.customer",
    "order.order_subscriptions",
)


def sign(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@dataclass
class Outcome:
    kind: str
    """``success``, ``decline``, ``pending`` or ``failure``."""
    data: dict[str, Any] = field(default_factory=dict)
    error_code: str | None = None
    message: str | None = None
    status: int | None = None

    @property
    def ok(self) -> bool:
        return self.kind == "success"


def classify(status: int, body: bytes) -> Outcome:
    if not 200 <= status < 300:
        return Outcome(
            "failure", error_code=f"HTTP_{status}", message=f"HTTP {status}", status=status
        )
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return Outcome(
            "failure", error_code="INVALID_RESPONSE", message="invalid response", status=status
        )
    if not isinstance(doc, dict) or not isinstance(doc.get("success"), bool):
        return Outcome(
            "failure", error_code="INVALID_RESPONSE", message="invalid response", status=status
        )
    data = doc.get("data") if isinstance(doc.get("data"), dict) else {}
    assert isinstance(data, dict)
    if doc["success"]:
        action_id = data.get("action_id")
        if status == 202 and isinstance(action_id, str) and action_id:
            return Outcome("pending", data, status=status)
        return Outcome("success", data, message=data.get("message") or "Accepted", status=status)
    error = data.get("error") if isinstance(data.get("error"), dict) else doc.get("error")
    error = error if isinstance(error, dict) else {}
    return Outcome(
        "decline",
        data,
        error_code=str(error.get("code")) if error.get("code") is not None else None,
        message=str(error.get("message")) if error.get("message") is not None else None,
        status=status,
    )


def system_ctx(ctx: Ctx) -> Ctx:
    """The same transaction, seen with integration rights (callout payloads show everything)."""
    p = ctx.principal
    principal = Principal(
        organization_id=p.organization_id,
        organization_slug=p.organization_slug,
        mode=p.mode,
        application_id=p.application_id,
        kind="integration",
    )
    sys = Ctx(ctx.services, principal, ctx.base_url, Query())
    sys._conn = ctx._conn
    return sys


async def payload(
    ctx: Ctx, type_: str, row: Row, gateway: Row, meta: dict[str, Any] | None = None
) -> bytes:
    """The callout body, serialized once: these exact bytes are signed and sent."""
    sys = system_ctx(ctx)
    res = ctx.registry[type_]
    paths = gateway.get("external_includes") or list(DEFAULT_INCLUDES)
    tree: IncludeTree = {}
    for path in paths:
        try:
            part = include_tree(sys, res, [tuple(str(path).split("."))])
        except ApiError:
            continue
        _merge(tree, part)
    data, included = await render(sys, res, [row], tree)
    doc = data[0]
    if meta:
        doc["meta"] = {**doc.get("meta", {}), **meta}
    sys._conn = None
    return orjson.dumps({"data": doc, "included": included})


def _merge(into: IncludeTree, other: IncludeTree) -> None:
    for key, sub in other.items():
        _merge(into.setdefault(key, {}), sub)


async def call(ctx: Ctx, gateway: Row, action: str, body: bytes) -> Outcome:
    """POST ``body`` to the gateway's ``<action>_url``. Call with no transaction open."""
    assert not ctx.in_transaction, "commit before calling out"
    url = gateway.get(f"{action}_url")
    if not url:
        return Outcome("decline", error_code="MISSING_URL", message=f"{action}_url is blank")
    if gateway.get("circuit_state") == "open":
        return Outcome("failure", error_code="CIRCUIT_OPEN", message="circuit breaker open")
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        SIGNATURE_HEADER: sign(gateway.get("shared_secret") or "", body),
    }
    http: httpx.AsyncClient = ctx.services.http
    try:
        response = await http.post(
            url, content=body, headers=headers, timeout=ctx.settings.callout_timeout
        )
        outcome = classify(response.status_code, response.content)
    except httpx.TimeoutException:
        outcome = Outcome("failure", error_code="TIMEOUT", message="timeout")
    except httpx.HTTPError as exc:
        log.info("callout to gateway %s failed: %s", gateway["id"], type(exc).__name__)
        outcome = Outcome("failure", error_code="CONNECTION_ERROR", message="connection error")
    await record_breaker(ctx, gateway["id"], failed=outcome.kind == "failure")
    return outcome


async def record_breaker(ctx: Ctx, gateway_id: str, *, failed: bool) -> None:
    """Count a failure (opening past the threshold) or reset the count after a good reply."""
    table = ctx.registry["external_gateways"].table
    threshold = ctx.settings.circuit_threshold
    where = [table.c.id == gateway_id, table.c.circuit_state == "closed"]
    values: dict[str, Any]
    if failed:
        count = table.c.circuit_failure_count + 1
        values = {
            "circuit_failure_count": count,
            "circuit_state": sa.case((count > threshold, "open"), else_="closed"),
        }
    else:
        where.append(table.c.circuit_failure_count != 0)
        values = {"circuit_failure_count": 0}
    async with ctx.services.db.engine.begin() as conn:
        await conn.execute(table.update().where(*where).values(**values))
