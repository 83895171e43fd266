"""SQLite run on the event loop's own thread: no thread hand-off per statement.

The stock asyncio driver for SQLite (aiosqlite) runs every connection in a thread of its
own and hands each statement, fetch, commit and close to it and back through the event
loop. For Kassa's short queries on a local file that hand-off costs far more than the work:
the profile of a retrieve with two includes showed about half of all samples in those
threads and in the loop waking up for them (README, "Where the time goes").

This module gives SQLAlchemy's asyncio SQLite dialect a driver with the same async surface
whose methods run the standard library's ``sqlite3`` directly and return at once. A query
on a local file takes microseconds, so running it on the loop's thread is cheaper than any
hand-off. The one thing that could block for long, waiting for another process's write
lock, never blocks here: the connection's ``busy_timeout`` is 0, and a statement refused
with ``SQLITE_BUSY`` is retried after an ``asyncio.sleep`` until ``busy_seconds`` pass, so
the loop keeps serving other requests meanwhile. Writers of one process queue for their
turn on the loop before they reach SQLite (:func:`_write_lock`), so only other processes
ever make a statement wait.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)

SQLITE_BUSY = 5
"""The plain "database is locked" code: worth waiting for. Its extended forms (a stale
snapshot, for one) fail at once, as they did with a busy timeout."""


def _busy(err: sqlite3.OperationalError) -> bool:
    return getattr(err, "sqlite_errorcode", None) == SQLITE_BUSY


class _Cursor:
    """An async face on a ``sqlite3`` cursor; every method finishes before it returns."""

    def __init__(self, conn: _Connection) -> None:
        self._owner = conn
        self._cur = conn.raw.cursor()

    async def __aenter__(self) -> _Cursor:
        return self

    @property
    def description(self) -> Any:
        return self._cur.description

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cur.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cur.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cur.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> _Cursor:
        return await self._run(sql, parameters, many=False)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> _Cursor:
        return await self._run(sql, rows, many=True)

    async def _run(self, sql: str, parameters: Any, *, many: bool) -> _Cursor:
        owner = self._owner
        if not owner.writing and _writes(sql):
            await owner.take_write_lock()
        try:
            return await self._execute(sql, parameters, many)
        finally:
            if owner.writing and not owner.raw.in_transaction:
                owner.drop_write_lock()  # a write outside a transaction, or a failed BEGIN

    async def _execute(self, sql: str, parameters: Any, many: bool) -> _Cursor:
        deadline = 0.0
        pause = 0.0005
        while True:
            try:
                if many:
                    self._cur.executemany(sql, parameters)
                elif parameters is None:
                    self._cur.execute(sql)
                else:
                    self._cur.execute(sql, parameters)
                return self
            except sqlite3.OperationalError as err:
                if not _busy(err) or (many and not self._owner.raw.in_transaction):
                    raise  # outside a transaction, rows before the refusal are already in
                if not deadline:
                    deadline = time.monotonic() + self._owner.busy_seconds
                elif time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.02)

    async def fetchall(self) -> list[Any]:
        return self._cur.fetchall()

    async def fetchone(self) -> Any:
        return self._cur.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cur.fetchmany(size if size is not None else self._cur.arraysize)

    async def close(self) -> None:
        self._cur.close()


class _Connection:
    """What SQLAlchemy's adapter expects of an aiosqlite connection, done synchronously."""

    def __init__(self, raw: sqlite3.Connection, busy_seconds: float, database: str) -> None:
        self.raw = raw
        self._connection: sqlite3.Connection | None = raw  # the adapter checks it is open
        self.busy_seconds = busy_seconds
        self.database = database
        self._lock: asyncio.Lock | None = None
        """This connection's process-wide write turn while it holds it (:func:`_write_lock`)."""

    @property
    def writing(self) -> bool:
        return self._lock is not None

    def cursor(self) -> _Cursor:
        return _Cursor(self)

    async def take_write_lock(self) -> None:
        lock = _write_lock(self.database)
        await lock.acquire()
        self._lock = lock

    def drop_write_lock(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    async def commit(self) -> None:
        try:
            self.raw.commit()
        finally:
            if not self.raw.in_transaction:
                self.drop_write_lock()

    async def rollback(self) -> None:
        try:
            self.raw.rollback()
        finally:
            self.drop_write_lock()

    async def close(self) -> None:
        self.stop()

    async def create_function(self, *args: Any, **kw: Any) -> None:
        self.raw.create_function(*args, **kw)

    def stop(self) -> None:
        if self._connection is not None:
            self._connection = None
            self.drop_write_lock()
            self.raw.close()


_WRITE_LOCKS: dict[tuple[str, int], asyncio.Lock] = {}


def _write_lock(database: str) -> asyncio.Lock:
    """The write turn of one database file in this process (and event loop).

    A connection takes it before its first write (``BEGIN IMMEDIATE``, or a write statement
    in a transaction begun for reading, or on its own) and gives it back when its
    transaction ends. Writers of one process thus queue in order on the event loop instead
    of polling SQLite's lock against each other, where a steady stream of request writes
    could starve a background writer (the webhook worker) for seconds. Only writers in other
    processes are polled for (``_Cursor._execute``).
    """
    key = (database, id(asyncio.get_running_loop()))
    lock = _WRITE_LOCKS.get(key)
    if lock is None:
        lock = _WRITE_LOCKS[key] = asyncio.Lock()
    return lock


_READ_HEADS = ("SELECT", "BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE", "EXPLAIN")


def _writes(sql: str) -> bool:
    """Whether a statement needs the write lock (conservative: unknown kinds do)."""
    head = sql.lstrip()[:24].upper()
    if head.startswith("BEGIN"):
        return "IMMEDIATE" in head or "EXCLUSIVE" in head
    if head.startswith("PRAGMA"):
        return "OPTIMIZE" in head
    return not head.startswith(_READ_HEADS)


class AdaptedConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    @property
    def isolation_level(self) -> str | None:
        return self._connection.raw.isolation_level  # type: ignore[no-any-return]

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._connection.raw.isolation_level = value


class _Driver:
    """Stands in for the ``aiosqlite`` module: its error classes and a ``Connection``."""

    Connection = _Connection
    DatabaseError = sqlite3.DatabaseError
    Error = sqlite3.Error
    IntegrityError = sqlite3.IntegrityError
    NotSupportedError = sqlite3.NotSupportedError
    OperationalError = sqlite3.OperationalError
    ProgrammingError = sqlite3.ProgrammingError
    sqlite_version = sqlite3.sqlite_version
    sqlite_version_info = sqlite3.sqlite_version_info


class _Dbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AdaptedConnection:
        busy_seconds = float(kw.pop("timeout", 30))
        kw["timeout"] = 0  # never wait inside SQLite: _Cursor.execute waits on the loop
        kw["check_same_thread"] = False  # the pool may close it from a finalizer
        raw = sqlite3.connect(*arg, **kw)
        database = str(arg[0] if arg else kw.get("database", ""))
        if database != ":memory:" and not database.startswith("file:"):
            database = os.path.abspath(database)
        else:
            database = f"{database}#{id(raw)}"  # a private database: a lock of its own
        connection = _Connection(raw, busy_seconds, database)
        return AdaptedConnection(self, connection)  # type: ignore[arg-type]


class InlineSQLiteDialect(SQLiteDialect_aiosqlite):
    """``sqlite+aiosqlite`` URLs with the driver above (see :func:`engine_url`)."""

    driver = "kassa_inline"
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> _Dbapi:  # type: ignore[override]
        return _Dbapi(_Driver, sqlite3)  # type: ignore[arg-type]


def register() -> str:
    """Make the dialect known to SQLAlchemy; returns the driver name for URLs."""
    from sqlalchemy.dialects import registry

    registry.register("sqlite.kassa_inline", __name__, "InlineSQLiteDialect")
    return "sqlite+kassa_inline"
