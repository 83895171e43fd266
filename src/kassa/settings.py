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


def _list(name: str) -> tuple[str, ...]:
    raw = os.environ.get(name) or ""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


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
    """Absolute base for ``links`` (``https://shop.example.com``)."""
    allowed_hosts: tuple[str, ...] = ()
    """``Host`` values answered (``name`` or ``name:port``); others get 400. Without a public
    base URL, ``links`` use the request's (checked) host; ``kassa serve`` fills in the local
    names when neither is set."""
    max_body_bytes: int = 1024 * 1024
    """Largest request body accepted (413 beyond)."""
    outbound_allow_private: bool = True
    """Whether gateway and webhook URLs may reach loopback and private addresses."""
    checkout_base_url: str = "https://checkout.kassa.localhost"
    sales_channel_token_ttl: int = 14400
    integration_token_ttl: int = 7200
    refresh_token_ttl: int = 14 * 24 * 3600
    sqlite_busy_seconds: float = 30.0
    """How long a SQLite write waits for another process's write lock before the request is
    answered 423 (retry shortly)."""
    callout_timeout: float = 10.0
    callout_lease_seconds: float | None = None
    """Seconds a gateway callout (and the order's lock) is leased to its process; once past,
    the recovery scan takes it over. Default ``3 × callout_timeout + 10``; never less than
    ``callout_timeout + 1``."""
    callout_idempotency: bool = False
    """The gateways honour ``Idempotency-Key``: recovery repeats an interrupted callout with
    its key. Off: it records the callout as failed (outcome unknown) without calling again."""
    recovery_interval_seconds: float = 30.0
    """Seconds between two recovery scans inside ``kassa serve`` (one also runs at start-up)."""
    circuit_threshold: int = 30
    rate_limit: bool = False
    token_rate_limit: int = 30
    database_pool_size: int = 10
    """PostgreSQL connections each process keeps (it may open as many again under load): with
    ``--workers N`` up to ``2 × N ×`` this many, which must fit ``max_connections``."""
    sqlite_driver: str = "inline"
    """``inline``: SQLite statements run on the event loop's thread, never blocking it on a
    lock (:mod:`kassa.store.sqlite_inline`); ``thread``: aiosqlite, a thread per connection."""
    redis_url: str | None = None
    """Where rate-limit counters live when set (``redis://host:6379/0``); else the database."""
    idempotency_ttl: int = 24 * 3600
    """Seconds the answer to an ``Idempotency-Key`` is kept for replay."""
    idempotency_lease: float = 60.0
    """Seconds a key stays held by a request still running; once past (its process died),
    a retry with the same key runs the request again."""
    query_count_header: bool = False
    """Expose ``X-Kassa-Queries`` (SQL statements per request); for tests and benchmarks."""
    sql_log: bool = False
    """Log every SQL statement and its parameters to standard error (``kassa.sql``); for
    tests and benchmarks."""
    exact_count_limit: int = 10_000
    """Lists count their matches exactly up to this many; beyond, ``meta.record_count`` is an
    estimate (see :mod:`kassa.engine.counting`)."""
    access_log: bool = False
    """One line per request on standard output (``kassa serve --access-log``)."""
    log_format: str = "text"
    """``json``: the request log as one JSON object per line (and turned on)."""
    login_account_limit: int = 5
    """Failed password logins per account (e-mail) and window before 429; 0 turns it off."""
    login_address_limit: int = 20
    """Failed password logins per client address and window (per organization and mode)."""
    login_window: int = 60
    """Seconds a login throttle window lasts: the longest a throttled account stays locked."""
    password_hash_concurrency: int = 2
    """Argon2 hashes computed at once per process (64 MiB each); the rest queue."""
    password_min_length: int = 8
    password_reset_ttl: int = 6 * 3600
    """Seconds a ``customer_password_resets`` token stays usable (Commerce Layer: 6 hours)."""

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=os.environ.get("KASSA_DATABASE_URL") or default_database_url(),
            host=os.environ.get("KASSA_HOST", "127.0.0.1"),
            port=_int("KASSA_PORT", 8080),
            workers=_int("KASSA_WORKERS", 1),
            domain=os.environ.get("KASSA_DOMAIN", "kassa.localhost"),
            public_base_url=os.environ.get("KASSA_PUBLIC_BASE_URL") or None,
            allowed_hosts=_list("KASSA_ALLOWED_HOSTS"),
            max_body_bytes=_int("KASSA_MAX_BODY_BYTES", 1024 * 1024),
            outbound_allow_private=_bool("KASSA_OUTBOUND_ALLOW_PRIVATE", True),
            checkout_base_url=os.environ.get(
                "KASSA_CHECKOUT_BASE_URL", "https://checkout.kassa.localhost"
            ),
            sales_channel_token_ttl=_int("KASSA_SALES_CHANNEL_TOKEN_TTL", 14400),
            integration_token_ttl=_int("KASSA_INTEGRATION_TOKEN_TTL", 7200),
            refresh_token_ttl=_int("KASSA_REFRESH_TOKEN_TTL", 14 * 24 * 3600),
            sqlite_busy_seconds=max(0.1, _float("KASSA_SQLITE_BUSY_SECONDS", 30.0)),
            callout_timeout=_float("KASSA_CALLOUT_TIMEOUT", 10.0),
            callout_lease_seconds=_float("KASSA_CALLOUT_LEASE_SECONDS", 0.0) or None,
            callout_idempotency=_bool("KASSA_CALLOUT_IDEMPOTENCY", False),
            recovery_interval_seconds=max(0.1, _float("KASSA_RECOVERY_INTERVAL_SECONDS", 30.0)),
            circuit_threshold=_int("KASSA_CIRCUIT_THRESHOLD", 30),
            rate_limit=_bool("KASSA_RATE_LIMIT", False),
            token_rate_limit=_int("KASSA_TOKEN_RATE_LIMIT", 30),
            database_pool_size=max(1, _int("KASSA_DATABASE_POOL_SIZE", 10)),
            sqlite_driver=os.environ.get("KASSA_SQLITE_DRIVER", "inline").strip() or "inline",
            redis_url=os.environ.get("KASSA_REDIS_URL") or None,
            idempotency_ttl=max(1, _int("KASSA_IDEMPOTENCY_TTL", 24 * 3600)),
            idempotency_lease=max(0.1, _float("KASSA_IDEMPOTENCY_LEASE", 60.0)),
            query_count_header=_bool("KASSA_QUERY_COUNT_HEADER", False),
            sql_log=_bool("KASSA_SQL_LOG", False),
            exact_count_limit=max(1, _int("KASSA_EXACT_COUNT_LIMIT", 10_000)),
            access_log=_bool("KASSA_ACCESS_LOG", False),
            log_format=os.environ.get("KASSA_LOG_FORMAT", "text").strip().lower() or "text",
            login_account_limit=_int("KASSA_LOGIN_ACCOUNT_LIMIT", 5),
            login_address_limit=_int("KASSA_LOGIN_ADDRESS_LIMIT", 20),
            login_window=_int("KASSA_LOGIN_WINDOW", 60),
            password_hash_concurrency=_int("KASSA_PASSWORD_HASH_CONCURRENCY", 2),
            password_min_length=_int("KASSA_PASSWORD_MIN_LENGTH", 8),
            password_reset_ttl=_int("KASSA_PASSWORD_RESET_TTL", 6 * 3600),
        )
