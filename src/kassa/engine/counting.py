"""``meta.record_count`` without counting a million rows.

The rule: a list counts its matches exactly up to a threshold (``KASSA_EXACT_COUNT_LIMIT``,
10,000 by default) with ``SELECT count(*) FROM (SELECT 1 … LIMIT threshold + 1)``, so the
count never reads more than ``threshold + 1`` rows. When the bound is reached the count is
an estimate: on PostgreSQL the planner's row estimate for the whole match (``EXPLAIN``, no
row is read), on SQLite ``threshold + 1`` itself. An estimate is never below ``threshold +
1`` nor below the rows a page has shown to exist, and the last page of a numbered list knows
the exact count again. ``meta`` then carries
``record_count_estimated: true`` (a Kassa extension) and ``page_count`` and the ``last``
link follow the estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable

from kassa.store.fast import Rows


@dataclass(frozen=True)
class Count:
    total: int
    estimated: bool = False

    def seen(self, offset: int, shown: int, more: bool) -> Count:
        """An estimate corrected by a page: ``shown`` rows after ``offset`` and whether
        another row follows. The last page of a list makes the count exact again."""
        if not self.estimated:
            return self
        if shown and not more:
            return Count(offset + shown)
        return Count(max(self.total, offset + shown + more), True)


class _Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON) <select>``, with the select's bound parameters kept."""

    inherit_cache = False

    def __init__(self, select: sa.Select[Any]) -> None:
        self.select = select


@compiles(_Explain, "postgresql")
def _explain_sql(element: _Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + str(compiler.process(element.select, **kw))


def bounded_count(table: sa.Table, where: list[sa.ColumnElement[bool]], limit: int) -> Any:
    """``SELECT count(*) FROM (SELECT 1 FROM table WHERE … LIMIT limit + 1)``."""
    inner: sa.Select[Any] = (
        sa.select(sa.literal_column("1")).select_from(table).where(*where).limit(limit + 1)
    )
    return sa.select(sa.func.count().label("n")).select_from(inner.subquery())


async def _planner_rows(conn: AsyncConnection, stmt: sa.Select[Any]) -> int:
    raw = (await conn.execute(_Explain(stmt))).scalar_one()
    plan = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
    return int(plan[0]["Plan"]["Plan Rows"])


async def count_matches(
    conn: AsyncConnection,
    table: sa.Table,
    where: list[sa.ColumnElement[bool]],
    limit: int,
    is_pg: bool,
    rows: Rows | None = None,
) -> Count:
    """The matches of ``where`` in ``table``: exact up to ``limit``, else an estimate."""
    stmt = bounded_count(table, where, limit)
    if rows is None:
        found = int((await conn.execute(stmt)).scalar_one())
    else:
        found = int(next(iter((await rows(conn, stmt))[0].values())))
    if found <= limit:
        return Count(found)
    if not is_pg:
        return Count(found, True)
    everything: sa.Select[Any] = sa.select(sa.literal_column("1")).select_from(table).where(*where)
    return Count(max(found, await _planner_rows(conn, everything)), True)
