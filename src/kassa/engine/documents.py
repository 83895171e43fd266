"""Serialize rows to JSON:API resource objects, with batched compound documents."""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa

from kassa.engine.context import Ctx
from kassa.engine.policy import can_read, hidden_attributes, visible_clauses
from kassa.engine.templates import Getter, Spec, Template, getter, spec, template
from kassa.jsonapi.errors import ApiError, bad_request
from kassa.resources.base import Resource, Row

_GETTERS: dict[str, list[tuple[str, Getter]]] = {}


def getters(res: Resource) -> list[tuple[str, Getter]]:
    cached = _GETTERS.get(res.type)
    if cached is None:
        cached = [(name, getter(s)) for name, s in _specs(res)]
        _GETTERS[res.type] = cached
    return cached


def _specs(res: Resource) -> list[tuple[str, Spec]]:
    return [
        (name, spec(res, name))
        for name, f in res.fields.items()
        if f.fetchable and not name.startswith("_") and name != "id"
    ]


_SHOWN: dict[tuple[str, frozenset[str]], list[tuple[str, Getter]]] = {}


def shown_getters(res: Resource, hidden: frozenset[str]) -> list[tuple[str, Getter]]:
    """``getters(res)`` less the attributes the caller may not see."""
    if not hidden:
        return getters(res)
    key = (res.type, hidden)
    cached = _SHOWN.get(key)
    if cached is None:
        cached = _SHOWN[key] = [(n, g) for n, g in getters(res) if n not in hidden]
    return cached


_ATTRIBUTES: dict[tuple[str, frozenset[str]], Template] = {}


def shown_template(res: Resource, hidden: frozenset[str]) -> Template:
    """The whole attributes object of a row, less ``hidden``, in one call."""
    key = (res.type, hidden)
    cached = _ATTRIBUTES.get(key)
    if cached is None:
        cached = _ATTRIBUTES[key] = template([(n, s) for n, s in _specs(res) if n not in hidden])
    return cached


class Serializer:
    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.api = ctx.base_url + "/api"
        self.sparse: dict[str, set[str]] = {}
        if ctx.query is not None:
            for type_, names in ctx.query.fields.items():
                res = ctx.registry.get(type_)
                if res is None:
                    raise bad_request("INVALID_RESOURCE", f"{type_} is not a valid resource.")
                for name in names:
                    if name not in res.fields and name not in res.rels:
                        raise bad_request(
                            "INVALID_FIELD",
                            f"{name} is not a valid field for {type_}.",
                            title="Invalid field",
                        )
                self.sparse[type_] = names

    def obj(self, res: Resource, row: Row, linkage: dict[str, Any] | None = None) -> dict[str, Any]:
        id_ = row["id"]
        singleton = res.wire.singleton
        base = f"{self.api}/{res.type.rstrip('s')}" if singleton else f"{self.api}/{res.type}/{id_}"
        wanted = self.sparse.get(res.type)
        hidden = hidden_attributes(self.ctx.principal, res)
        if wanted is None:
            attributes = shown_template(res, hidden)(row)
            names: Any = res.rels
        else:
            shown = shown_getters(res, hidden)
            attributes = {name: get(row) for name, get in shown if name in wanted}
            names = [name for name in res.rels if name in wanted]
        relationships: Any
        if wanted is None and not linkage and res.rels:
            # The common case: only links. Render them from a per-type template once.
            relationships = _links_fragment(res, base)
        else:
            rel_base = base + "/relationships/"
            related_base = base + "/"
            relationships = {
                name: {"links": {"self": rel_base + name, "related": related_base + name}}
                for name in names
            }
            for name, data in (linkage or {}).items():
                entry = relationships.get(name)
                if entry is not None:
                    entry["data"] = data
        out: dict[str, Any] = {
            "id": id_,
            "type": res.type,
            "links": {"self": base},
            "attributes": attributes,
        }
        if relationships:
            out["relationships"] = relationships
        out["meta"] = {
            "mode": row.get("mode") or self.ctx.principal.mode,
            "organization_id": self.ctx.principal.organization_id,
        }
        return out


_MARK = "\u0000"
_TEMPLATES: dict[str, str] = {}


def _links_fragment(res: Resource, base: str) -> Any:
    """The ``relationships`` member with links only, as pre-serialized JSON."""
    template = _TEMPLATES.get(res.type)
    if template is None:
        rels = {
            name: {"links": {"self": f"{_MARK}/relationships/{name}", "related": f"{_MARK}/{name}"}}
            for name in res.rels
        }
        template = orjson.dumps(rels).decode().replace("\\u0000", _MARK)
        _TEMPLATES[res.type] = template
    return orjson.Fragment(template.replace(_MARK, orjson.dumps(base).decode()[1:-1]))


# --- includes -----------------------------------------------------------------------------

IncludeTree = dict[str, "IncludeTree"]


def include_tree(ctx: Ctx, res: Resource, paths: list[tuple[str, ...]]) -> IncludeTree:
    tree: IncludeTree = {}
    for path in paths:
        node = tree
        current: list[Resource] = [res]
        for segment in path:
            targets = [r for r in current if segment in r.rels]
            if not targets:
                raise bad_request(
                    "INVALID_INCLUDE",
                    f"{'.'.join(path)} is not a valid relationship path.",
                    title="Invalid include",
                )
            node = node.setdefault(segment, {})
            nxt: list[Resource] = []
            for r in targets:
                for t in r.rels[segment].targets:
                    target = ctx.registry.get(t)
                    if target is not None:
                        nxt.append(target)
            current = nxt
    return tree


