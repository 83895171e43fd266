"""The webhook migration creates exactly the tables the schema declares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from kassa.resources.registry import build_registry
from kassa.store.migrate import run_on, upgrade
from kassa.store.schema import metadata
from tests.support import drop_postgres_database, new_database

TABLES = {"webhooks", "event_callbacks", "webhook_events"}


def _table_of(diff: Any) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:]:
        if isinstance(part, sa.Table):
            return part.name
        if isinstance(part, sa.Index) and part.table is not None:
            return part.table.name
        if isinstance(part, str) and part in TABLES:
            return part
    return None


def test_migration_matches_schema(backend: str, tmp_path: Path) -> None:
    build_registry()
    url = new_database(backend, tmp_path)
    try:
        upgrade(url)

        def diffs(conn: sa.Connection) -> list[Any]:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return [d for d in compare_metadata(ctx, metadata) if _table_of(d) in TABLES]

        assert run_on(url, diffs) == []
        found = run_on(url, lambda conn: set(sa.inspect(conn).get_table_names()))
        assert found >= TABLES
    finally:
        if backend == "postgres":
            drop_postgres_database(url)
