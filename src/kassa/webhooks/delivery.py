"""Delivery attempts: sign and ``POST`` (no transaction open), then record a batch of outcomes.

The request is the rendered body (the same bytes on every retry of an event) with
``X-CommerceLayer-Topic``, ``X-CommerceLayer-Signature`` (base64 HMAC-SHA256 of the body,
keyed with the webhook's shared secret) and ``X-Kassa-Event-Id`` (the same on every retry,
for receivers to de-duplicate). A 2xx answer within the timeout is a success; anything
else, a redirect included (never followed), is a failure. Each attempt writes an
``event_callbacks`` row; the outcomes of one round are written in one transaction, with the
webhooks' circuit breakers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.engine.context import Services
from kassa.ids import new_id, now
from kassa.outbound import DestinationRefused
from kassa.webhooks.config import WebhookConfig
from kassa.webhooks.queue import Claimed, delivered, failed
from kassa.webhooks.signing import signature

MESSAGE_LENGTH = 255


@dataclass
class Attempt:
    event: Claimed
    body: str
    ok: bool
    code: int | None
    message: str
    at: datetime = field(default_factory=now)


async def post(http: httpx.AsyncClient, hook: dict[str, Any], event: Claimed, body: str) -> Attempt:
    """Send ``event`` to ``hook`` once."""
    data = body.encode()
    headers = {
        "Content-Type": "application/json",
        "X-CommerceLayer-Topic": event.topic,
        "X-CommerceLayer-Signature": signature(data, str(hook["shared_secret"] or "")),
        "X-Kassa-Event-Id": event.event_id,
    }
    try:
        response = await http.post(str(hook["callback_url"]), content=data, headers=headers)
    except DestinationRefused as exc:
        return Attempt(event, body, False, None, exc.reason)
    except httpx.TimeoutException:
        return Attempt(event, body, False, None, "timeout")
    except httpx.HTTPError as exc:
        return Attempt(event, body, False, None, f"connection error: {type(exc).__name__}")
    await response.aclose()
    ok = 200 <= response.status_code < 300
    message = (response.reason_phrase or ("OK" if ok else "error"))[:MESSAGE_LENGTH]
    return Attempt(event, body, ok, response.status_code, message)


async def record(
    services: Services,
    conn: AsyncConnection,
    config: WebhookConfig,
    hook: dict[str, Any],
    attempts: list[Attempt],
    owner: str,
) -> None:
    """Write ``attempts`` (of one webhook, in the order they were made) and its circuit."""
    if not attempts:
        return
    registry = services.registry
    callbacks = registry["event_callbacks"].table
    webhooks = registry["webhooks"].table
    rows = [
        {
            "id": new_id(),
            "organization_id": a.event.organization_id,
            "mode": a.event.mode,
            "created_at": a.at,
            "updated_at": a.at,
            "webhook_id": hook["id"],
            "callback_url": hook["callback_url"],
            "payload": orjson.loads(a.body),
            "response_code": None if a.code is None else str(a.code),
            "response_message": a.message,
            "reference": None,
            "reference_origin": None,
            "metadata": {},
        }
        for a in attempts
    ]
    await conn.execute(callbacks.insert(), rows)
    for a in attempts:
        if a.ok:
            await delivered(conn, a.event, owner, a.at, a.body)
            continue
        failures = a.event.attempts + 1
        retry_at = None
        if failures <= config.max_retries:
            retry_at = a.at + timedelta(seconds=config.backoff(failures, random.random()))
        await failed(conn, a.event, owner, retry_at, a.body)
    await conn.execute(_circuit(webhooks, hook["id"], attempts, config.circuit_threshold))


def _circuit(webhooks: sa.Table, hook_id: str, attempts: list[Attempt], threshold: int) -> Any:
    """Failures since the last success: added to the count, or the count after a success."""
    trailing = 0
    for a in reversed(attempts):
        if a.ok:
            break
        trailing += 1
    succeeded = trailing < len(attempts)
    base = sa.literal(0) if succeeded else sa.func.coalesce(webhooks.c.circuit_failure_count, 0)
    count = base + trailing
    state = sa.case((count >= threshold, "open"), else_="closed")
    where = [webhooks.c.id == hook_id]
    if succeeded and trailing == 0:
        # Nothing to reset on a healthy webhook: leave its row alone (and unlocked).
        where.append(
            sa.or_(
                sa.func.coalesce(webhooks.c.circuit_failure_count, 0) != 0,
                sa.func.coalesce(webhooks.c.circuit_state, "closed") != "closed",
            )
        )
    return (
        webhooks.update()
        .where(*where)
        .values(circuit_failure_count=count, circuit_state=state, updated_at=now())
    )
