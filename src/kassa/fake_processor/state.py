"""The in-memory state of the processor: accounts, scripted behaviours, idempotency keys."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from kassa.fake_processor.protocol import MODES, as_int


@dataclass
class Behaviour:
    """How the processor answers one action of one account."""

    mode: str = "approve"
    code: str = "CARD_DECLINED"
    message: str = "Card declined by issuer"
    seconds: float = 5.0
    status: int = 500
    times: int | None = None
    metadata: dict[str, Any] | None = None
    payment_instrument: dict[str, Any] | None = None
    hold: float = 0.0
    """Seconds to wait before answering, in any mode (the answer is decided after)."""


@dataclass
class Keyed:
    """The answer to one idempotency key: in flight until ``done`` is set."""

    action: str
    done: asyncio.Event = field(default_factory=asyncio.Event)
    status: int | None = None
    body: bytes = b""


@dataclass
class Account:
    """In-memory state of one account namespace."""

    shared_secret: str | None = None
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    customer_tokens: dict[str, str] = field(default_factory=dict)
    keys: dict[str, Keyed] = field(default_factory=dict)


class BadRequest(Exception):
    """Raised on an invalid control request."""


def parse_behaviour(payload: Any) -> Behaviour:
    if not isinstance(payload, dict):
        raise BadRequest("body must be a JSON object")
    mode = payload.get("mode", "approve")
    if mode not in MODES:
        raise BadRequest(f"mode must be one of {', '.join(MODES)}")
    behaviour = Behaviour(mode=mode)
    for name in ("code", "message"):
        if name in payload:
            if not isinstance(payload[name], str):
                raise BadRequest(f"{name} must be a string")
            setattr(behaviour, name, payload[name])
    if "seconds" in payload:
        seconds = payload["seconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise BadRequest("seconds must be a non-negative number")
        behaviour.seconds = float(seconds)
    if "hold" in payload:
        hold = payload["hold"]
        if isinstance(hold, bool) or not isinstance(hold, int | float) or hold < 0:
            raise BadRequest("hold must be a non-negative number")
        behaviour.hold = float(hold)
    if "status" in payload:
        status = as_int(payload["status"])
        if status is None or not 100 <= status <= 599:
            raise BadRequest("status must be an HTTP status code")
        behaviour.status = status
    if payload.get("times") is not None:
        times = as_int(payload["times"])
        if times is None or times < 1:
            raise BadRequest("times must be a positive integer")
        behaviour.times = times
    for name in ("metadata", "payment_instrument"):
        if payload.get(name) is not None:
            if not isinstance(payload[name], dict):
                raise BadRequest(f"{name} must be an object")
            setattr(behaviour, name, payload[name])
    return behaviour
