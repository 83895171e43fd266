"""A per-order lock held across a gateway callout, stored on the order row.

Payment triggers (place, authorize, capture, void, refund, wallet save) take it with a
compare-and-set UPDATE, so across processes and hosts exactly one request works on an
order's money at a time; the others wait, then see the finished state (and, for the
idempotent triggers, answer without calling the gateway again).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import sqlalchemy as sa

from kassa.engine.context import Ctx
from kassa.ids import new_token, now
from kassa.jsonapi.errors import ApiError


def _lock_seconds(ctx: Ctx) -> float:
    return ctx.settings.callout_timeout * 3 + 10


async def acquire(ctx: Ctx, order_id: str) -> str:
    table = ctx.table("orders")
    token = new_token(8)
    hold = _lock_seconds(ctx)
    deadline = time.monotonic() + hold
    delay = 0.01
    while True:
        stamp = now()
        stmt = (
            table.update()
            .where(
                table.c.id == order_id,
                sa.or_(table.c.lock_token.is_(None), table.c.locked_until < stamp),
            )
            .values(lock_token=token, locked_until=stamp + timedelta(seconds=hold))
        )
        async with ctx.services.db.engine.begin() as conn:
            got = (await conn.execute(stmt)).rowcount
        if got:
            return token
        if time.monotonic() > deadline:
            raise ApiError.of(
                423, "LOCKED", "Locked", "Another request is processing this order; retry later."
            )
        await asyncio.sleep(delay + random.random() * delay)
        delay = min(delay * 1.5, 0.2)


async def release(ctx: Ctx, order_id: str, token: str) -> None:
    table = ctx.table("orders")
    async with ctx.services.db.engine.begin() as conn:
        await conn.execute(
            table.update()
            .where(table.c.id == order_id, table.c.lock_token == token)
            .values(lock_token=None, locked_until=None)
        )


@asynccontextmanager
async def order_lock(ctx: Ctx, order_id: str) -> AsyncIterator[None]:
    """Hold the order's lock for the block; what the block did is committed before release."""
    await ctx.pause()
    token = await acquire(ctx, order_id)
    try:
        await ctx.resume()
        yield
        await ctx.commit()
    finally:
        await ctx.rollback()
        await release(ctx, order_id, token)
        await ctx.resume()
