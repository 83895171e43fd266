"""Generic list / retrieve / related / create / update / delete over any declaration."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

from kassa.engine import keyset
from kassa.engine.context import Ctx
from kassa.engine.counting import count_matches
from kassa.engine.documents import Serializer, include_tree, load_related, render
from kassa.engine.filters import Caller, compile_filter, compile_sort
from kassa.engine.policy import allowed, can_read, require, visible_clauses, visible_row
from kassa.engine.writes import check_permission, parse_changes, parse_json
from kassa.jsonapi.errors import ApiError, Invalid, blank, not_found, unauthorized, validation
from kassa.jsonapi.query import Query
from kassa.resources.base import Changes, Resource, Row

Doc = dict[str, Any]


def resource_for(ctx: Ctx, type_: str) -> Resource:
    res = ctx.registry.get(type_)
    if res is None or res.wire.singleton:
        raise ApiError.of(404, "RECORD_NOT_FOUND", "Not found", f"/api/{type_} does not exist.")
    return res


def _query(ctx: Ctx) -> Query:
    if ctx.query_error is not None:
        raise ctx.query_error
    return ctx.query or Query()


def check_query(ctx: Ctx, res: Resource | None) -> None:
    """Refuse a bad query string (400) before any work, writes above all."""
    q = _query(ctx)
    if res is not None:
        include_tree(ctx, res, q.include)
    Serializer(ctx)  # checks the sparse fieldsets


def list_clauses(ctx: Ctx, res: Resource) -> list[sa.ColumnElement[bool]]:
    q = _query(ctx)
    clauses = visible_clauses(ctx.principal, res, listing=True)
    if clauses is None:
        raise unauthorized()
    is_pg = not ctx.services.db.is_sqlite
    out = list(clauses)
    caller = Caller(ctx.principal, ctx.scoped)
    for key, value in q.filters:
        out.append(compile_filter(ctx.registry, res, key, value, is_pg, caller))
    if q.ids is not None:
        out.append(res.table.c.id.in_(q.ids))
    return out


async def load_visible(ctx: Ctx, res: Resource, id_: str, verb: str) -> Row:
    """The row if this caller may see it, else 404 (nobody learns it exists)."""
    clauses = visible_clauses(ctx.principal, res)
    if clauses is None:
        raise unauthorized()
    rows = await ctx.select(res.type, res.table.c.id == id_, *clauses)
    if not rows:
        raise not_found()
    row = rows[0]
    if ctx.principal.sales_channel and res.access.row_check is not None:
        await res.access.row_check(ctx, row, verb)
    return row


def _link_prefix(ctx: Ctx) -> str:
    """The request's other query parameters, to repeat in a pagination link."""
    q = _query(ctx)
    prefix = "&".join(f"{quote(k, safe='[]')}={quote(v, safe=',')}" for k, v in q.passthrough)
    return prefix + "&" if prefix else ""


def _page_links(ctx: Ctx, path: str, page: int, size: int, pages: int) -> dict[str, str]:
    prefix = _link_prefix(ctx)

    def link(n: int) -> str:
        return f"{ctx.base_url}{path}?{prefix}page[number]={n}&page[size]={size}"

    links = {"first": link(1)}
    if page > 1:
        links["prev"] = link(min(page - 1, max(pages, 1)))
    if page < pages:
        links["next"] = link(page + 1)
    links["last"] = link(max(pages, 1))
    return links


async def _paginate(ctx: Ctx, res: Resource, path: str, where: list[sa.ColumnElement[bool]]) -> Doc:
    q = _query(ctx)
    table = res.table
    compile_sort(res, q.sort, ctx.principal)  # refuses a bad or forbidden sort=
    keys = keyset.sort_keys(res, q.sort)  # those keys, then ``id`` once (or the default)
    order = keyset.order_by(res, keys)
    tree = include_tree(ctx, res, q.include)
    where = [*ctx.scoped(res.type), *where]
    limit, is_pg = ctx.settings.exact_count_limit, not ctx.services.db.is_sqlite
    count = await count_matches(ctx.conn, table, where, limit, is_pg, ctx.services.db.rows)
    stmt = sa.select(table).where(*where).order_by(*order).limit(q.page_size + 1)
    offset = (q.page_number - 1) * q.page_size
    if q.page_after is not None:
        stmt = stmt.where(*keyset.after_clauses(res, keys, q.page_after))
    else:
        stmt = stmt.offset(offset)
    rows = await ctx.services.db.rows(ctx.conn, stmt)
    more, rows = len(rows) > q.page_size, rows[: q.page_size]
    if q.page_after is None:
        count = count.seen(offset, len(rows), more)
    after = keyset.cursor_for(keys, rows[-1]) if more and q.page_after is not None else None
    return await _list_doc(ctx, res, path, rows, count.total, tree, count.estimated, after)


