"""The wire protocol of the processor: signatures, actions and reading callout bodies."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from starlette.responses import JSONResponse

SIGNATURE_HEADER = "X-CommerceLayer-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
ACTIONS = ("authorize", "capture", "void", "refund", "token")
MODES = ("approve", "decline", "timeout", "http_error", "garbage", "async")

_AMOUNT_ATTRIBUTES = {
    "capture": "capture_amount_cents",
    "void": "void_balance_cents",
    "refund": "refund_amount_cents",
}


def sign(secret: str, body: bytes) -> str:
    """Return the base64 HMAC-SHA256 signature of ``body`` keyed with ``secret``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(secret: str, body: bytes, signature: str | None) -> bool:
    """Check ``signature`` against the raw ``body`` in constant time."""
    if not signature:
        return False
    return hmac.compare_digest(sign(secret, body).encode("ascii"), signature.encode("utf-8"))


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"success": False, "error": {"code": code, "message": message}}, status)


def parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def included_of(doc: dict[str, Any], type_: str) -> dict[str, Any] | None:
    included = doc.get("included")
    if not isinstance(included, list):
        return None
    for entry in included:
        if isinstance(entry, dict) and entry.get("type") == type_:
            return entry
    return None


def amount_of(action: str, doc: dict[str, Any]) -> int:
    """Extract the amount in cents a callout is about (0 when absent)."""
    data = as_dict(doc.get("data"))
    if action == "authorize":
        amount = as_int(as_dict(data.get("meta")).get("amount_cents"))
        if amount is not None:
            return amount
        order = included_of(doc, "orders")
        if order is not None:
            amount = as_int(as_dict(order.get("attributes")).get("total_amount_with_taxes_cents"))
        return amount or 0
    attribute = _AMOUNT_ATTRIBUTES.get(action)
    if attribute is None:
        return 0
    return as_int(as_dict(data.get("attributes")).get(attribute)) or 0


def body_key(doc: Any) -> str | None:
    """``data.meta.idempotency_key`` of a callout body, for callers that strip headers."""
    key = as_dict(as_dict(as_dict(doc).get("data")).get("meta")).get("idempotency_key")
    return key if isinstance(key, str) and key else None


def customer_key(doc: dict[str, Any]) -> str:
    customer = included_of(doc, "customers")
    if customer is not None and customer.get("id") not in (None, ""):
        return str(customer["id"])
    return "guest"
