"""Login throttling: password grants counted per account and per client address.

Counters live in the database (``login_throttles``), so every worker and every process sees
the same counts. Each password grant counts as a failure *before* the password is checked,
and a successful login takes its count back: a burst of concurrent guesses is cut at the
limit instead of all being checked before any failure is recorded. An attempt refused
unchecked counts only against the key that refused it.

A key is over its limit for what is left of its window (``KASSA_LOGIN_WINDOW`` seconds
from its first failure), and is answered 429 with ``Retry-After`` without checking the
password, even a right one. Refused attempts do not extend the window, so a lock ends at
most one window after it began; an attacker can only renew it by failing again in the next
window, from addresses that each have their own limit.

Keys are scoped to the organization and mode: the account key is the e-mail as sent (whether
or not a customer has it, so the 429 reveals nothing), the address key the client's address
as the server sees it (behind a reverse proxy, the proxy's).
"""

from __future__ import annotations

import hashlib
import math
import secrets
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.ids import now
from kassa.settings import Settings
from kassa.store.schema import login_throttles

client_address: ContextVar[str] = ContextVar("kassa_client_address", default="?")
"""The address of the client of the current ``/oauth/token`` request."""

_PRUNE_ONE_IN = 50
"""On average one attempt in this many also deletes the rows whose window has passed."""


@dataclass(frozen=True)
class LoginKeys:
    account: str
    address: str


def login_keys(organization_id: str, mode: str, username: str, address: str) -> LoginKeys:
    def key(*parts: str) -> str:
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()

    return LoginKeys(
        key("account", organization_id, mode, username.strip().lower()),
        key("address", organization_id, mode, address),
    )


class LoginThrottle:
    def __init__(self, settings: Settings, is_sqlite: bool):
        self.is_sqlite = is_sqlite
        self.window = max(1, settings.login_window)
        self.limits = (settings.login_account_limit, settings.login_address_limit)

    async def attempt(self, conn: AsyncConnection, keys: LoginKeys) -> int | None:
        """Count one attempt on both keys; the seconds to wait if either is over its limit.

        Runs on the caller's connection (a login must not need a second one while it holds
        the first) and commits, so concurrent attempts see the count at once.
        """
        at = now()
        cutoff = at - timedelta(seconds=self.window)
        table = login_throttles
        insert = sqlite.insert if self.is_sqlite else postgresql.insert
        stale = table.c.window_started_at <= cutoff
        await conn.commit()  # whatever the caller read: the counts go in a transaction of their own
        counted: list[str] = []
        wait: int | None = None
        for key, limit in zip((keys.account, keys.address), self.limits, strict=True):
            if limit <= 0:
                continue
            stmt = (
                insert(table)
                .values(key=key, failures=1, window_started_at=at)
                .on_conflict_do_update(
                    index_elements=[table.c.key],
                    set_={
                        "failures": sa.case((stale, 1), else_=table.c.failures + 1),
                        "window_started_at": sa.case((stale, at), else_=table.c.window_started_at),
                    },
                )
                .returning(table.c.failures, table.c.window_started_at)
            )
            row = (await conn.execute(stmt)).one()
            if row.failures > limit:
                left = (row.window_started_at - at).total_seconds() + self.window
                wait = max(1, math.ceil(left))
                # Refused unchecked: the attempt counts only on the key that refused it.
                await self._take_back(conn, counted)
                break
            counted.append(key)
        if secrets.randbelow(_PRUNE_ONE_IN) == 0:
            await conn.execute(table.delete().where(table.c.window_started_at < cutoff))
        await conn.commit()
        return wait

    @staticmethod
    async def _take_back(conn: AsyncConnection, keys: list[str]) -> None:
        table = login_throttles
        if keys:
            await conn.execute(
                table.update()
                .where(table.c.key.in_(keys), table.c.failures > 0)
                .values(failures=table.c.failures - 1)
            )

    async def succeeded(self, conn: AsyncConnection, keys: LoginKeys) -> None:
        """Take back the attempt a successful login counted; the account starts afresh."""
        table = login_throttles
        await conn.commit()
        await conn.execute(table.delete().where(table.c.key == keys.account))
        await self._take_back(conn, [keys.address])
        await conn.commit()
