"""A per-order lock held across a gateway callout, stored on the order row.

Payment triggers (place, authorize, capture, void, refund, wallet save) take it with a
compare-and-set UPDATE, so across processes and hosts exactly one request works on an
order's money at a time; the others wait, then see the finished state (and, for the
idempotent triggers, answer without calling the gateway again).

The lock is taken inside the caller's open transaction, so it becomes visible to others
together with the first commit of the block (at the latest just before a callout), and
a block that fails before committing leaves nothing behind. On a normal exit it is
released in the still-open transaction, which the caller commits with the block's work.

The lock is a lease: it expires after :func:`lease_seconds`
(``KASSA_CALLOUT_LEASE_SECONDS``), so the lock of a process that died is free again then;
the callout it left in flight is finished by :mod:`kassa.checkout.recovery`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import sqlalchemy as sa

from kassa.failures import locked, not_found
from kassa.ids import new_token, now
from kassa.session import Session
from kassa.session.rows import Row
from kassa.settings import Settings

_waiting: dict[str, deque[asyncio.Future[None]]] = {}
"""Requests of this process waiting for an order's lock, oldest first.

A release wakes the oldest one at once, so in-process hand-offs do not wait for the next
poll; waiters in other processes (or hosts) still find the lock free by polling.
"""


async def _nap(order_id: str, seconds: float) -> None:
    """Sleep until woken by a release in this process, or for ``seconds``."""
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    queue = _waiting.setdefault(order_id, deque())
    queue.append(future)
    try:
        await asyncio.wait_for(future, seconds)
    except TimeoutError:
        pass
    finally:
        if future in queue:
            queue.remove(future)
        if not queue and _waiting.get(order_id) is queue:
            del _waiting[order_id]


def _wake(order_id: str) -> None:
    queue = _waiting.get(order_id)
    while queue:
        future = queue.popleft()
        if not future.done():
            future.set_result(None)
            return


RELEASED: Row = {"lock_token": None, "locked_until": None}
"""Order values that release the lock within the block's last UPDATE of the order.

Only for an UPDATE after which the block neither commits nor calls out; the block's exit
then skips its own release statement.
"""


def lease_seconds(settings: Settings) -> float:
    """How long the lock (and a callout's lease) lasts: ``KASSA_CALLOUT_LEASE_SECONDS``, by
    default ``3 × callout_timeout + 10``, never less than ``callout_timeout + 1``."""
    wanted = settings.callout_lease_seconds or settings.callout_timeout * 3 + 10
    return max(wanted, settings.callout_timeout + 1)


def _lock_seconds(ctx: Session) -> float:
    return lease_seconds(ctx.settings)


def _take(ctx: Session, order_id: str, token: str) -> sa.Update:
    """Set our token unless somebody else holds an unexpired lock; returns the fresh row."""
    table = ctx.table("orders")
    stamp = now()
    return (
        table.update()
        .where(
            table.c.id == order_id,
            *ctx.scoped("orders"),
            sa.or_(
                table.c.lock_token.is_(None),
                table.c.lock_token == token,
                table.c.locked_until < stamp,
            ),
        )
        .values(lock_token=token, locked_until=stamp + timedelta(seconds=_lock_seconds(ctx)))
        .returning(*table.c)
    )


async def _try(ctx: Session, order_id: str, token: str) -> Row | None:
    found = (await ctx.conn.execute(_take(ctx, order_id, token))).mappings().first()
    return dict(found) if found is not None else None


async def _order_exists(ctx: Session, order_id: str) -> bool:
    table = ctx.table("orders")
    stmt = sa.select(table.c.id).where(table.c.id == order_id, *ctx.scoped("orders"))
    return (await ctx.conn.execute(stmt)).first() is not None


async def _wait(ctx: Session, order_id: str, token: str) -> Row:
    """Poll until the lock is ours: each attempt is a short transaction of its own, and the
    waits between them (the first one too) are outside any transaction.

    The caller's work so far is committed before the first wait; the attempt that takes
    the lock stays open and continues as the caller's transaction.
    """
    deadline = time.monotonic() + _lock_seconds(ctx)
    delay = 0.01
    while True:
        async with ctx.unit.outside_transaction():
            await _nap(order_id, delay + random.random() * delay)
        delay = min(delay * 1.5, 0.2)
        row = await _try(ctx, order_id, token)
        if row is not None:
            return row
        if not await _order_exists(ctx, order_id):
            raise not_found()
        if time.monotonic() > deadline:
            raise locked("Another request is processing this order; retry later.")


async def _release(ctx: Session, order_id: str, token: str) -> None:
    table = ctx.table("orders")
    await ctx.conn.execute(
        table.update()
        .where(table.c.id == order_id, table.c.lock_token == token)
        .values(lock_token=None, locked_until=None)
    )


async def try_lock(ctx: Session, order_id: str) -> tuple[Row, str] | None:
    """Take the order's lock only if it is free (or expired), without waiting: the row and
    the token to :func:`release` it with, or ``None``. Needs an open transaction."""
    token = new_token(8)
    row = await _try(ctx, order_id, token)
    return (row, token) if row is not None else None


async def release(ctx: Session, order_id: str, token: str) -> None:
    """Give back a lock taken with :func:`try_lock` (in the caller's transaction)."""
    await _release(ctx, order_id, token)
    _wake(order_id)


@asynccontextmanager
async def order_lock(ctx: Session, order_id: str) -> AsyncIterator[Row]:
    """Hold the order's lock for the block and yield the order row read under it.

    Must be entered with a transaction open; on exit the same (or a fresh) transaction is
    open again and carries the release, so the caller's commit publishes both.
    """
    token = new_token(8)
    row = await _try(ctx, order_id, token)
    if row is None:
        row = await _wait(ctx, order_id, token)
    try:
        yield row
    except BaseException:
        # The block's uncommitted work goes; the lock is given back in a step of its own.
        await ctx.unit.abandon()
        try:
            async with ctx.step():
                await _release(ctx, order_id, token)
        finally:
            _wake(order_id)
        raise
    if row.get("lock_token") == token:
        await _release(ctx, order_id, token)
    # The release commits with the caller's transaction, moments from now; a woken waiter's
    # compare-and-set queues behind that write, so it does not miss it.
    _wake(order_id)
