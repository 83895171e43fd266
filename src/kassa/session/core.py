"""One unit of work as domain code sees it: caller, services, transactions and rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.events.outbox import Events
from kassa.ids import new_id, now
from kassa.session.kinds import Catalog
from kassa.session.rows import Row
from kassa.store.shapes import row_by_id, shape
from kassa.store.unit import UnitOfWork

if TYPE_CHECKING:
    import httpx

    from kassa.auth.principal import Principal
    from kassa.settings import Settings
    from kassa.store.db import Database


@dataclass
class Services:
    """Long-lived objects shared by every request of one process."""

    settings: Settings
    db: Database
    registry: Catalog
    http: httpx.AsyncClient
    extras: dict[str, Any] = field(default_factory=dict)

    async def document(
        self, session: Session, type_: str, row: Row, includes: Sequence[str]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A row as the API shows it to an integration (resource object, included ones).

        Gateway callouts send it; the API layer supplies the serializer by overriding this.
        """
        raise NotImplementedError("the API layer renders documents")

    async def visible_row(self, session: Session, type_: str, id_: object) -> Row | None:
        """The row ``session``'s caller names by id, if its access policy lets it read it
        (an id of someone else's row is just unknown). The API layer supplies the policy."""
        raise NotImplementedError("the API layer applies the access policy")


class Session:
    """Domain code reads and writes through it inside ``step()`` blocks.

    Its transactions belong to its :class:`~kassa.store.unit.UnitOfWork` (``unit``): a step
    is one transaction, and a gateway callout runs in the unit's ``outside_transaction()``
    block, so no transaction stays open across the network.
    """

    def __init__(
        self,
        services: Services,
        principal: Principal,
        base_url: str,
        *,
        unit: UnitOfWork | None = None,
    ) -> None:
        self.services = services
        self.settings = services.settings
        self.catalog: Catalog = services.registry
        self.principal = principal
        self.base_url = base_url
        """Where the API is served (links in rendered documents)."""
        self.after_commit: list[Any] = []
        self.events = Events()
        """Webhook events of the open transaction, written to the outbox as it commits."""
        self.notices: dict[tuple[str, str], dict[str, Any]] = {}
        """Members for the ``meta`` of a row's resource object in this response only, by
        ``(type, id)``: what a trigger wants the caller to know (a failed payment callout).
        Domain code records plain values; the serializer places them."""
        self.unit = unit or UnitOfWork(
            services.db,
            before_commit=self._flush_events,
            after_commit=self._events_committed,
            after_rollback=self.events.clear,
        )
        """The transactions: pass ``unit`` to share another session's (same connection)."""

    # --- transactions -------------------------------------------------------------------

    @property
    def conn(self) -> AsyncConnection:
        return self.unit.conn

    @property
    def in_transaction(self) -> bool:
        return self.unit.in_transaction

    def step(self, write: bool = True) -> AbstractAsyncContextManager[None]:
        """One transaction (see :meth:`UnitOfWork.step`)."""
        return self.unit.step(write)

    async def _flush_events(self, conn: AsyncConnection) -> None:
        p = self.principal
        await self.events.flush(conn, p.organization_id, p.mode, self.table("webhooks"))

    def _events_committed(self) -> None:
        self.events.committed(self.services.extras)

    # --- row helpers (tenant-scoped, no access policy) ---------------------------------

    def table(self, type_: str) -> sa.Table:
        return self.catalog[type_].table

    def tenant(self, table: sa.Table) -> list[sa.ColumnElement[bool]]:
        if "organization_id" not in table.c:
            return []
        p = self.principal
        return list(
            shape(
                ("tenant", table, p.organization_id, p.mode),
                lambda: (table.c.organization_id == p.organization_id, table.c.mode == p.mode),
            )
        )

    def scoped(self, type_: str) -> list[sa.ColumnElement[bool]]:
        """Organization, mode and (for shared tables) the row type."""
        kind = self.catalog[type_]
        return [*self.tenant(kind.table), *kind.base_where()]

    async def get(self, type_: str, id_: str | None, *, for_update: bool = False) -> Row | None:
        if not id_:
            return None
        kind = self.catalog[type_]
        table = kind.table
        lock = for_update and not self.services.db.is_sqlite
        key = ("get", type_, table, lock)
        stmt = shape(key, lambda: row_by_id(table, kind.base_where(), lock))
        p = self.principal
        params = {"id": id_, "organization_id": p.organization_id, "mode": p.mode}
        rows = await self.services.db.rows(self.conn, stmt, params)
        return rows[0] if rows else None

    async def select(
        self, type_: str, *where: sa.ColumnElement[bool], order_by: Iterable[Any] = ()
    ) -> list[Row]:
        table = self.table(type_)
        stmt = sa.select(table).where(*self.scoped(type_), *where)
        order = list(order_by) or [table.c.created_at, table.c.id]
        return await self.services.db.rows(self.conn, stmt.order_by(*order))

    async def insert(self, type_: str, values: Row) -> Row:
        kind = self.catalog[type_]
        table = kind.table
        stamp = now()
        row: Row = {}
        if kind.type_value is not None:
            row["type"] = kind.type_value
        for name, default in kind.defaults.items():
            row[name] = default() if callable(default) else default
        for name, f in kind.fields.items():
            if f.default is not None and name in table.c and name not in row:
                row[name] = f.default
        row.update({k: v for k, v in values.items() if k in table.c})
        row.setdefault("id", new_id())
        row.setdefault("metadata", {}) if "metadata" in table.c else None
        row["created_at"] = stamp
        row["updated_at"] = stamp
        if kind.tenant_scoped:
            row["organization_id"] = self.principal.organization_id
            row["mode"] = self.principal.mode
        # The statement is built once per table; the row goes as parameters, not as
        # ``.values()``, which coerced every value into an expression on each call.
        if any(isinstance(v, sa.ClauseElement) for v in row.values()):
            await self.conn.execute(table.insert().values(**row))
        else:
            await self.conn.execute(shape(("insert", table), table.insert), row)
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
        if any(isinstance(v, sa.ClauseElement) for v in clean.values()):
            result = await self.conn.execute(stmt.values(**clean))  # e.g. quantity - 1
        else:
            result = await self.conn.execute(stmt, clean)  # the SET columns are the keys
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
