"""JSON Schemas of one declared resource: its resource object, write documents and queries.

Everything here is derived from the declaration (:class:`kassa.resources.base.Resource`) and
the limits the engine enforces, so the document says what the server does.
"""

from __future__ import annotations

from typing import Any

from kassa.engine.filters import MAX_BIGINT
from kassa.engine.writes import MAX_INDEXED_STRING, MAX_INTEGER, MAX_STRING, indexed_columns
from kassa.jsonapi.query import MAX_PAGE_NUMBER, MAX_PAGE_SIZE
from kassa.resources.base import Registry, Resource
from kassa.resources.wire import WireField, WireRel

Schema = dict[str, Any]

_TYPES: dict[str, Schema] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "float": {"type": "number"},
    "boolean": {"type": "boolean"},
    "datetime": {"type": "string", "format": "date-time"},
    "object": {"type": "object"},
    "array": {"type": "array"},
}
FILTER_PREDICATES: dict[str, tuple[str, ...]] = {
    "string": ("eq", "in", "cont", "start", "null"),
    "integer": ("eq", "gt", "lteq", "in"),
    "float": ("eq", "gt", "lteq"),
    "datetime": ("eq", "gt", "lteq"),
    "boolean": ("eq",),
    "object": ("null",),
    "array": ("null",),
}
"""The predicates each type gets a parameter of its own for; ``x-kassa-filters`` lists them all."""


NO_NUL = "^[^\\u0000]*$"
"""Text may not hold a NUL character (PostgreSQL cannot store one): 400 for any that does."""


def ref(kind: str, name: str) -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def nullable(schema: Schema) -> Schema:
    out = dict(schema)
    typ = out.get("type")
    if isinstance(typ, str):
        out["type"] = [typ, "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


def token_kinds(res: Resource, verb: str) -> list[str]:
    """Which kinds of token may call ``verb`` on ``res`` (the policy's rule, spelled out)."""
    if verb not in res.wire.actions:
        return []
    kinds = ["integration"]
    if verb in res.access.guest:
        kinds.append("sales_channel")
    if verb in res.access.customer:
        kinds.append("customer")
    return kinds


def object_types(registry: Registry, res: Resource) -> list[Resource]:
    """The resources whose objects a list of ``res`` may hold (a shared table's subtypes)."""
    subtypes = [r for r in registry.by_type.values() if r.table_name == res.type]
    return [res, *subtypes]


def _extension(schema: Schema, res: Resource, name: str) -> Schema:
    """Mark a Kassa extension: a field or relationship the Commerce Layer schema lacks (an
    ``extra_*`` declaration that only widens one of its own is not one)."""
    extra = any(f.name == name for f in res.extra_fields) or any(
        r.name == name for r in res.extra_relationships
    )
    if extra and name not in res.wire.fields and name not in res.wire.relationships:
        schema["x-kassa"] = True
    return schema


# --- resource objects ------------------------------------------------------------------------


def attribute(res: Resource, f: WireField, *, write: bool) -> Schema:
    schema: Schema = dict(_TYPES.get(f.type, {}))
    if f.enum:
        schema["enum"] = list(f.enum)
    if write:
        if f.type == "string":
            schema["pattern"] = NO_NUL
            indexed = f.name in indexed_columns(res)
            schema["maxLength"] = MAX_INDEXED_STRING if indexed else MAX_STRING
        elif f.type == "integer":
            schema["minimum"], schema["maximum"] = -MAX_INTEGER, MAX_INTEGER
        if f.trigger:
            schema["x-trigger"] = True
            schema["writeOnly"] = True
        if f.prohibited:
            schema["x-prohibited-for-sales-channels"] = True
    else:
        schema["readOnly"] = not (f.creatable or f.updatable)
    if f.deprecated:
        schema["deprecated"] = True
    return _extension(nullable(schema), res, f.name)


def readable_fields(res: Resource) -> list[str]:
    """Attributes a resource object carries (for callers allowed to see them all)."""
    return [n for n, f in res.fields.items() if f.fetchable and not n.startswith("_") and n != "id"]


def _linkage(rel: WireRel) -> Schema:
    one: Schema = {
        "type": "object",
        "required": ["type", "id"],
        "properties": {"type": {"type": "string"}, "id": {"type": "string"}},
    }
    if rel.many:
        return {"type": "array", "items": one}
    return {"oneOf": [{"type": "null"}, one]}


def resource_object(res: Resource) -> Schema:
    """A resource object as the serializer renders it (sparse fieldsets drop members)."""
    attributes = {
        name: attribute(res, res.fields[name], write=False) for name in readable_fields(res)
    }
    relationships = {
        name: _extension(
            {
                "type": "object",
                "required": ["links"],
                "properties": {"links": ref("schemas", "RelationshipLinks"), "data": _linkage(r)},
                "additionalProperties": False,
            },
            res,
            name,
        )
        for name, r in res.rels.items()
    }
    return {
        "type": "object",
        "required": ["id", "type", "links", "attributes", "meta"],
        "properties": {
            "id": {"type": "string"},
            "type": {"const": res.type},
            "links": ref("schemas", "SelfLink"),
            "attributes": {
                "type": "object",
                "properties": attributes,
                "additionalProperties": False,
            },
            "relationships": {
                "type": "object",
                "properties": relationships,
                "additionalProperties": False,
            },
            "meta": ref("schemas", "ResourceMeta"),
        },
        "additionalProperties": False,
    }


def object_ref(registry: Registry, res: Resource) -> Schema:
    types = object_types(registry, res)
    if len(types) == 1:
        return ref("schemas", res.type)
    return {"oneOf": [ref("schemas", r.type) for r in types]}


def single_document(registry: Registry, res: Resource) -> Schema:
    return {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": object_ref(registry, res),
            "included": {"type": "array", "items": ref("schemas", "ResourceObject")},
        },
    }


