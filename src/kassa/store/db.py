"""The database: one async engine, SQLite (WAL) or PostgreSQL, and a statement counter."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

statement_count: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "statement_count", default=None
)


def sync_url(url: str) -> str:
    """The same database for synchronous tools (Alembic)."""
    return url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg")


class Database:
    def __init__(
        self, url: str, pool_size: int = 10, sqlite_concurrency: int = 2, log_sql: bool = False
    ):
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
            kwargs["pool_size"] = sqlite_concurrency
            kwargs["max_overflow"] = 10
        else:
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = pool_size
            kwargs["pool_pre_ping"] = False
        kwargs["json_serializer"] = _json_dumps
        kwargs["json_deserializer"] = orjson.loads
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        # SQLite runs each connection in a thread of its own; more than a couple of them
        # at once only adds GIL contention (measured in bench/), so requests queue here.
        self._gate = asyncio.Semaphore(sqlite_concurrency) if self.is_sqlite else None
        sync_engine = self.engine.sync_engine
        if self.is_sqlite:
            event.listen(sync_engine, "connect", _sqlite_connect)
            event.listen(sync_engine, "begin", _sqlite_begin)
        event.listen(sync_engine, "before_cursor_execute", _count_statement)
        if log_sql:
            event.listen(sync_engine, "before_cursor_execute", _log_statement)

    async def connect(self, write: bool) -> AsyncConnection:
        """A connection with an open transaction; hand it back with ``close()``."""
        if self._gate is not None:
            await self._gate.acquire()
        try:
            conn = await self.engine.connect()
            try:
                if self.is_sqlite and write:
                    conn = await conn.execution_options(kassa_immediate=True)
                await conn.begin()
            except BaseException:
                await conn.close()
                raise
        except BaseException:
            if self._gate is not None:
                self._gate.release()
            raise
        return conn

    async def close(self, conn: AsyncConnection) -> None:
        try:
            await conn.close()
        finally:
            if self._gate is not None:
                self._gate.release()

    async def dispose(self) -> None:
        await self.engine.dispose()


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    # A write transaction takes the write lock up front: two deferred transactions that both
    # read and then write would otherwise fail with "database is locked" instead of waiting.
    immediate = conn.get_execution_options().get("kassa_immediate")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


_sql_log = logging.getLogger("kassa.sql")


def _log_statement(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
    """One line per statement, with its parameters (``KASSA_SQL_LOG``; tests, benchmarks)."""
    if not _sql_log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("sql: %(message)s"))
        _sql_log.addHandler(handler)
        _sql_log.setLevel(logging.INFO)
        _sql_log.propagate = False
    _sql_log.info("%s | %r", " ".join(statement.split()), parameters)


def _count_statement(*_args: Any) -> None:
    counter = statement_count.get()
    if counter is not None:
        counter[0] += 1
