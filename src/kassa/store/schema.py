"""The metadata and Kassa's internal tables; the resources' tables join the metadata when
:mod:`kassa.resources.tables` builds them from the declarations."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.String(32), primary_key=True),
    sa.Column("private_pem", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

# One row per refresh token issued. Every token descended from one login (the password grant,
# then each rotation) shares ``family_id``; a row written before families existed has none.
refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("application_id", sa.String(16), nullable=False),
    sa.Column("customer_id", sa.String(16), nullable=False, index=True),
    sa.Column("scope", sa.String, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False, index=True),
    sa.Column("revoked_at", sa.DateTime, nullable=True),
    sa.Column("family_id", sa.String(32), nullable=True, index=True),
)

# The deny list: ``jti`` is the id of a revoked access token, or the ``family_id`` (the ``sid``
# claim of its access tokens) of a revoked login, whose every token is then refused. After
# ``expires_at`` no token the row names can still be valid, so the row may be pruned.
revoked_tokens = sa.Table(
    "revoked_tokens",
    metadata,
    sa.Column("jti", sa.String(32), primary_key=True),
    sa.Column("expires_at", sa.DateTime, nullable=False, index=True),
)

order_counters = sa.Table(
    "order_counters",
    metadata,
    sa.Column("organization_id", sa.String(16), primary_key=True),
    sa.Column("mode", sa.String(4), primary_key=True),
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

# The webhook outbox (kassa.webhooks): one row per event and subscribed webhook, written in
# the transaction of the change. ``seq`` orders events as they were committed; a worker
# claims a row by setting ``lease_owner``/``lease_until`` and sends ``body`` (rendered at
# the first attempt, then the same bytes on every retry). ``callback_url`` is the receiver
# when the event happened: events of one resource to one receiver go out in order.
# ``extra``: attributes (JSON) the payload carries beyond what a read shows (the token of a
# password reset, which is stored only as its digest).
webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("event_id", sa.String(32), nullable=False),
    sa.Column("organization_id", sa.String(16), nullable=False),
    sa.Column("mode", sa.String(4), nullable=False),
    sa.Column("webhook_id", sa.String(16), nullable=False),
    sa.Column("topic", sa.String(64), nullable=False),
    sa.Column("resource_type", sa.String(64), nullable=False),
    sa.Column("resource_id", sa.String(32), nullable=False),
    sa.Column("callback_url", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime, nullable=False),
    sa.Column("lease_owner", sa.String(32), nullable=True),
    sa.Column("lease_until", sa.DateTime, nullable=True),
    sa.Column("delivered_at", sa.DateTime, nullable=True),
    sa.Column("body", sa.Text, nullable=True),
    sa.Column("extra", sa.Text, nullable=True),
    sa.Index("ix_webhook_events_due", "status", "next_attempt_at", "seq"),
    sa.Index("ix_webhook_events_resource", "resource_id", "seq"),
)


# Failed password logins, counted where every worker sees them (kassa.auth.throttle). ``key``
# is a SHA-256 of the account (organization, mode, e-mail) or of the client address; a row
# counts the attempts since ``window_started_at`` and is stale once the window has passed.
login_throttles = sa.Table(
    "login_throttles",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("window_started_at", sa.DateTime, nullable=False, index=True),
)

# The answers to API writes sent with an ``Idempotency-Key`` (kassa.engine.idempotency).
# ``key_hash`` is a SHA-256 of the caller's scope (organization, mode, principal) and the key,
# so a key names a row for its caller only; ``fingerprint`` a SHA-256 of method, path and body.
# While the first request runs, ``owner`` holds it until ``locked_until``; then ``status``,
# ``headers`` and ``body`` keep its answer until ``expires_at``.
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("key_hash", sa.String(64), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("owner", sa.String(32), nullable=True),
    sa.Column("locked_until", sa.DateTime, nullable=True),
    sa.Column("status", sa.Integer, nullable=True),
    sa.Column("headers", JSONType, nullable=True),
    sa.Column("body", sa.LargeBinary, nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False, index=True),
)

# Rate-limit windows shared by every process (kassa.engine.ratelimit), when Redis is not
# configured. ``key`` is a SHA-256 of the window's name and the client; ``hits`` counted since
# ``started``, ``previous`` in the window before; ``span`` (seconds) and ``quota`` are the
# window's limit; ``allowed`` whether the last request fit. Times are Unix seconds.
rate_counters = sa.Table(
    "rate_counters",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("started", sa.Float, nullable=False),
    sa.Column("hits", sa.Integer, nullable=False),
    sa.Column("previous", sa.Integer, nullable=False),
    sa.Column("span", sa.Float, nullable=False),
    sa.Column("quota", sa.Integer, nullable=False),
    sa.Column("allowed", sa.Boolean, nullable=False),
    sa.Column("expires", sa.Float, nullable=False, index=True),
)

# Gateway callouts in flight (kassa.payments.leases): written, with the exact signed body,
# in the transaction committed just before the callout, and deleted in the one that records
# its outcome. ``key`` is the idempotency key sent to the gateway and the id of the
# transaction (or wallet entry) the callout creates; one callout per order at a time. A row
# past ``lease_until`` was left by a process that died: the recovery scan repeats it.
callout_leases = sa.Table(
    "callout_leases",
    metadata,
    sa.Column("key", sa.String(32), primary_key=True),
    sa.Column("organization_id", sa.String(16), nullable=False),
    sa.Column("mode", sa.String(4), nullable=False),
    sa.Column("order_id", sa.String(16), nullable=False, unique=True),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("purpose", sa.String(16), nullable=False),
    sa.Column("gateway_id", sa.String(16), nullable=False),
    sa.Column("target_type", sa.String(64), nullable=False),
    sa.Column("target_id", sa.String(16), nullable=False),
    sa.Column("amount_cents", sa.BigInteger, nullable=False),
    sa.Column("context", JSONType, nullable=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("lease_until", sa.DateTime, nullable=False, index=True),
)
