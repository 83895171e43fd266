"""Apply the Alembic migrations shipped inside the package."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _ensure_dir(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def run_on(url: str, read: Callable[[Connection], T]) -> T:
    """Run ``read`` with a synchronous connection to the database at ``url``."""

    async def main() -> T:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(read)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def current_heads(url: str) -> tuple[str, ...]:
    """The revisions the database is at (empty for a database never migrated)."""
    return run_on(url, lambda conn: tuple(MigrationContext.configure(conn).get_current_heads()))


def upgrade(url: str) -> list[tuple[str, str]]:
    """Migrate to the newest revision; returns the ``(revision, message)`` pairs applied,
    oldest first (empty when the database was up to date)."""
    _ensure_dir(url)
    cfg = alembic_config(url)
    before = current_heads(url)
    command.upgrade(cfg, "head")
    after = current_heads(url)
    if after == before:
        return []
    script = ScriptDirectory.from_config(cfg)
    walked = script.iterate_revisions(after, before or "base")
    applied = [(s.revision, s.doc or "") for s in walked if s.revision not in before]
    return list(reversed(applied))


def pending_revisions(url: str) -> list[tuple[str, str]]:
    """The ``(revision, message)`` pairs :func:`upgrade` would apply, oldest first."""
    _ensure_dir(url)
    before = current_heads(url)
    script = ScriptDirectory.from_config(alembic_config(url))
    walked = list(script.iterate_revisions("heads", before or "base"))
    return [(s.revision, s.doc or "") for s in reversed(walked) if s.revision not in before]


def upgrade_to(url: str, revision: str) -> None:
    """Migrate up to ``revision`` (one step at a time, for progress output)."""
    _ensure_dir(url)
    command.upgrade(alembic_config(url), revision)


def revision(url: str, message: str) -> None:
    command.revision(alembic_config(url), message=message, autogenerate=True)
