"""The request context: caller, registry, and the unit of work (one transaction a step)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.events.outbox import Events
from kassa.ids import new_id, now
from kassa.jsonapi.errors import ApiError
from kassa.resources.base import Registry, Resource, Row

if TYPE_CHECKING:
    import httpx

    from kassa.auth.principal import Principal
    from kassa.jsonapi.query import Query
    from kassa.settings import Settings
    from kassa.store.db import Database


@dataclass
class Services:
    """Long-lived objects shared by every request of one process."""

    settings: Settings
    db: Database
    registry: Registry
    http: httpx.AsyncClient
    extras: dict[str, Any] = field(default_factory=dict)


class Ctx:
    """One request. Domain code reads and writes through it inside ``step()`` blocks.

    A step is one database transaction. Code that calls out to another server commits
    first (``pause()``), calls, and then continues in a fresh transaction (``resume()``), so
    no transaction stays open across the network.
    """

    def __init__(
        self,
        services: Services,
        principal: Principal,
        base_url: str,
        query: Query | None = None,
    ) -> None:
        self.services = services
        self.settings = services.settings
        self.registry = services.registry
        self.principal = principal
        self.base_url = base_url
        self.query = query
        self.query_error: ApiError | None = None
        """A malformed query string, reported once the caller's permission is known."""
        self._conn: AsyncConnection | None = None
        self._write = True
        self.after_commit: list[Any] = []
        self.events = Events()
        """Webhook events of the open transaction, written to the outbox as it commits."""
        self.notices: dict[tuple[str, str], dict[str, Any]] = {}
        """Members for the ``meta`` of a row's resource object in this response only, by
        ``(type, id)``: what a trigger wants the caller to know (a failed payment callout).
        Domain code records plain values; the serializer places them."""

    # --- transactions -------------------------------------------------------------------

    @property
    def conn(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("no open transaction: use `async with ctx.step()`")
        return self._conn

    @property
    def in_transaction(self) -> bool:
        return self._conn is not None

    async def begin(self, write: bool = True) -> None:
        self._write = write
        self._conn = await self.services.db.connect(write)

    async def commit(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                p = self.principal
                await self.events.flush(conn, p.organization_id, p.mode, self.table("webhooks"))
                await conn.commit()
            finally:
                await self.services.db.close(conn)
            self.events.committed(self.services.extras)

    async def rollback(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            self.events.clear()
            try:
                await conn.rollback()
            finally:
                await self.services.db.close(conn)

    async def pause(self) -> None:
        """Commit what is done so far, before a network call."""
        await self.commit()

    async def resume(self) -> None:
        await self.begin(self._write)

    @asynccontextmanager
    async def step(self, write: bool = True) -> AsyncIterator[None]:
        if self._conn is not None:
            # Nested: already inside a step, reuse it.
            yield
            return
        await self.begin(write)
        try:
            yield
        except BaseException:
            await self.rollback()
            raise
        await self.commit()

    # --- row helpers (tenant-scoped, no access policy) ---------------------------------

    def res(self, type_: str) -> Resource:
        return self.registry[type_]

    def table(self, type_: str) -> sa.Table:
        return self.registry[type_].table

    def tenant(self, table: sa.Table) -> list[sa.ColumnElement[bool]]:
        if "organization_id" not in table.c:
            return []
        return [
            table.c.organization_id == self.principal.organization_id,
            table.c.mode == self.principal.mode,
        ]

    def scoped(self, type_: str) -> list[sa.ColumnElement[bool]]:
        """Organization, mode and (for shared tables) the row type."""
        res = self.registry[type_]
        return [*self.tenant(res.table), *res.base_where()]

    async def get(self, type_: str, id_: str | None, *, for_update: bool = False) -> Row | None:
        if not id_:
            return None
        table = self.table(type_)
        stmt = sa.select(table).where(table.c.id == id_, *self.scoped(type_))
        if for_update and not self.services.db.is_sqlite:
            stmt = stmt.with_for_update()
        row = (await self.conn.execute(stmt)).mappings().first()
        return dict(row) if row else None

    async def select(
        self, type_: str, *where: sa.ColumnElement[bool], order_by: Iterable[Any] = ()
    ) -> list[Row]:
        table = self.table(type_)
        stmt = sa.select(table).where(*self.scoped(type_), *where)
        order = list(order_by) or [table.c.created_at, table.c.id]
        result = await self.conn.execute(stmt.order_by(*order))
        return [dict(r) for r in result.mappings()]

    async def insert(self, type_: str, values: Row) -> Row:
        res = self.registry[type_]
        table = res.table
        stamp = now()
        row: Row = {}
        if res.type_value is not None:
            row["type"] = res.type_value
        for name, default in res.defaults.items():
            row[name] = default() if callable(default) else default
        for name, f in res.fields.items():
            if f.default is not None and name in table.c and name not in row:
                row[name] = f.default
        row.update({k: v for k, v in values.items() if k in table.c})
        row.setdefault("id", new_id())
        row.setdefault("metadata", {}) if "metadata" in table.c else None
        row["created_at"] = stamp
        row["updated_at"] = stamp
        if res.tenant_scoped:
            row["organization_id"] = self.principal.organization_id
            row["mode"] = self.principal.mode
        await self.conn.execute(table.insert().values(**row))
        full = {c.name: None for c in table.c}
        full.update(row)
        self.events.inserted(type_, full)
        return full

    async def update(
        self, type_: str, id_: str, values: Row, *where: sa.ColumnElement[bool]
    ) -> int:
        """Update one row; extra ``where`` clauses make it a compare-and-set."""
        table = self.table(type_)
        clean = {k: v for k, v in values.items() if k in table.c}
        clean["updated_at"] = now()
        stmt = table.update().where(table.c.id == id_, *self.scoped(type_), *where)
        result = await self.conn.execute(stmt.values(**clean))
        if result.rowcount:
            self.events.updated(type_, id_, clean)
        return int(result.rowcount or 0)

    async def delete(self, type_: str, id_: str) -> int:
        table = self.table(type_)
        result = await self.conn.execute(
            table.delete().where(table.c.id == id_, *self.scoped(type_))
        )
        if result.rowcount:
            self.events.deleted(type_, id_)
        return int(result.rowcount or 0)
