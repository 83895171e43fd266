"""``Idempotency-Key`` on API writes: the first answer to a key, replayed to its retries.

A write (POST, PATCH, DELETE under ``/api``) that carries the header is *claimed* before it
runs: one insert of the key's row, which conflicts on the primary key when the key is known,
so of two processes racing on one key exactly one runs the request. The row remembers a
fingerprint of the request (method, path with query, body); once the request has run its
answer (status, headers, body) is stored for ``KASSA_IDEMPOTENCY_TTL`` seconds. A later
request with the same key:

* and the same fingerprint gets the stored answer, with ``Idempotent-Replayed: true``, and
  runs nothing;
* and another fingerprint gets 422 ``IDEMPOTENCY_KEY_REUSED``;
* while the first still runs gets 409 ``IDEMPOTENCY_KEY_IN_USE`` (and ``Retry-After``).

Answers that mean "try again" (5xx, 409, 423, 429) are not stored: the key is released and
a retry runs the request. A claim is held for ``KASSA_IDEMPOTENCY_LEASE`` seconds; if its
process dies before answering, a retry after that runs the request again.

Keys are scoped to the caller (:func:`caller_scope`): the row's id is a hash of organization,
mode, principal and key, so one caller's key never names another caller's answer.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.auth.principal import Principal
from kassa.ids import now
from kassa.jsonapi.errors import ApiError, error_object
from kassa.store.db import Database
from kassa.store.schema import idempotency_keys

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
METHODS = frozenset({"POST", "PATCH", "DELETE"})
MAX_KEY_LENGTH = 255
NOT_STORED = frozenset({409, 423, 429})
"""Besides 5xx: answers that ask the client to retry later."""
_UNSTORED_HEADERS = frozenset(
    {
        "content-length",
        "date",
        "server",
        "x-kassa-queries",
        "x-ratelimit-limit",
        "x-ratelimit-interval",
        "x-ratelimit-remaining",
    }
)
_PRUNE_ONE_IN = 100
"""On average one claim in this many also deletes the expired keys."""
_SOURCE = {"header": HEADER}


@dataclass(frozen=True)
class Claim:
    """The right to run the request of a key, until the lease ends."""

    key_hash: str
    owner: str


@dataclass(frozen=True)
class Stored:
    """The answer kept for a key."""

    status: int
    headers: dict[str, str]
    body: bytes


def _error(status: int, code: str, title: str, detail: str) -> ApiError:
    err = error_object(status, code, title, detail)
    err["source"] = dict(_SOURCE)
    return ApiError(status, [err], {"Retry-After": "1"} if status == 409 else None)


def _in_use() -> ApiError:
    return _error(
        409,
        "IDEMPOTENCY_KEY_IN_USE",
        "Idempotency key in use",
        f"A request with this {HEADER} is still being processed; retry later.",
    )


def checked_key(raw: str) -> str:
    """The key as sent; 400 unless 1–255 visible ASCII characters."""
    if not 1 <= len(raw) <= MAX_KEY_LENGTH or not all("!" <= ch <= "~" for ch in raw):
        raise _error(
            400,
            "INVALID_IDEMPOTENCY_KEY",
            "Invalid idempotency key",
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} visible ASCII characters "
            "(letters, digits, punctuation; no spaces).",
        )
    return raw


def caller_scope(principal: Principal, token_id: str) -> tuple[str, ...]:
    """Whose keys these are: an integration application, a customer, or one guest token."""
    p = principal
    if p.customer_id is not None:
        who: tuple[str, ...] = ("customer", p.customer_id)
    elif p.sales_channel:
        who = ("guest", p.application_id, token_id)
    else:
        who = ("application", p.application_id)
    return (p.organization_id, p.mode, *who)


def fingerprint(method: str, path: str, body: bytes) -> str:
    """SHA-256 of the request: a JSON body counts by its content, not its spacing."""
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        canonical = body
    digest = hashlib.sha256(f"{method}\x1f{path}\x1f".encode())
    digest.update(canonical)
    return digest.hexdigest()


def stored_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in _UNSTORED_HEADERS}


class IdempotencyKeys:
    def __init__(self, db: Database, ttl: int, lease: float):
        self.db = db
        self.ttl = timedelta(seconds=ttl)
        self.lease = timedelta(seconds=lease)

    async def _begin(self) -> AsyncConnection:
        conn = await self.db.engine.connect()
        if self.db.is_sqlite:
            conn = await conn.execution_options(kassa_immediate=True)
        await conn.begin()
        return conn

    def _insert(self, key_hash: str, fresh: dict[str, Any]) -> Any:
        insert = sqlite.insert if self.db.is_sqlite else postgresql.insert
        return insert(idempotency_keys).values(key_hash=key_hash, **fresh)

    async def claim(
        self, key: str, scope: tuple[str, ...], method: str, path: str, body: bytes
    ) -> Claim | Stored:
        """Run the request (a :class:`Claim`), replay its answer (:class:`Stored`), or refuse
        it (409/422, raised as :class:`ApiError`)."""
        key_hash = hashlib.sha256("\x1f".join((*scope, key)).encode()).hexdigest()
        request_print = fingerprint(method, path, body)
        claim = Claim(key_hash, secrets.token_hex(16))
        table = idempotency_keys
        conn = await self._begin()
        try:
            at = now()
            fresh = {
                "fingerprint": request_print,
                "owner": claim.owner,
                "locked_until": at + self.lease,
                "status": None,
                "headers": None,
                "body": None,
                "created_at": at,
                "expires_at": at + self.ttl,
            }
            stmt = (
                self._insert(key_hash, fresh)
                .on_conflict_do_nothing(index_elements=[table.c.key_hash])
                .returning(table.c.key_hash)
            )
            if (await conn.execute(stmt)).first() is not None:
                if secrets.randbelow(_PRUNE_ONE_IN) == 0:
                    await conn.execute(table.delete().where(table.c.expires_at < at))
                await conn.commit()
                return claim
            row = (await conn.execute(sa.select(table).where(table.c.key_hash == key_hash))).first()
            outcome = await self._existing(conn, row, claim, fresh, at)
            await conn.commit()
            return outcome
        finally:
            await conn.close()

    async def _existing(
        self, conn: AsyncConnection, row: Any, claim: Claim, fresh: dict[str, Any], at: Any
    ) -> Claim | Stored:
        table = idempotency_keys
        mine = table.c.key_hash == claim.key_hash
        if row is None or row.expires_at <= at:
            # Released or expired since the insert was refused: this request starts afresh,
            # unless another one just did.
            if row is None:
                stmt = self._insert(claim.key_hash, fresh).on_conflict_do_nothing()
                started = await conn.execute(stmt)
            else:
                started = await conn.execute(
                    table.update().where(mine, table.c.expires_at <= at).values(**fresh)
                )
            if started.rowcount != 1:
                raise _in_use()
            return claim
        if row.fingerprint != fresh["fingerprint"]:
            raise _error(
                422,
                "IDEMPOTENCY_KEY_REUSED",
                "Idempotency key reused",
                f"This {HEADER} was already used for another request (method, path or body); "
                "send a new key for a new request.",
            )
        if row.status is not None:
            return Stored(row.status, dict(row.headers or {}), bytes(row.body or b""))
        if row.locked_until is None or row.locked_until > at:
            raise _in_use()
        # The process that held it died: take the lease over (unless someone just did).
        taken = await conn.execute(
            table.update()
            .where(mine, table.c.owner == row.owner, table.c.status.is_(None))
            .values(owner=claim.owner, locked_until=fresh["locked_until"])
        )
        if taken.rowcount != 1:
            raise _in_use()
        return claim

    async def settle(self, claim: Claim, status: int, headers: dict[str, str], body: bytes) -> None:
        """Keep the answer for replays, or release the key when it is not to be kept."""
        if status >= 500 or status in NOT_STORED:
            await self.release(claim)
            return
        table = idempotency_keys
        conn = await self._begin()
        try:
            await conn.execute(
                table.update()
                .where(table.c.key_hash == claim.key_hash, table.c.owner == claim.owner)
                .values(
                    status=status,
                    headers=stored_headers(headers),
                    body=body,
                    owner=None,
                    locked_until=None,
                )
            )
            await conn.commit()
        finally:
            await conn.close()

    async def release(self, claim: Claim) -> None:
        """Forget a claimed key, so that a retry runs its request."""
        table = idempotency_keys
        conn = await self._begin()
        try:
            await conn.execute(
                table.delete().where(
                    table.c.key_hash == claim.key_hash, table.c.owner == claim.owner
                )
            )
            await conn.commit()
        finally:
            await conn.close()