def list_document(items: Schema) -> Schema:
    return {
        "type": "object",
        "required": ["data", "meta", "links"],
        "properties": {
            "data": {"type": "array", "items": items},
            "included": {"type": "array", "items": ref("schemas", "ResourceObject")},
            "meta": ref("schemas", "ListMeta"),
            "links": ref("schemas", "PageLinks"),
        },
    }


# --- write documents -------------------------------------------------------------------------


def _write_linkage(rel: WireRel) -> Schema:
    one: Schema = {
        "type": "object",
        "required": ["type", "id"],
        "properties": {"type": {"enum": list(rel.targets)}, "id": {"type": "string"}},
    }
    data: Schema = (
        {"type": "array", "items": one} if rel.many else {"oneOf": [{"type": "null"}, one]}
    )
    return {"type": "object", "required": ["data"], "properties": {"data": data}}


def write_document(res: Resource, *, create: bool) -> Schema:
    """The body of a POST (``create``) or PATCH: attributes, triggers and relationships."""

    def allowed_field(f: WireField) -> bool:
        return f.creatable if create else f.updatable

    attrs = {n: attribute(res, f, write=True) for n, f in res.fields.items() if allowed_field(f)}
    rels = {
        n: _extension(_write_linkage(r), res, n)
        for n, r in res.rels.items()
        if (r.creatable if create else r.updatable)
    }
    data: Schema = {
        "type": "object",
        "required": ["type"] if create else ["type", "id"],
        "properties": {
            "type": {"const": res.type},
            "attributes": {"type": "object", "properties": attrs, "additionalProperties": False},
            "relationships": {
                "type": "object",
                "properties": rels,
                "additionalProperties": False,
            },
        },
    }
    if not create:
        data["properties"]["id"] = {"type": "string"}
    if create:
        required_attrs = [
            n
            for n, f in res.fields.items()
            if f.required and f.creatable and not f.trigger and n not in res.optional
        ]
        required_rels = [
            n
            for n, r in res.rels.items()
            if r.required
            and r.creatable
            and n not in res.optional
            and res.stores[n].kind == "fk"
            and res.stores[n].column
        ]
        if required_attrs:
            data["properties"]["attributes"]["required"] = required_attrs
            data["required"].append("attributes")
        if required_rels:
            data["properties"]["relationships"]["required"] = required_rels
            data["required"].append("relationships")
    return {"type": "object", "required": ["data"], "properties": {"data": data}}


