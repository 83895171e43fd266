"""Identifiers and timestamps in the shapes the API shows them."""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime

_LETTERS = string.ascii_letters


def new_id() -> str:
    """A 10-letter random id such as ``qaMAhZkZvd`` (52^10 ≈ 1.4e17 values)."""
    return "".join(secrets.choice(_LETTERS) for _ in range(10))


def new_token(nbytes: int = 16) -> str:
    return secrets.token_hex(nbytes)


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def iso(value: datetime | None) -> str | None:
    """``2018-01-01T12:00:00.000Z``; stored datetimes are naive UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"


def parse_iso(value: str) -> datetime:
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed
