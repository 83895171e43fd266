"""The unit of work: the one owner of a request's database transactions.

Everything a request (or a background job acting like one) reads and writes goes through
the transaction its :class:`UnitOfWork` holds. Code above the storage layer never begins,
commits or rolls back a transaction itself; it says what it needs by intent:

* :meth:`UnitOfWork.step`: a block that is one transaction (committed on a normal exit,
  rolled back when it raises; a step inside a step is part of the outer one);
* :meth:`UnitOfWork.outside_transaction`: commit what is done, run a block (a gateway
  callout, a wait for another request) with no transaction open, then continue in a
  fresh transaction, so no transaction stays open across the network;
* :meth:`UnitOfWork.commit_and_continue`: keep what is done so far, whatever happens
  next (a recorded decline answered with an error, the autorefresh of a draft before
  its checks), and go on in a fresh transaction;
* :meth:`UnitOfWork.abandon`: drop the open transaction's work (a failed block whose
  clean-up then runs in a step of its own);
* :meth:`UnitOfWork.savepoint`: a part of the transaction that can fail alone.

The transaction's owner hooks in what must happen at its edges (the request context
writes its webhook events to the outbox as a transaction commits).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.store.db import Database

BeforeCommit = Callable[[AsyncConnection], Awaitable[None]]


def _nothing() -> None:
    return None


class UnitOfWork:
    """One transaction at a time on a connection of ``db``; none between steps."""

    def __init__(
        self,
        db: Database,
        *,
        before_commit: BeforeCommit | None = None,
        after_commit: Callable[[], None] = _nothing,
        after_rollback: Callable[[], None] = _nothing,
    ) -> None:
        self.db = db
        self._before_commit = before_commit
        self._after_commit = after_commit
        self._after_rollback = after_rollback
        self._conn: AsyncConnection | None = None
        self._write = True
        """The kind of the open (or else the last) transaction: a write takes the lock early."""

    @property
    def conn(self) -> AsyncConnection:
        """The open transaction's connection."""
        if self._conn is None:
            raise RuntimeError("no open transaction: use `async with ctx.step()`")
        return self._conn

    @property
    def in_transaction(self) -> bool:
        return self._conn is not None

    # --- what callers ask for ----------------------------------------------------------

    @asynccontextmanager
    async def step(self, write: bool = True) -> AsyncIterator[None]:
        """One transaction for the block (the open one when there is one already).

        On exit the transaction open at that moment is committed, or rolled back when the
        block raised: a block that continued in a fresh transaction ends that one.
        """
        if self._conn is not None:
            yield
            return
        await self._open(write)
        try:
            yield
        except BaseException:
            await self._rollback()
            raise
        await self._commit()

    @asynccontextmanager
    async def outside_transaction(self) -> AsyncIterator[None]:
        """Commit what is done, run the block with no transaction open, then continue in a
        fresh transaction of the same kind. When the block raises, nothing is reopened."""
        write = self._write
        await self._commit()
        yield
        await self._open(write)

    async def commit_and_continue(self) -> None:
        """Keep what is done so far, whatever happens next; continue in a fresh transaction."""
        write = self._write
        await self._commit()
        await self._open(write)

    async def abandon(self) -> None:
        """Drop the open transaction's work; afterwards no transaction is open."""
        await self._rollback()

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A part of the open transaction that is undone alone when the block raises."""
        nested = await self.conn.begin_nested()
        try:
            yield
        except BaseException:
            await nested.rollback()
            raise
        await nested.commit()

    # --- the transaction itself --------------------------------------------------------

    async def _open(self, write: bool) -> None:
        self._write = write
        self._conn = await self.db.connect(write)

    async def _commit(self) -> None:
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        try:
            if self._before_commit is not None:
                await self._before_commit(conn)
            await conn.commit()
        finally:
            await self.db.close(conn)
        self._after_commit()

    async def _rollback(self) -> None:
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        self._after_rollback()
        try:
            await conn.rollback()
        finally:
            await self.db.close(conn)
