"""One frozen settings object, read from ``KASSA_*`` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.lower() in ("1", "true", "yes", "on")


def default_database_url() -> str:
    data_dir = Path(os.environ.get("KASSA_DATA_DIR", "var"))
    return f"sqlite+aiosqlite:///{data_dir / 'kassa.sqlite3'}"


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=default_database_url)
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    domain: str = "kassa.localhost"
    """Public base domain: tokens carry ``iss = https://auth.<domain>``."""
    public_base_url: str | None = None
    """Absolute base for ``links`` (``https://shop.example.com``); the request's host otherwise."""
    checkout_base_url: str = "https://checkout.kassa.localhost"
    sales_channel_token_ttl: int = 14400
    integration_token_ttl: int = 7200
    refresh_token_ttl: int = 14 * 24 * 3600
    callout_timeout: float = 10.0
    circuit_threshold: int = 30
    rate_limit: bool = False
    token_rate_limit: int = 30
    query_count_header: bool = False
    """Expose ``X-Kassa-Queries`` (SQL statements per request); for tests and benchmarks."""

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=os.environ.get("KASSA_DATABASE_URL") or default_database_url(),
            host=os.environ.get("KASSA_HOST", "127.0.0.1"),
            port=_int("KASSA_PORT", 8080),
            workers=_int("KASSA_WORKERS", 1),
            domain=os.environ.get("KASSA_DOMAIN", "kassa.localhost"),
            public_base_url=os.environ.get("KASSA_PUBLIC_BASE_URL") or None,
            checkout_base_url=os.environ.get(
                "KASSA_CHECKOUT_BASE_URL", "https://checkout.kassa.localhost"
            ),
            sales_channel_token_ttl=_int("KASSA_SALES_CHANNEL_TOKEN_TTL", 14400),
            integration_token_ttl=_int("KASSA_INTEGRATION_TOKEN_TTL", 7200),
            refresh_token_ttl=_int("KASSA_REFRESH_TOKEN_TTL", 14 * 24 * 3600),
            callout_timeout=_float("KASSA_CALLOUT_TIMEOUT", 10.0),
            circuit_threshold=_int("KASSA_CIRCUIT_THRESHOLD", 30),
            rate_limit=_bool("KASSA_RATE_LIMIT", False),
            token_rate_limit=_int("KASSA_TOKEN_RATE_LIMIT", 30),
            query_count_header=_bool("KASSA_QUERY_COUNT_HEADER", False),
        )
