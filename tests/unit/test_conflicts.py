"""Which real database errors count as "try again": the worker retries them, the API answers 423."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from tests.conftest import _backends
from tests.support import create_postgres_database, drop_postgres_database

from kassa.store.conflicts import is_transient

pytestmark = pytest.mark.parametrize("backend", _backends())


async def _deadlock(url: str) -> DBAPIError:
    """Two transactions that lock two rows in opposite orders: the database aborts one."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE pair (id int PRIMARY KEY, n int)"))
            await conn.execute(sa.text("INSERT INTO pair VALUES (1, 0), (2, 0)"))
        both_hold_one = asyncio.Barrier(2)

        async def cross(first: int, second: int) -> None:
            async with engine.begin() as conn:
                await _bump(conn, first)
                await both_hold_one.wait()
                await _bump(conn, second)

        results = await asyncio.gather(cross(1, 2), cross(2, 1), return_exceptions=True)
    finally:
        await engine.dispose()
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1, results  # one was aborted, the other went through
    assert isinstance(errors[0], DBAPIError), errors[0]
    return errors[0]


async def _bump(conn: AsyncConnection, row: int) -> None:
    await conn.execute(sa.text("UPDATE pair SET n = n + 1 WHERE id = :id"), {"id": row})


async def _unique_violation(url: str) -> DBAPIError:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE one (id int PRIMARY KEY)"))
            await conn.execute(sa.text("INSERT INTO one VALUES (1)"))
        with pytest.raises(DBAPIError) as caught:
            async with engine.begin() as conn:
                await conn.execute(sa.text("INSERT INTO one VALUES (1)"))
        return caught.value
    finally:
        await engine.dispose()


async def _locked_out(path: Path) -> DBAPIError:
    """SQLite: another connection holds the write lock past the busy wait."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}", connect_args={"timeout": 0.2})
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE one (id int PRIMARY KEY)"))
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(DBAPIError) as caught:
            async with engine.begin() as conn:
                await conn.execute(sa.text("INSERT INTO one VALUES (1)"))
        return caught.value
    finally:
        holder.close()
        await engine.dispose()


def test_a_conflict_is_transient_and_a_broken_rule_is_not(backend: str, tmp_path: Path) -> None:
    if backend == "postgres":
        url = create_postgres_database()
        try:
            assert is_transient(asyncio.run(_deadlock(url)))
            assert not is_transient(asyncio.run(_unique_violation(url)))
        finally:
            drop_postgres_database(url)
    else:
        assert is_transient(asyncio.run(_locked_out(tmp_path / "locked.sqlite3")))
        url = f"sqlite+aiosqlite:///{tmp_path / 'rules.sqlite3'}"
        assert not is_transient(asyncio.run(_unique_violation(url)))
