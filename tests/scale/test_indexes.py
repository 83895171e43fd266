"""Every filter and sort the contract declares on a big table has an index serving it.

The declarations are checked without a server (registry and metadata); the migration is
checked against them on a fresh database of each backend; on PostgreSQL, ``EXPLAIN`` shows
the planner using those indexes for the predicates the filter compiler writes.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from kassa.auth.principal import Principal
from kassa.engine.filters import Caller, compile_filter
from kassa.resources.base import Registry, Resource
from kassa.resources.registry import build_registry
from kassa.resources.tables import FREE_TEXT
from kassa.store.migrate import run_on, upgrade
from tests.support import create_postgres_database, drop_postgres_database, postgres_reachable

BIG = (
    "orders",
    "line_items",
    "customers",
    "transactions",
    "customer_payment_sources",
    "stock_items",
    "skus",
    "prices",
)
# The string columns shoppers and admins search with _cont/_start/_end.
SEARCHED = {
    "orders": {"number", "customer_email", "reference"},
    "line_items": {"sku_code", "name"},
    "customers": {"email", "reference"},
    "transactions": {"number"},
    "customer_payment_sources": {"name"},
    "skus": {"code", "name"},
}


@pytest.fixture(scope="module")
def registry() -> Registry:
    return build_registry()


def declared(res: Resource, parts: list[Resource]) -> list[str]:
    """The filterable or sortable stored attributes of a table (its own and shared ones)."""
    names: list[str] = []
    for part in parts:
        for name, f in part.fields.items():
            if (f.filterable or f.sortable) and name in res.table.c and name not in names:
                names.append(name)
    return names


def parts_of(registry: Registry, res: Resource) -> list[Resource]:
    return [res, *(r for r in registry.by_type.values() if r.table_name == res.type)]


def is_postgres_only(index: sa.Index) -> bool:
    return index._ddl_if is not None and index._ddl_if.dialect == "postgresql"


def serving(res: Resource, name: str) -> list[sa.Index]:
    """The indexes of ``res`` that serve filters and sorts on ``name``."""
    out = []
    for index in res.table.indexes:
        cols = [c.name for c in index.columns]
        using = index.dialect_options["postgresql"]["using"]
        btree = cols[:3] == ["organization_id", "mode", name] and not using
        gin = cols == [name] and using == "gin" and is_postgres_only(index)
        if btree or gin:
            out.append(index)
    return out


@pytest.mark.parametrize("type_", BIG)
def test_every_declared_filter_and_sort_has_an_index(registry: Registry, type_: str) -> None:
    res = registry[type_]
    assert res.list_indexes, f"{type_} is a big table: declare list_indexes=True"
    missing = []
    for name in declared(res, parts_of(registry, res)):
        if name == "id":
            assert res.table.c.id.primary_key
            continue
        if name in FREE_TEXT:
            continue  # documented: too long to index (kassa.resources.tables.FREE_TEXT)
        found = serving(res, name)
        if isinstance(res.table.c[name].type, sa.JSON):
            ok = any(
                i.dialect_options["postgresql"]["ops"] == {name: "jsonb_path_ops"} for i in found
            )
        else:
            # Led by organization and mode, with the id tie-breaker: the sort is served too.
            ok = any(
                [c.name for c in i.columns] == ["organization_id", "mode", name, "id"]
                for i in found
            )
        if not ok:
            missing.append(name)
    assert not missing, f"{type_}: no index serves {missing}"


def test_free_text_exemptions_stay_few() -> None:
    """Only long free text goes unindexed; anything else needs an index."""
    assert frozenset({"description", "image_url", "message", "error_detail"}) == FREE_TEXT


@pytest.mark.parametrize("type_", sorted(SEARCHED))
def test_searched_columns_have_trigram_indexes(registry: Registry, type_: str) -> None:
    res = registry[type_]
    trigram = {
        i.columns[0].name
        for i in res.table.indexes
        if is_postgres_only(i)
        and i.dialect_options["postgresql"]["ops"] == {i.columns[0].name: "gin_trgm_ops"}
    }
    assert SEARCHED[type_] <= trigram, f"{type_}: no trigram index on {SEARCHED[type_] - trigram}"


def test_the_default_created_at_index_is_not_doubled(registry: Registry) -> None:
    for type_ in BIG:
        cols = [tuple(c.name for c in i.columns) for i in registry[type_].table.indexes]
        assert ("organization_id", "mode", "created_at") not in cols
        assert ("organization_id", "mode", "created_at", "id") in cols


# --- the migration creates exactly what the declarations say ------------------------------


def _migrated(url: str) -> dict[str, dict[str, Any]]:
    """Migrate a fresh database; its indexes per table: name -> (columns, definition)."""
    upgrade(url)

    def read(conn: sa.Connection) -> dict[str, dict[str, Any]]:
        inspector = sa.inspect(conn)
        out: dict[str, dict[str, Any]] = {}
        for table in BIG:
            out[table] = {i["name"]: i for i in inspector.get_indexes(table)}
        if conn.dialect.name == "postgresql":
            rows = conn.execute(
                sa.text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'")
            )
            defs = {name: definition for name, definition in rows}
            for indexes in out.values():
                for name, index in indexes.items():
                    index["definition"] = defs.get(name, "")
        return out

    return run_on(url, read)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def migrated(request: pytest.FixtureRequest) -> Iterator[tuple[str, str, dict[str, Any]]]:
    if request.param == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'kassa.sqlite3'}"
            yield "sqlite", url, _migrated(url)
        return
    if not postgres_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is not reachable and CI=true")
        pytest.skip("PostgreSQL is not reachable")
    url = create_postgres_database()
    try:
        yield "postgres", url, _migrated(url)
    finally:
        drop_postgres_database(url)


def test_the_migration_creates_every_declared_index(
    registry: Registry, migrated: tuple[str, str, dict[str, Any]]
) -> None:
    backend, _url, found = migrated
    for type_ in BIG:
        for index in registry[type_].table.indexes:
            if is_postgres_only(index) and backend != "postgres":
                assert index.name not in found[type_]
                continue
            assert index.name in found[type_], f"the migration lacks {index.name}"
            got = found[type_][index.name]
            assert got["column_names"] == [c.name for c in index.columns], index.name
            if backend == "postgres":
                ops = index.dialect_options["postgresql"]["ops"] or {}
                for opclass in ops.values():
                    assert opclass in got["definition"], (index.name, got["definition"])
        names = {i.name for i in registry[type_].table.indexes}
        extra = {n for n in found[type_] if n.startswith(f"ix_{type_}_") and n not in names}
        assert not extra, f"{type_}: the migration has undeclared indexes {extra}"


# --- PostgreSQL: the planner uses them for the SQL the filter compiler writes ---------------

ADMIN = Principal("ORG", "org", "test", "APP", "integration")


def _where(registry: Registry, type_: str, **filters: str) -> list[sa.ColumnElement[bool]]:
    res = registry[type_]
    caller = Caller(ADMIN, lambda t: [])
    scoped = [res.table.c.organization_id == "ORG", res.table.c.mode == "test"]
    return scoped + [
        compile_filter(registry, res, key, value, True, caller) for key, value in filters.items()
    ]


# Enough rows, with realistic spreads, for the planner's statistics to tell indexes apart.
_FILL = [
    """INSERT INTO orders (id, organization_id, mode, created_at, updated_at, number, status,
                           customer_email, metadata)
    SELECT 'o' || n, 'ORG', 'test', now() - n * interval '1 minute',
           now() - n * interval '1 second', n::text,
           (ARRAY['draft', 'placed', 'placed', 'approved'])[1 + n % 4],
           'shopper' || (n % 500) || '@example.com', jsonb_build_object('a', n)
    FROM generate_series(1, 20000) AS n""",
    """INSERT INTO customers (id, organization_id, mode, created_at, updated_at, email, status)
    SELECT 'c' || n, 'ORG', 'test', now(), now(), 'shopper' || n || '@example.com', 'prospect'
    FROM generate_series(1, 20000) AS n""",
    "ANALYZE orders",
    "ANALYZE customers",
    "SET enable_seqscan = off",
    "SET enable_sort = off",
]


def _plans(url: str, stmts: list[sa.Select[Any]]) -> list[str]:
    """EXPLAIN each statement (bound values inlined) in a transaction that is rolled back."""

    async def main() -> list[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                for sql in _FILL:
                    await conn.execute(sa.text(sql))
                out = []
                for stmt in stmts:
                    sql = stmt.compile(conn.sync_engine, compile_kwargs={"literal_binds": True})
                    rows = await conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}")
                    out.append(json.dumps(rows.scalar_one()))
                await conn.rollback()
                return out
        finally:
            await engine.dispose()

    return asyncio.run(main())


@pytest.mark.parametrize("migrated", ["postgres"], indirect=True)  # EXPLAIN is PostgreSQL's
def test_postgres_plans_use_the_indexes(
    registry: Registry, migrated: tuple[str, str, dict[str, Any]]
) -> None:
    backend, url, _found = migrated
    assert backend == "postgres"
    orders = registry["orders"].table
    customers = registry["customers"].table
    cases = [
        (orders, _where(registry, "orders", customer_email_eq="a@b.c"), (), "list_customer_email"),
        (orders, _where(registry, "orders", number_eq="12345"), (), "list_number"),
        (
            orders,
            _where(registry, "orders", customer_email_cont="smith"),
            (),
            "trgm_customer_email",
        ),
        (orders, _where(registry, "orders", number_start="1234"), (), "trgm_number"),
        (orders, _where(registry, "orders", metadata_jcont='{"a": 1234}'), (), "gin_metadata"),
        (
            orders,
            _where(registry, "orders"),
            (orders.c.updated_at.desc(), orders.c.id.desc()),
            "list_updated_at",
        ),
        (
            orders,
            _where(registry, "orders", status_eq="placed"),
            (orders.c.created_at.desc(), orders.c.id.desc()),
            "ix_orders_list_",
        ),
        (customers, _where(registry, "customers", email_cont="smith"), (), "trgm_email"),
    ]
    stmts = [
        sa.select(table.c.id).where(*where).order_by(*order).limit(25)
        for table, where, order, _ in cases
    ]
    for (_t, _w, _o, index), shown in zip(cases, _plans(url, stmts), strict=True):
        assert index in shown, (index, json.dumps(json.loads(shown), indent=1))
        assert "Seq Scan" not in shown and '"Sort"' not in shown, shown