async def _list_doc(
    ctx: Ctx,
    res: Resource,
    path: str,
    rows: list[Row],
    total: int,
    tree: Any,
    estimated: bool = False,
    after: str | None = None,
) -> Doc:
    """``after``: the cursor of the next page when the request paged with ``page[after]``."""
    q = _query(ctx)
    pages = math.ceil(total / q.page_size) if total else 0
    data, included = await render(ctx, res, rows, tree)
    doc: Doc = {"data": data}
    if included:
        doc["included"] = included
    doc["meta"] = {"record_count": total, "page_count": pages}
    if estimated:
        doc["meta"]["record_count_estimated"] = True  # Kassa extension: kassa.engine.counting
    doc["links"] = _page_links(ctx, path, q.page_number, q.page_size, pages)
    if q.page_after is not None:  # cursor paging: no page number to go back from
        doc["links"].pop("prev", None)
        doc["links"].pop("next", None)
        if after is not None:
            doc["links"]["next"] = _cursor_link(ctx, path, q.page_size, after)
    return doc


def _cursor_link(ctx: Ctx, path: str, size: int, after: str) -> str:
    return f"{ctx.base_url}{path}?{_link_prefix(ctx)}page[after]={after}&page[size]={size}"


async def list_resources(ctx: Ctx, type_: str) -> Doc:
    res = resource_for(ctx, type_)
    require(ctx.principal, res, "list")
    check_query(ctx, res)
    async with ctx.step(write=False):
        return await _paginate(ctx, res, f"/api/{type_}", list_clauses(ctx, res))


async def single_doc(ctx: Ctx, res: Resource, row: Row) -> Doc:
    tree = include_tree(ctx, res, _query(ctx).include)
    data, included = await render(ctx, res, [row], tree)
    notice = ctx.notices.get((data[0]["type"], row["id"]))
    if notice:
        data[0]["meta"].update(notice)  # this request's own news about the row (Ctx.notices)
    doc: Doc = {"data": data[0]}
    if included:
        doc["included"] = included
    return doc


async def retrieve(ctx: Ctx, type_: str, id_: str) -> Doc:
    res = resource_for(ctx, type_)
    require(ctx.principal, res, "retrieve")
    check_query(ctx, res)
    async with ctx.step(write=False):
        row = await load_visible(ctx, res, id_, "retrieve")
        return await single_doc(ctx, res, row)


async def related(ctx: Ctx, type_: str, id_: str, rel_name: str) -> Doc:
    res = resource_for(ctx, type_)
    require(ctx.principal, res, "retrieve")
    wire_rel = res.rels.get(rel_name)
    if wire_rel is None:
        raise ApiError.of(404, "RECORD_NOT_FOUND", "Not found", f"{rel_name} does not exist.")
    check_query(ctx, None)
    async with ctx.step(write=False):
        parent = await load_visible(ctx, res, id_, "retrieve")
        store = res.stores[rel_name]
        path = f"/api/{type_}/{id_}/{rel_name}"
        target = ctx.registry.get(wire_rel.targets[0]) if not wire_rel.polymorphic else None
        if wire_rel.many and store.kind == "reverse" and target is not None:
            if not can_read(ctx.principal, target):
                raise unauthorized()
            assert store.target_column is not None
            where = [*list_clauses(ctx, target), target.table.c[store.target_column] == id_]
            return await _paginate(ctx, target, path, where)
        items = (await load_related(ctx, res, rel_name, [parent]))[parent["id"]]
        if wire_rel.many:
            q = _query(ctx)
            if q.page_after is not None:
                raise ApiError.of(
                    400, "INVALID_PAGE_OBJECT", "Invalid page object", "Use page[number] here."
                )
            start = (q.page_number - 1) * q.page_size
            page = items[start : start + q.page_size]
            if target is None:
                return _mixed_list(ctx, page, len(items), path)
            tree = include_tree(ctx, target, q.include)
            return await _list_doc(ctx, target, path, [r for _, r in page], len(items), tree)
        if not items:
            return {"data": None}
        t, row = items[0]
        return await single_doc(ctx, ctx.registry[t], row)


