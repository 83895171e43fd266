"""Resource declarations: the one place that says what a resource is and who may touch it.

A declaration pairs the wire contract (:mod:`kassa.resources.wire`) with storage details,
an access policy, computed attributes, and the domain functions behind its writes and
trigger attributes. The generic engine (:mod:`kassa.engine`) serves every declared resource.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from kassa.resources.wire import WireField, WireRel, WireResource
from kassa.session import Session
from kassa.session.rows import Changes, Row

if TYPE_CHECKING:
    from kassa.auth.principal import Principal

Computed = Callable[[Row], Any]
ScopeFn = Callable[["Principal", sa.Table], "list[sa.ColumnElement[bool]] | None"]
"""Extra WHERE clauses for a sales-channel caller; ``None`` means "no access at all"."""
RowCheck = Callable[[Session, Row, str], Awaitable[None]]
Loader = Callable[[Session, list[Row]], Awaitable[dict[str, list[tuple[str, Row]]]]]
CreateHook = Callable[[Session, Row, Changes], Awaitable[None]]
UpdateHook = Callable[[Session, Row, Row, Changes], Awaitable[None]]
AfterHook = Callable[[Session, Row], Awaitable[None]]
DeleteHook = Callable[[Session, Row], Awaitable[None]]
TriggerFn = Callable[[Session, Row, Any, Changes], Awaitable[None]]

VERBS = ("list", "retrieve", "create", "update", "delete")


@dataclass(frozen=True)
class Access:
    """Who may do what. Integration tokens may do every action the resource supports."""

    guest: frozenset[str] = frozenset()
    customer: frozenset[str] = frozenset()
    scope: ScopeFn | None = None
    list_scope: ScopeFn | None = None
    """Row filter for lists when it differs from ``scope`` (which governs reads by id)."""
    row_check: RowCheck | None = None
    """Called with the loaded row and the verb for sales-channel callers (may raise)."""
    via_include: bool = False
    """Sales channels see rows only through ``include=`` on a parent they may read."""


NO_SALES_CHANNEL = Access()


def verbs(*names: str) -> frozenset[str]:
    return frozenset(names)


@dataclass(frozen=True)
class RelStore:
    """How a relationship is stored.

    ``fk``: a ``<column>`` (and for polymorphic ones a ``<type_column>``) on this table;
    ``reverse``: ``target.<target_column>`` points back at this row; ``virtual``: a loader;
    ``none``: not built yet; links are shown, data is always empty.
    """

    kind: str
    column: str | None = None
    type_column: str | None = None
    target: str | None = None
    target_column: str | None = None
    loader: Loader | None = None


def fk(column: str, type_column: str | None = None) -> RelStore:
    return RelStore("fk", column=column, type_column=type_column)


def reverse(target: str, column: str) -> RelStore:
    return RelStore("reverse", target=target, target_column=column)


def virtual(loader: Loader) -> RelStore:
    return RelStore("virtual", loader=loader)


NOT_BUILT = RelStore("none")


@dataclass
class Resource:
    wire: WireResource
    access: Access = NO_SALES_CHANNEL
    computed: dict[str, Computed] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    """Column defaults on create; a callable is called for each new row."""
    extra_columns: list[sa.Column[Any]] = field(default_factory=list)
    indexes: list[tuple[str, ...]] = field(default_factory=list)
    list_indexes: bool = False
    """A table that grows with the shop: every filterable or sortable column gets an index
    led by organization and mode (see :func:`kassa.resources.tables.list_indexes`)."""
    searched: tuple[str, ...] = ()
    """String columns searched with ``_cont``/``_start``/``_end``: trigram-indexed on
    PostgreSQL (SQLite scans them)."""
    unique: list[tuple[str, ...]] = field(default_factory=list)
    """Unique column sets; ``organization_id`` and ``mode`` are prepended."""
    relationships: dict[str, RelStore] = field(default_factory=dict)
    extra_fields: list[WireField] = field(default_factory=list)
    """Kassa extensions beyond the Commerce Layer schema."""
    extra_relationships: list[WireRel] = field(default_factory=list)
    before_create: CreateHook | None = None
    after_create: AfterHook | None = None
    before_update: UpdateHook | None = None
    after_update: AfterHook | None = None
    before_delete: DeleteHook | None = None
    after_delete: DeleteHook | None = None
    triggers: dict[str, TriggerFn] = field(default_factory=dict)
    """Trigger handlers, run in this dict's order (the order of steps in one PATCH)."""
    tenant_scoped: bool = True
    not_stored: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    table_name: str | None = None
    """Store rows in another resource's table (the transaction types share one)."""
    type_value: str | None = None
    """With ``table_name``: the value of the shared table's ``type`` column for this resource."""
    """Fields the schema marks required that this resource checks itself (conditionally)."""
    default_sort: tuple[str, ...] = ("created_at", "id")
    union_of: tuple[str, ...] = ()
    """A read-only resource whose rows are those of these resources together
    (``payment_gateways``): no table of its own, ``table`` is a ``UNION ALL`` of theirs over
    the columns of this resource (see :func:`kassa.resources.tables.build_tables`)."""

    # Filled in by ``finish()``.
    fields: dict[str, WireField] = field(default_factory=dict, init=False)
    rels: dict[str, WireRel] = field(default_factory=dict, init=False)
    stores: dict[str, RelStore] = field(default_factory=dict, init=False)
    columns: dict[str, str] = field(default_factory=dict, init=False)
    """Stored attribute name → field type."""
    table: sa.Table = field(init=False)

    @property
    def type(self) -> str:
        return self.wire.type

    def base_where(self) -> list[sa.ColumnElement[bool]]:
        if self.type_value is None:
            return []
        return [self.table.c.type == self.type_value]

    def row_type(self, row: Row) -> str:
        """The JSON:API type of a row (a shared table's rows carry their own)."""
        if self.table_name is None and "type" in self.table.c and self.type == "transactions":
            return str(row.get("type") or self.type)
        return self.type

    def finish(self, registered: set[str]) -> None:
        """Derive columns and relationship storage once every declaration is known."""
        self.fields = dict(self.wire.fields)
        for extra in self.extra_fields:
            self.fields[extra.name] = extra
        self.rels = dict(self.wire.relationships)
        for extra_rel in self.extra_relationships:
            self.rels[extra_rel.name] = extra_rel
        names = set(self.fields)
        for name, f in self.fields.items():
            if name.startswith("_") or not f.fetchable or name in self.computed:
                continue
            if name in self.not_stored or name in ("id", "created_at", "updated_at"):
                continue
            if money_base(name, names):
                continue
            self.columns[name] = f.type
        for name, r in self.rels.items():
            store = self.relationships.get(name)
            if store is None:
                if r.many or r.virtual:
                    store = NOT_BUILT
                else:
                    store = fk(f"{name}_id", f"{name}_type" if r.polymorphic else None)
            if store.kind == "reverse" and store.target not in registered:
                store = NOT_BUILT
            if store.kind == "fk" and not r.polymorphic and r.targets[0] not in registered:
                store = NOT_BUILT
            self.stores[name] = store


