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

from kassa.outbound import DestinationRefused, url_refusal
from kassa.session import Session
from kassa.session.rows import Row
from kassa.store.unit import UnitOfWork

log = logging.getLogger("kassa.callouts")
SIGNATURE_HEADER = "X-CommerceLayer-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
"""Carries the id of the transaction (or wallet entry) a callout creates; also in the
body's ``data.meta.idempotency_key``. A gateway that honours it charges once per key."""
ACTION_ID_MAX = 128
"""Longest asynchronous ``action_id`` accepted (the column's width)."""
MAX_REPLY_BYTES = 1024 * 1024
"""Longest gateway reply read; a longer one is an invalid response."""
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
    """Base64 HMAC-SHA256 of the raw body bytes, keyed with the gateway's shared secret."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(secret: str, body: bytes, signature: str | None) -> bool:
    """Constant-time check of a signature sent to us (asynchronous completions)."""
    if not signature or not secret:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), signature.strip().encode())


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


def text(value: Any, limit: int = 1000) -> str | None:
    """A gateway-supplied scalar as a bounded string (objects and lists are ignored);
    numbers and booleans are written as JSON writes them (``true``, not ``True``)."""
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, str):
        return value[:limit]
    return orjson.dumps(value).decode()[:limit]


def _failure(code: str, message: str, status: int | None = None) -> Outcome:
    return Outcome("failure", error_code=code, message=message, status=status)


def classify(status: int, body: bytes) -> Outcome:
    """Transport failure, pending, success or decline; the first match wins (§4.4)."""
    if not 200 <= status < 300:
        return _failure(f"HTTP_{status}", f"HTTP {status}", status)
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _failure("INVALID_RESPONSE", "invalid response", status)
    if not isinstance(doc, dict) or not isinstance(doc.get("success"), bool):
        return _failure("INVALID_RESPONSE", "invalid response", status)
    raw = doc.get("data")
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    if doc["success"]:
        action_id = data.get("action_id")
        if status == 202 and isinstance(action_id, str) and action_id:
            if len(action_id) > ACTION_ID_MAX:
                return _failure("INVALID_RESPONSE", "action_id too long", status)
            return Outcome("pending", data, message="Pending", status=status)
        return Outcome(
            "success", data, message=text(data.get("message")) or "Accepted", status=status
        )
    error = data.get("error") if isinstance(data.get("error"), dict) else doc.get("error")
    error = error if isinstance(error, dict) else {}
    return Outcome(
        "decline",
        data,
        error_code=text(error.get("code"), 255),
        message=text(error.get("message")),
        status=status,
    )


async def payload(
    ctx: Session, type_: str, row: Row, gateway: Row, meta: dict[str, Any] | None = None
) -> bytes:
    """The callout body, serialized once: these exact bytes are signed and sent."""
    paths = gateway.get("external_includes") or list(DEFAULT_INCLUDES)
    doc, included = await ctx.services.document(ctx, type_, row, [str(p) for p in paths])
    if meta:
        doc["meta"] = {**doc.get("meta", {}), **meta}
    return orjson.dumps({"data": doc, "included": included})


async def _post(
    ctx: Session, gateway: Row, action: str, body: bytes, key: str | None
) -> tuple[Outcome, bool]:
    """The HTTP exchange alone; also says whether it counts for the breaker."""
    url = gateway.get(f"{action}_url")
    if not url:
        return Outcome("decline", error_code="MISSING_URL", message=f"{action}_url is blank"), False
    if gateway.get("circuit_state") == "open":
        return _failure("CIRCUIT_OPEN", "circuit breaker open"), False
    refused = url_refusal(str(url))
    if refused is not None:
        return _failure("DESTINATION_REFUSED", f"destination refused: {refused}"), True
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        SIGNATURE_HEADER: sign(gateway.get("shared_secret") or "", body),
    }
    if key:
        headers[IDEMPOTENCY_HEADER] = key
    http: httpx.AsyncClient = ctx.services.http
    try:
        outcome = await _exchange(http, str(url), body, headers, ctx.settings.callout_timeout)
    except DestinationRefused as exc:
        log.warning("callout to gateway %s refused: %s", gateway["id"], exc.reason)
        outcome = _failure("DESTINATION_REFUSED", f"destination refused: {exc.reason}")
    except httpx.TimeoutException:
        outcome = _failure("TIMEOUT", "timeout")
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        log.info("callout to gateway %s failed: %s", gateway["id"], type(exc).__name__)
        outcome = _failure("CONNECTION_ERROR", "connection error")
    return outcome, True


async def _exchange(
    http: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], timeout: float
) -> Outcome:
    """POST and classify the reply, reading at most :data:`MAX_REPLY_BYTES` of it."""
    async with http.stream("POST", url, content=body, headers=headers, timeout=timeout) as reply:
        chunks: list[bytes] = []
        size = 0
        async for chunk in reply.aiter_bytes():
            size += len(chunk)
            if size > MAX_REPLY_BYTES:
                return _failure("INVALID_RESPONSE", "response too large", reply.status_code)
            chunks.append(chunk)
        return classify(reply.status_code, b"".join(chunks))


async def callout(
    ctx: Session, gateway: Row, action: str, body: bytes, key: str | None = None
) -> Outcome:
    """Commit, POST ``body`` to the gateway's ``<action>_url``, then continue in a new
    transaction that also carries the breaker's bookkeeping.

    ``key`` is sent as ``Idempotency-Key``: the same on every repeat of one transaction.
    """
    async with ctx.unit.outside_transaction():
        outcome, counted = await _post(ctx, gateway, action, body, key)
    if counted:
        stmt = _breaker_update(ctx, gateway, failed=outcome.kind == "failure")
        if stmt is not None:
            await ctx.conn.execute(stmt)
    return outcome


async def call(
    ctx: Session, gateway: Row, action: str, body: bytes, key: str | None = None
) -> Outcome:
    """POST ``body`` to the gateway's ``<action>_url``. Call with no transaction open."""
    assert not ctx.in_transaction, "commit before calling out"
    outcome, counted = await _post(ctx, gateway, action, body, key)
    if counted:
        await record_breaker(ctx, gateway["id"], failed=outcome.kind == "failure")
    return outcome


def _breaker_update(ctx: Session, gateway: Row, *, failed: bool) -> sa.Update | None:
    """Count a failure (opening past the threshold) or reset the count after a good reply.

    Only a closed circuit changes; a good reply on a gateway whose count we just read as 0
    needs no write at all.
    """
    if not failed and not gateway.get("circuit_failure_count"):
        return None
    table = ctx.table("external_gateways")
    where = [table.c.id == gateway["id"], table.c.circuit_state == "closed"]
    values: dict[str, Any]
    if failed:
        count = sa.func.coalesce(table.c.circuit_failure_count, 0) + 1
        values = {
            "circuit_failure_count": count,
            "circuit_state": sa.case(
                (count > ctx.settings.circuit_threshold, "open"), else_="closed"
            ),
        }
    else:
        where.append(table.c.circuit_failure_count != 0)
        values = {"circuit_failure_count": 0}
    return table.update().where(*where).values(**values)


async def record_breaker(ctx: Session, gateway_id: str, *, failed: bool) -> None:
    """The breaker's bookkeeping in a transaction of its own."""
    stmt = _breaker_update(ctx, {"id": gateway_id, "circuit_failure_count": 1}, failed=failed)
    assert stmt is not None
    own = UnitOfWork(ctx.services.db)
    async with own.step():
        await own.conn.execute(stmt)
