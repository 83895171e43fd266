"""Processes starting together on a fresh database agree on one signing key."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from kassa.auth.keys import load_or_create
from kassa.store.db import Database
from kassa.store.schema import signing_keys
from tests.conftest import _backends
from tests.support import create_postgres_database, drop_postgres_database

STARTERS = 6


@pytest.mark.parametrize("backend", _backends())
def test_concurrent_starts_create_one_signing_key(backend: str, tmp_path: Path) -> None:
    if backend == "postgres":
        url = create_postgres_database()
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / f'keys-{secrets.token_hex(2)}.sqlite3'}"
    try:
        subprocess.run(
            [sys.executable, "-m", "kassa", "migrate"],
            env={**os.environ, "KASSA_DATABASE_URL": url},
            check=True,
            capture_output=True,
        )

        async def start_all() -> tuple[set[str], int]:
            # One Database each, as separate processes have: no shared pool or lock.
            dbs = [Database(url) for _ in range(STARTERS)]
            try:
                keys = await asyncio.gather(*(load_or_create(db) for db in dbs))
                async with dbs[0].engine.connect() as conn:
                    rows = (await conn.execute(sa.select(sa.func.count(signing_keys.c.kid)))).one()
                return {k.kid for k in keys}, int(rows[0])
            finally:
                for db in dbs:
                    await db.dispose()

        kids, stored = asyncio.run(start_all())
        assert stored == 1
        assert len(kids) == 1
    finally:
        if backend == "postgres":
            drop_postgres_database(url)