def _mixed_list(ctx: Ctx, items: list[tuple[str, Row]], total: int, path: str) -> Doc:
    ser = Serializer(ctx)
    q = _query(ctx)
    pages = math.ceil(total / q.page_size) if total else 0
    return {
        "data": [ser.obj(ctx.registry[t], r) for t, r in items],
        "meta": {"record_count": total, "page_count": pages},
        "links": _page_links(ctx, path, q.page_number, q.page_size, pages),
    }


async def resolve_relationships(ctx: Ctx, res: Resource, changes: Changes) -> None:
    """Look up every sent to-one relationship; unknown or invisible targets are invalid."""
    errors = []
    for name, value in changes.relationships.items():
        store = res.stores[name]
        if value is None:
            changes.related[name] = None
            if store.kind == "fk" and store.column:
                changes.values[store.column] = None
                if store.type_column:
                    changes.values[store.type_column] = None
            continue
        if store.kind != "fk" or isinstance(value, list):
            errors.append(
                validation(f"/data/relationships/{name}", "is not supported", "not_supported")
            )
            continue
        sent_type, target_id = value
        row = None
        t = sent_type
        for candidate in ctx.registry.aliases.get(sent_type, (sent_type,)):
            row = await visible_row(ctx, candidate, target_id)
            if row is not None:
                t = candidate
                break
        if row is None:
            errors.append(validation(f"/data/relationships/{name}", "is invalid", "invalid"))
            continue
        changes.related[name] = row
        assert store.column is not None
        changes.values[store.column] = target_id
        if store.type_column:
            changes.values[store.type_column] = t
    if errors:
        raise Invalid(errors)


def check_required(res: Resource, values: Row, changes: Changes) -> None:
    errors = []
    for name, f in res.fields.items():
        if not f.required or not f.creatable or f.trigger or name in res.optional:
            continue
        if values.get(name) in (None, "") and changes.inputs.get(name) in (None, ""):
            errors.append(blank(f"/data/attributes/{name}").errors[0])
    for name, r in res.rels.items():
        store = res.stores[name]
        if name in res.optional:
            continue
        if r.required and store.kind == "fk" and store.column and not values.get(store.column):
            errors.append(blank(f"/data/relationships/{name}").errors[0])
    if errors:
        raise Invalid(errors)


async def create(ctx: Ctx, type_: str, raw: bytes) -> Doc:
    res = resource_for(ctx, type_)
    require(ctx.principal, res, "create")
    check_query(ctx, res)
    doc = parse_json(raw)
    check_permission(ctx.principal, res, doc["data"])
    changes = parse_changes(res, doc["data"], create=True, url_id=None)
    async with ctx.step():
        await resolve_relationships(ctx, res, changes)
        values = dict(changes.values)
        if res.before_create is not None:
            await res.before_create(ctx, values, changes)
        if changes.existing_id is not None:
            found = await ctx.get(type_, changes.existing_id)
            assert found is not None
            row = found
        else:
            check_required(res, values, changes)
            row = await ctx.insert(type_, values)
        if res.after_create is not None:
            await res.after_create(ctx, row)
        if not changes.triggers:
            # The answer is read in the same transaction: one transaction per plain create.
            fresh = await ctx.get(type_, row["id"])
            assert fresh is not None
            return await single_doc(ctx, res, fresh)
    for name, value in changes.triggers.items():
        handler = res.triggers.get(name)
        if handler is not None:
            async with ctx.step():
                fresh = await ctx.get(type_, row["id"])
                assert fresh is not None
                await handler(ctx, fresh, value, changes)
    async with ctx.step(write=False):
        fresh = await ctx.get(type_, row["id"])
        assert fresh is not None
        return await single_doc(ctx, res, fresh)


