"""The tables of the resources, derived from their declarations into the store's metadata."""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa

from kassa.resources.base import Registry, Resource
from kassa.store.schema import JSONType, metadata

_TYPES: dict[str, Any] = {
    "string": sa.String,
    "integer": sa.BigInteger,
    "boolean": sa.Boolean,
    "datetime": sa.DateTime,
    "float": sa.Float,
    "object": JSONType,
    "array": JSONType,
}


FREE_TEXT = frozenset({"description", "image_url", "message", "error_detail"})
"""Filterable text left unindexed: an indexed string is capped at 255 characters
(:data:`kassa.engine.writes.MAX_INDEXED_STRING`) and these legitimately run longer, so a
filter on them scans the organization's rows."""


def list_indexes(table: str, parts: list[Resource], cols: dict[str, sa.Column[Any]]) -> list[Any]:
    """The indexes of a table that grows with the shop (``Resource.list_indexes``).

    Every filterable or sortable column ``c`` gets ``(organization_id, mode, c, id)``: it
    serves the filters on ``c`` and the sort on ``c`` with its ``id`` tie-breaker in either
    direction (so also a keyset seek after a ``page[after]`` cursor). On PostgreSQL a JSON
    column gets a GIN index instead (``_jcont``), and every ``searched`` column a GIN
    trigram index as well (``_cont``/``_start``/``_end``, the ``pg_trgm`` extension); GIN
    indexes hold the column alone, organization and mode are checked on the rows found.
    SQLite has neither: there those predicates scan the organization's rows. The primary
    key serves ``id``; :data:`FREE_TEXT` columns have no index.
    """
    out: list[Any] = []
    done: set[str] = set()
    for part in parts:
        for name, f in part.fields.items():
            if not (f.filterable or f.sortable) or name not in cols or name in done:
                continue
            if name in ("id", "organization_id", "mode") or name in FREE_TEXT:
                continue
            done.add(name)
            if isinstance(cols[name].type, sa.JSON):
                gin = sa.Index(
                    f"ix_{table}_gin_{name}",
                    name,
                    postgresql_using="gin",
                    postgresql_ops={name: "jsonb_path_ops"},
                )
                out.append(gin.ddl_if(dialect="postgresql"))
            else:
                out.append(
                    sa.Index(f"ix_{table}_list_{name}", "organization_id", "mode", name, "id")
                )
    for part in parts:
        for name in part.searched:
            trigram = sa.Index(
                f"ix_{table}_trgm_{name}",
                name,
                postgresql_using="gin",
                postgresql_ops={name: "gin_trgm_ops"},
            )
            out.append(trigram.ddl_if(dialect="postgresql"))
    return out


def build_table(res: Resource, also: list[Resource] | None = None) -> sa.Table:
    """The table of ``res``; ``also`` are declarations that store their rows in it too."""
    cols: list[Any] = [sa.Column("id", sa.String(16), primary_key=True)]
    if res.tenant_scoped:
        cols += [
            sa.Column("organization_id", sa.String(16), nullable=False),
            sa.Column("mode", sa.String(4), nullable=False),
        ]
    cols += [
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    ]
    seen = {"id", "organization_id", "mode", "created_at", "updated_at"}
    for part in [res, *(also or [])]:
        for name, ftype in part.columns.items():
            if name not in seen:
                seen.add(name)
                cols.append(sa.Column(name, _TYPES[ftype], nullable=True))
        for store in part.stores.values():
            if store.kind != "fk":
                continue
            for col in (store.column, store.type_column):
                if col and col not in seen:
                    seen.add(col)
                    cols.append(
                        sa.Column(col, sa.String(32), nullable=True, index=col.endswith("_id"))
                    )
        for extra in part.extra_columns:
            if extra.name not in seen:
                seen.add(extra.name)
                cols.append(extra._copy())
    args: list[Any] = list(cols)
    if res.tenant_scoped and res.list_indexes:
        args += list_indexes(res.type, [res, *(also or [])], {c.name: c for c in cols})
    elif res.tenant_scoped:
        args.append(sa.Index(None, "organization_id", "mode", "created_at"))
    for index in res.indexes:
        args.append(sa.Index(None, *index))
    for unique in res.unique:
        prefix = ("organization_id", "mode") if res.tenant_scoped else ()
        args.append(sa.UniqueConstraint(*prefix, *unique))
    return sa.Table(res.type, metadata, *args)


def build_tables(registry: Registry) -> None:
    sharing: dict[str, list[Resource]] = {}
    for res in registry.by_type.values():
        if res.table_name:
            sharing.setdefault(res.table_name, []).append(res)
    for res in registry.by_type.values():
        if not res.table_name and not res.union_of:
            res.table = build_table(res, sharing.get(res.type))
    for res in registry.by_type.values():
        if res.table_name:
            res.table = registry[res.table_name].table
        elif res.union_of:
            res.table = union_table(res, [registry[t] for t in res.union_of])


def union_table(res: Resource, parts: list[Resource]) -> sa.Table:
    """The rows of ``parts`` as one read-only relation, over the columns ``res`` declares.

    A ``UNION ALL`` subquery, not a table (nothing is stored): it is typed as a table for the
    engine's reads, which only use its columns (the databases push the organization, mode
    and filter predicates down into each part). Nothing ever writes to it.
    """
    names = [c.name for c in parts[0].table.c if c.name in _union_columns(res)]
    selects = [sa.select(*(p.table.c[n] for n in names)) for p in parts]
    return cast(sa.Table, sa.union_all(*selects).subquery(res.type))


def _union_columns(res: Resource) -> set[str]:
    return {"id", "organization_id", "mode", "created_at", "updated_at", *res.columns}
