"""Sequential numbers per organization and mode (market, stock location and order numbers)."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from kassa.session import Session
from kassa.store.schema import order_counters as counters


async def next_number(ctx: Session, name: str, start: int = 1) -> int:
    """Increment-and-read in one statement, so concurrent creates never share a number."""
    p = ctx.principal
    key = [
        counters.c.organization_id == p.organization_id,
        counters.c.mode == p.mode,
        counters.c.name == name,
    ]
    for _ in range(3):
        result = await ctx.conn.execute(
            counters.update()
            .where(*key)
            .values(value=counters.c.value + 1)
            .returning(counters.c.value)
        )
        value = result.scalar_one_or_none()
        if value is not None:
            return int(value)
        try:
            async with ctx.unit.savepoint():
                await ctx.conn.execute(
                    counters.insert().values(
                        organization_id=p.organization_id, mode=p.mode, name=name, value=start
                    )
                )
            return start
        except IntegrityError:
            continue
    raise RuntimeError(f"could not allocate a {name} number")