# --- query parameters -----------------------------------------------------------------------


def include_paths(registry: Registry, res: Resource, depth: int = 2) -> list[str]:
    """The relationship paths ``include=`` accepts, up to ``depth`` segments."""
    out: list[str] = []

    def walk(current: list[Resource], prefix: str, level: int) -> None:
        names: dict[str, list[Resource]] = {}
        for r in current:
            for name, rel in r.rels.items():
                targets = names.setdefault(name, [])
                for t in rel.targets:
                    target = registry.get(t)
                    if target is not None and target not in targets:
                        targets.append(target)
        for name, targets in names.items():
            path = prefix + name
            out.append(path)
            if level < depth and targets:
                walk(targets, path + ".", level + 1)

    walk([res], "", 1)
    return out


def _csv(name: str, items: Schema, description: str) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "style": "form",
        "explode": False,
        "description": description,
        "schema": {"type": "array", "items": items, "minItems": 1, "uniqueItems": True},
    }


def include_parameter(registry: Registry, res: Resource) -> Schema:
    paths = include_paths(registry, res)
    return _csv(
        "include",
        {"enum": paths},
        "Related resources to add to `included`: relationship paths, comma-separated, "
        "dot-separated for nested ones (listed here up to two levels).",
    )


def fields_parameter(res: Resource) -> Schema:
    names = [*readable_fields(res), *res.rels]
    return _csv(
        f"fields[{res.type}]",
        {"enum": names},
        f"Sparse fieldset: the attributes and relationships of `{res.type}` objects to render.",
    )


def fieldset_types(registry: Registry, res: Resource) -> list[str]:
    """The types whose sparse fieldsets an operation on ``res`` documents: its own and the
    types of its direct relationships."""
    types = [res.type]
    for rel in res.rels.values():
        for t in rel.targets:
            if t not in types and registry.get(t) is not None:
                types.append(t)
    return types


def sort_parameter(res: Resource) -> Schema:
    names = ["id"] + [
        n for n, f in res.fields.items() if f.sortable and n in res.table.c and n != "id"
    ]
    return _csv(
        "sort",
        {"enum": [v for n in names for v in (n, "-" + n)]},
        "Sort criteria, comma-separated; a leading `-` sorts descending.",
    )


def page_parameters() -> list[Schema]:
    return [
        {
            "name": "page[number]",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_NUMBER},
        },
        {
            "name": "page[size]",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
        },
    ]


def filterable_fields(res: Resource) -> list[str]:
    return [
        n
        for n, f in res.fields.items()
        if n == "id" or (f.filterable and n in res.table.c and not n.startswith("_"))
    ]


def _filter_value(ftype: str, predicate: str) -> Schema:
    if predicate == "null":
        return {"type": "boolean"}
    if ftype == "integer":
        return {"type": "integer", "minimum": -MAX_BIGINT, "maximum": MAX_BIGINT}
    if ftype == "string":
        return {"type": "string", "pattern": NO_NUL}
    return dict(_TYPES.get(ftype, {"type": "string"}))


def filter_parameters(res: Resource) -> list[Schema]:
    out: list[Schema] = []
    for name in filterable_fields(res):
        ftype = "string" if name == "id" else res.fields[name].type
        ftype = "datetime" if name in ("created_at", "updated_at") else ftype
        for predicate in FILTER_PREDICATES.get(ftype, ("eq",)):
            key = f"filter[q][{name}_{predicate}]"
            value = _filter_value(ftype, predicate)
            if predicate == "in":
                out.append(_csv(key, value, f"`{name}` is one of these values."))
            else:
                out.append({"name": key, "in": "query", "required": False, "schema": value})
    out.append(
        _csv("filter[id]", {"type": "string", "pattern": "^[^,\\u0000]+$"}, "Only these ids.")
    )
    return out