async def update(ctx: Ctx, type_: str, id_: str, raw: bytes) -> Doc:
    """PATCH: the sent attributes and relationships in one step, then each trigger in its own.

    The visibility check opens the first step (the row is read there, locked on
    PostgreSQL) and the response is read in the last one. A PATCH that sends only triggers
    still runs ``before_update`` (it may refuse, or store values such as an owner); when
    that stores nothing there is no UPDATE and no ``after_update``, nothing to commit, and
    the first trigger continues the same transaction with the row already read (so a hook
    that writes on such a PATCH must also set a value, to make its writes a step of their own).
    """
    res = resource_for(ctx, type_)
    require(ctx.principal, res, "update")
    check_query(ctx, res)
    doc = parse_json(raw)
    check_permission(ctx.principal, res, doc["data"])
    clauses = visible_clauses(ctx.principal, res)
    if clauses is None:
        raise unauthorized()
    table = res.table
    visible = sa.select(table).where(table.c.id == id_, *ctx.scoped(type_), *clauses)
    if not ctx.services.db.is_sqlite:
        visible = visible.with_for_update(of=table)
    async with ctx.step():
        found = (await ctx.conn.execute(visible)).mappings().first()
        if found is None:
            raise not_found()
        row = dict(found)
        if ctx.principal.sales_channel and res.access.row_check is not None:
            await res.access.row_check(ctx, row, "update")
        changes = parse_changes(res, doc["data"], create=False, url_id=id_)
        await resolve_relationships(ctx, res, changes)
        values = dict(changes.values)
        if res.before_update is not None:
            await res.before_update(ctx, row, values, changes)
        # The row read in this transaction and unchanged since: the next trigger's row.
        held: Row | None = row
        sent = changes.values or changes.inputs or changes.relationships
        if values or sent or not changes.triggers:
            held = None
            if values:
                await ctx.update(type_, id_, values)
            if res.after_update is not None:
                fresh = await ctx.get(type_, id_)
                assert fresh is not None
                await res.after_update(ctx, fresh)
        unsupported = sorted(set(changes.triggers) - set(res.triggers))
        if not unsupported:
            return await _triggers(ctx, res, type_, id_, held, changes)
        if held is not None:
            raise _not_supported(unsupported[0])  # nothing was stored
    raise _not_supported(unsupported[0])  # after the step: the update stays applied


async def _triggers(
    ctx: Ctx, res: Resource, type_: str, id_: str, held: Row | None, changes: Changes
) -> Doc:
    """Each sent trigger in a transaction of its own, then the response (in the last one).

    ``held`` is the row when the open transaction stored nothing yet: the first trigger
    continues it; otherwise the step so far is committed first.
    """
    for name, handler in res.triggers.items():
        if name not in changes.triggers:
            continue
        if held is None:
            await ctx.unit.commit_and_continue()  # the previous step stays applied
            held = await ctx.get(type_, id_, for_update=True)
            if held is None:
                raise not_found()
        await handler(ctx, held, changes.triggers[name], changes)
        held = None
    fresh = await ctx.get(type_, id_)
    if fresh is None:
        raise not_found()
    return await single_doc(ctx, res, fresh)


def _not_supported(name: str) -> Invalid:
    return Invalid([validation(f"/data/attributes/{name}", "is not supported", "not_supported")])


async def delete(ctx: Ctx, type_: str, id_: str) -> None:
    res = resource_for(ctx, type_)
    require(ctx.principal, res, "delete")
    async with ctx.step():
        row = await load_visible(ctx, res, id_, "delete")
        if res.before_delete is not None:
            await res.before_delete(ctx, row)
        await ctx.delete(type_, id_)
        if res.after_delete is not None:
            await res.after_delete(ctx, row)


async def singleton(ctx: Ctx, type_: str, id_: str) -> Doc:
    res = ctx.registry[type_]
    if not allowed(ctx.principal, res, "retrieve"):
        raise unauthorized()
    check_query(ctx, res)
    async with ctx.step(write=False):
        row = await ctx.get(type_, id_)
        if row is None:
            raise not_found()
        return await single_doc(ctx, res, row)