def money_base(name: str, names: set[str]) -> str | None:
    """The ``*_cents`` field a derived ``*_float`` / ``formatted_*`` field comes from."""
    if name.endswith("_float"):
        base = name[: -len("_float")] + "_cents"
        return base if base in names else None
    if name.startswith("formatted_"):
        base = name[len("formatted_") :] + "_cents"
        return base if base in names else None
    return None


class Registry:
    def __init__(self) -> None:
        self.by_type: dict[str, Resource] = {}
        self.aliases: dict[str, tuple[str, ...]] = {}
        """A type clients may send for a relationship, resolved to one of these types."""

    def add(self, *resources: Resource) -> None:
        for res in resources:
            self.by_type[res.type] = res

    def get(self, type_: str) -> Resource | None:
        return self.by_type.get(type_)

    def __getitem__(self, type_: str) -> Resource:
        return self.by_type[type_]

    def is_path(self, res: Resource, path: Sequence[str]) -> bool:
        """Whether ``path`` is a relationship path from ``res`` (through every target of a
        polymorphic relationship): what ``include=`` accepts."""
        current = [res]
        for segment in path:
            targets = [r for r in current if segment in r.rels]
            if not targets:
                return False
            current = [
                target
                for r in targets
                for name in r.rels[segment].targets
                if (target := self.get(name)) is not None
            ]
        return True

    def finish(self) -> None:
        names = set(self.by_type)
        for res in self.by_type.values():
            res.finish(names)