def known_includes(ctx: Ctx, res: Resource, paths: list[tuple[str, ...]]) -> IncludeTree:
    """The include tree of those ``paths`` that are relationship paths; the others are left
    out instead of refused (a gateway's ``external_includes`` for a callout payload)."""
    tree: IncludeTree = {}
    for path in paths:
        try:
            part = include_tree(ctx, res, [path])
        except ApiError:
            continue
        _merge(tree, part)
    return tree


def _merge(into: IncludeTree, other: IncludeTree) -> None:
    for key, sub in other.items():
        _merge(into.setdefault(key, {}), sub)


async def load_related(
    ctx: Ctx, res: Resource, rel_name: str, rows: list[Row]
) -> dict[str, list[tuple[str, Row]]]:
    """Related rows for many parents at once: one query per target type, never per row."""
    store = res.stores[rel_name]
    out: dict[str, list[tuple[str, Row]]] = {row["id"]: [] for row in rows}
    if not rows or store.kind == "none":
        return out
    if store.kind == "virtual":
        assert store.loader is not None
        loaded = await store.loader(ctx, rows)
        for key, items in loaded.items():
            out[key] = [(t, r) for t, r in items if _readable(ctx, t)]
        return out
    if store.kind == "fk":
        assert store.column is not None
        wire_rel = res.rels[rel_name]
        wanted: dict[str, set[str]] = {}
        for row in rows:
            target_id = row.get(store.column)
            if not target_id:
                continue
            t = row.get(store.type_column) if store.type_column else wire_rel.targets[0]
            if t:
                wanted.setdefault(t, set()).add(target_id)
        found: dict[tuple[str, str], Row] = {}
        for t, ids in wanted.items():
            for r in await _fetch(ctx, t, ctx.table(t).c.id.in_(sorted(ids))):
                found[(t, r["id"])] = r
        for row in rows:
            target_id = row.get(store.column)
            t = row.get(store.type_column) if store.type_column else wire_rel.targets[0]
            if target_id and t and (t, target_id) in found:
                out[row["id"]] = [(t, found[(t, target_id)])]
        return out
    assert store.target is not None and store.target_column is not None
    table = ctx.table(store.target)
    col = table.c[store.target_column]
    target_res = ctx.registry[store.target]
    for r in await _fetch(ctx, store.target, col.in_([row["id"] for row in rows])):
        out.setdefault(r[store.target_column], []).append((target_res.row_type(r), r))
    return out


def _readable(ctx: Ctx, type_: str) -> bool:
    target = ctx.registry.get(type_)
    return target is not None and can_read(ctx.principal, target)


async def _fetch(ctx: Ctx, type_: str, *where: sa.ColumnElement[bool]) -> list[Row]:
    target = ctx.registry.get(type_)
    if target is None or not (can_read(ctx.principal, target) or target.access.via_include):
        return []
    clauses = visible_clauses(ctx.principal, target)
    if clauses is None:
        return []
    return await ctx.select(type_, *where, *clauses)


async def compound(
    ctx: Ctx, res: Resource, rows: list[Row], tree: IncludeTree
) -> tuple[dict[tuple[str, str], dict[str, Any]], list[tuple[Resource, Row]]]:
    """Linkage for every (type, id) that had relationships included, and the included rows."""
    linkage: dict[tuple[str, str], dict[str, Any]] = {}
    included: dict[tuple[str, str], tuple[Resource, Row]] = {}
    primary = {(res.type, r["id"]) for r in rows}
    await _walk(ctx, {res.type: rows}, tree, linkage, included, primary)
    return linkage, list(included.values())


async def _walk(
    ctx: Ctx,
    rows_by_type: dict[str, list[Row]],
    tree: IncludeTree,
    linkage: dict[tuple[str, str], dict[str, Any]],
    included: dict[tuple[str, str], tuple[Resource, Row]],
    primary: set[tuple[str, str]],
) -> None:
    for rel_name, subtree in tree.items():
        children: dict[str, dict[str, Row]] = {}
        for type_, rows in rows_by_type.items():
            res = ctx.registry.get(type_)
            if res is None or rel_name not in res.rels or not rows:
                continue
            related = await load_related(ctx, res, rel_name, rows)
            many = res.rels[rel_name].many
            for row in rows:
                items = related.get(row["id"], [])
                data: Any
                if many:
                    data = [{"type": t, "id": r["id"]} for t, r in items]
                else:
                    data = {"type": items[0][0], "id": items[0][1]["id"]} if items else None
                linkage.setdefault((type_, row["id"]), {})[rel_name] = data
                for t, r in items:
                    children.setdefault(t, {})[r["id"]] = r
                    key = (t, r["id"])
                    if key not in primary and key not in included:
                        included[key] = (ctx.registry[t], r)
        if subtree and children:
            await _walk(
                ctx,
                {t: list(rs.values()) for t, rs in children.items()},
                subtree,
                linkage,
                included,
                primary,
            )


async def render(
    ctx: Ctx, res: Resource, rows: list[Row], tree: IncludeTree
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    ser = Serializer(ctx)
    linkage, included = await compound(ctx, res, rows, tree) if tree else ({}, [])
    data = [
        ser.obj(ctx.registry[res.row_type(row)], row, linkage.get((res.type, row["id"])))
        for row in rows
    ]
    inc = [ser.obj(r, row, linkage.get((r.type, row["id"]))) for r, row in included]
    return data, inc
