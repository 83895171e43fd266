"""SQLAlchemy Core tables, derived from the resource declarations plus a few internal ones."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from kassa.resources.base import Registry, Resource

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")

_TYPES: dict[str, Any] = {
    "string": sa.String,
    "integer": sa.BigInteger,
    "boolean": sa.Boolean,
    "datetime": sa.DateTime,
    "float": sa.Float,
    "object": JSONType,
    "array": JSONType,
}


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
    if res.tenant_scoped:
        args.append(sa.Index(None, "organization_id", "mode", "created_at"))
    for index in res.indexes:
        args.append(sa.Index(None, *index))
    for unique in res.unique:
        prefix = ("organization_id", "mode") if res.tenant_scoped else ()
        args.append(sa.UniqueConstraint(*prefix, *unique))
    return sa.Table(res.type, metadata, *args)


signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.String(32), primary_key=True),
    sa.Column("private_pem", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("application_id", sa.String(16), nullable=False),
    sa.Column("customer_id", sa.String(16), nullable=False),
    sa.Column("scope", sa.String, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
    sa.Column("revoked_at", sa.DateTime, nullable=True),
)

order_counters = sa.Table(
    "order_counters",
    metadata,
    sa.Column("organization_id", sa.String(16), primary_key=True),
    sa.Column("mode", sa.String(4), primary_key=True),
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)


def build_tables(registry: Registry) -> None:
    sharing: dict[str, list[Resource]] = {}
    for res in registry.by_type.values():
        if res.table_name:
            sharing.setdefault(res.table_name, []).append(res)
    for res in registry.by_type.values():
        if not res.table_name:
            res.table = build_table(res, sharing.get(res.type))
    for res in registry.by_type.values():
        if res.table_name:
            res.table = registry[res.table_name].table
