"""Statements built once per shape, run with new values each time.

Building a SQLAlchemy statement costs more than running it on SQLite: a primary-key
lookup of an order built per call took about 390 µs of CPU, the same statement built once
with bound parameters and run with a new value 160 µs, and the query itself 50 µs (measured
on the 2-core bench machine; README, "Where the time goes"). The hottest shapes (a row by
id in the caller's organization and mode, the token check, a caller's tenant and row-scope
clauses) are therefore built here once, keyed by what decides them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa

S = TypeVar("S")

MAX_SHAPES = 8192
_built: dict[Hashable, object] = {}


def shape(key: Hashable, build: Callable[[], S]) -> S:
    """The statement for ``key``, built by ``build()`` the first time it is asked for.

    ``key`` must name everything the result depends on (tables are hashed by identity).
    Results are immutable SQLAlchemy elements (statements, clause tuples), shared by every
    request of the process; values that differ per call are bound parameters, or part of
    the key (a caller's organization and mode, its whole principal for row scopes).
    """
    found = _built.get(key)
    if found is None:
        if len(_built) >= MAX_SHAPES:
            _built.clear()  # keys may name callers: bounded, rebuilt on demand
        found = _built[key] = build()
    return found  # type: ignore[return-value]


def row_by_id(
    table: sa.Table, extra: Sequence[sa.ColumnElement[bool]], lock: bool
) -> sa.Select[Any]:
    """``SELECT * FROM table WHERE id = :id`` in ``:organization_id`` and ``:mode`` (when the
    table has them), with ``extra`` constant clauses (a shared table's row type), and
    ``FOR UPDATE`` when ``lock``. Parameters: ``id``, ``organization_id``, ``mode``."""
    where = [table.c.id == sa.bindparam("id")]
    if "organization_id" in table.c:
        where.append(table.c.organization_id == sa.bindparam("organization_id"))
        where.append(table.c.mode == sa.bindparam("mode"))
    stmt = sa.select(table).where(*where, *extra)
    return stmt.with_for_update() if lock else stmt
