"""The fast read path gives exactly the rows SQLAlchemy gives, for every shape Kassa reads."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.conftest import _backends
from tests.support import create_postgres_database, drop_postgres_database

from kassa.engine.counting import bounded_count
from kassa.resources.registry import build_registry
from kassa.store.db import Database, statement_count
from kassa.store.migrate import upgrade


def _orders(n: int) -> list[dict[str, Any]]:
    stamp = datetime(2026, 11, 30, 12, 0, 0, 123456)  # naive UTC, as Kassa stores
    return [
        {
            "id": f"ord{i:03d}",
            "organization_id": "org",
            "mode": "test",
            "created_at": stamp,
            "updated_at": stamp,
            "status": "placed" if i % 3 else "draft",
            "guest": bool(i % 2),
            "tax_rate": 0.25 if i % 4 else None,
            "total_amount_cents": 1000 + i,
            "metadata": {"n": i, "nested": ["é", None, True]},
            "payment_source_details": None if i % 5 else {"brand": "visa"},
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("backend", _backends())
def test_fast_rows_equal_sqlalchemy_rows(backend: str, tmp_path: Path) -> None:
    """SQLite: against the thread driver through SQLAlchemy; PostgreSQL: against
    SQLAlchemy's own execution on the same kind of connection."""
    if backend == "postgres":
        url = create_postgres_database()
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'k.sqlite3'}"
    try:
        upgrade(url)
        _compare(url, backend == "postgres")
    finally:
        if backend == "postgres":
            drop_postgres_database(url)


def _compare(url: str, postgres: bool) -> None:
    orders = build_registry()["orders"].table
    full = {c.name: None for c in orders.c}

    statements: list[tuple[sa.Select[Any], dict[str, Any] | None]] = [
        (sa.select(orders).order_by(orders.c.id), None),
        (sa.select(orders).where(orders.c.id == "ord007"), None),
        (sa.select(orders).where(orders.c.id.in_(["ord001", "ord002", "nope"])), None),
        (sa.select(orders).where(orders.c.id.in_(["ord009"])), None),
        (sa.select(orders).where(orders.c.status == "placed", orders.c.guest.is_(True)), None),
        (sa.select(orders).where(orders.c.created_at <= datetime(2027, 1, 1)).limit(5), None),
        (sa.select(orders).order_by(orders.c.total_amount_cents.desc()).limit(3).offset(2), None),
        (sa.select(orders).where(orders.c.id == sa.bindparam("id")), {"id": "ord004"}),
        (sa.select(orders.c.id, orders.c.metadata).where(orders.c.tax_rate.is_(None)), None),
        (bounded_count(orders, [orders.c.status == "placed"], 10), None),
        (bounded_count(orders, [orders.c.status == "placed"], 100), None),
    ]

    async def main() -> list[tuple[list[dict[str, Any]], list[dict[str, Any]], int]]:
        fast = Database(url)
        slow = Database(url, sqlite_driver="thread")
        assert fast.inline != postgres and not slow.inline
        async with slow.engine.begin() as conn:
            await conn.execute(orders.insert(), [{**full, **o} for o in _orders(40)])
        out = []
        for stmt, params in statements:
            a = await fast.connect(False)
            counter = [0]
            token = statement_count.set(counter)
            try:
                got = await fast.rows(a, stmt, params)
            finally:
                statement_count.reset(token)
            await fast.close(a)
            b = await slow.connect(False)
            # The reference: SQLAlchemy executing the statement itself.
            want = [dict(r) for r in (await b.execute(stmt, params)).mappings()]
            await slow.close(b)
            out.append((got, want, counter[0]))
        await fast.dispose()
        await slow.dispose()
        return out

    results = asyncio.run(main())
    for (stmt, _), (got, want, counted) in zip(statements, results, strict=True):
        assert got == want, str(stmt)
        assert [type(v) for r in got for v in r.values()] == [
            type(v) for r in want for v in r.values()
        ]
        assert counted == 1, "a fast read counts as one statement"
    assert any(results[0][0]) and results[0][0][0]["metadata"]["nested"] == ["é", None, True]
    # The bounded count stops one past its limit: more than 10 placed; exactly 26 of 40.
    assert results[9][0] == [{"n": 11}] and results[10][0] == [{"n": 26}]
