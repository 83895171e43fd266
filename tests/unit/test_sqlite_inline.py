"""The inline SQLite driver: waits for another process's write lock without blocking the
event loop, gives up after its busy timeout, and refreshes the planner's statistics."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from kassa.store.db import Database
from kassa.store.migrate import upgrade


def _url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _other_process_writer(path: Path) -> sqlite3.Connection:
    """Another connection (as another process would) holding SQLite's write lock."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("BEGIN IMMEDIATE")
    return other


def test_a_held_write_lock_is_waited_for_on_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "k.sqlite3"
    sqlite3.connect(path).execute("CREATE TABLE t (x INTEGER)").connection.commit()
    other = _other_process_writer(path)

    async def main() -> tuple[int, float]:
        database = Database(_url(path))
        assert database.inline
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        async def release_later() -> None:
            await asyncio.sleep(0.3)
            other.execute("INSERT INTO t VALUES (1)")
            other.execute("COMMIT")

        running = asyncio.create_task(ticker())
        releasing = asyncio.create_task(release_later())
        started = time.monotonic()
        conn = await database.connect(write=True)  # BEGIN IMMEDIATE waits here
        waited = time.monotonic() - started
        await conn.execute(sa.text("INSERT INTO t VALUES (2)"))
        await conn.commit()
        await database.close(conn)
        await releasing
        running.cancel()
        seen = ticks
        async with database.engine.connect() as check:
            count = (await check.execute(sa.text("SELECT count(*) FROM t"))).scalar_one()
        await database.dispose()
        assert seen >= 10, "the event loop was blocked while waiting for the lock"
        return int(count), waited

    count, waited = asyncio.run(main())
    assert count == 2
    assert waited >= 0.25


def test_a_lock_held_past_the_busy_timeout_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "k.sqlite3"
    sqlite3.connect(path).execute("CREATE TABLE t (x INTEGER)").connection.commit()
    other = _other_process_writer(path)

    async def main() -> None:
        database = Database(_url(path), busy_timeout=0.2)
        with pytest.raises(sa.exc.OperationalError, match="locked"):
            await database.connect(write=True)
        await database.dispose()

    try:
        started = time.monotonic()
        asyncio.run(main())
        assert 0.15 <= time.monotonic() - started < 5
    finally:
        other.execute("ROLLBACK")


def test_statistics_are_refreshed_so_a_price_is_found_by_its_sku(tmp_path: Path) -> None:
    """Without statistics SQLite read the market's whole price list to price one SKU."""
    path = tmp_path / "k.sqlite3"
    upgrade(_url(path))
    raw = sqlite3.connect(path)
    raw.executemany(
        "INSERT INTO prices (id, organization_id, mode, created_at, updated_at, sku_id,"
        " price_list_id, currency_code, amount_cents, metadata)"
        " VALUES (?, 'org', 'test', '2026-01-01', '2026-01-01', ?, 'pl', 'EUR', 100, '{}')",
        [(f"p{n}", f"sku{n}") for n in range(300)],
    )
    raw.commit()
    lookup = (
        "EXPLAIN QUERY PLAN SELECT id FROM prices WHERE organization_id = 'org'"
        " AND mode = 'test' AND sku_id IN ('sku7') ORDER BY created_at, id"
    )

    def plan() -> str:
        return " ".join(str(row[3]) for row in sqlite3.connect(path).execute(lookup))

    assert "ix_prices_sku_id" not in plan()

    async def main() -> None:
        database = Database(_url(path))
        conn = await database.connect(write=True)
        await conn.execute(sa.text("SELECT id FROM prices WHERE sku_id = 'sku7'"))
        await conn.commit()
        database._next_optimize = 0.0  # due now (normally 5 s after start)
        await database.close(conn)
        await database.dispose()

    asyncio.run(main())
    assert "ix_prices_sku_id" in plan()


def test_a_many_row_insert_waits_for_the_lock_too(tmp_path: Path) -> None:
    """``executemany`` (bulk inserts) queues and waits like a single statement."""
    path = tmp_path / "k.sqlite3"
    sqlite3.connect(path).execute("CREATE TABLE t (x INTEGER)").connection.commit()
    other = _other_process_writer(path)

    async def main() -> int:
        database = Database(_url(path))

        async def release_later() -> None:
            await asyncio.sleep(0.2)
            other.execute("COMMIT")

        releasing = asyncio.create_task(release_later())
        async with database.engine.begin() as conn:  # a deferred transaction, as seeding uses
            await conn.execute(sa.text("INSERT INTO t VALUES (:x)"), [{"x": n} for n in range(5)])
        await releasing
        async with database.engine.connect() as check:
            count = (await check.execute(sa.text("SELECT count(*) FROM t"))).scalar_one()
        await database.dispose()
        return int(count)

    assert asyncio.run(main()) == 5
