"""The OpenAPI 3.1 document of the API as served, built from the resource registry."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from kassa.engine.filters import _PREDICATES
from kassa.openapi import static
from kassa.openapi.schemas import (
    Schema,
    fields_parameter,
    fieldset_types,
    filter_parameters,
    filterable_fields,
    include_parameter,
    list_document,
    object_ref,
    page_parameters,
    ref,
    resource_object,
    single_document,
    sort_parameter,
    token_kinds,
    write_document,
)
from kassa.resources.base import Registry, Resource
from kassa.resources.wire import WireRel

JSONAPI = "application/vnd.api+json"
try:
    VERSION = version("kassa")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    VERSION = "0"
_KIND_NAMES = {
    "integration": "integration",
    "sales_channel": "sales channel (guest)",
    "customer": "customer",
}
_OUTCOMES: dict[str, tuple[int, ...]] = {
    "list": (400, 401, 406, 429),
    "retrieve": (400, 401, 404, 406, 429),
    "create": (400, 401, 404, 406, 409, 413, 415, 422, 423, 429),
    "update": (400, 401, 404, 406, 409, 413, 415, 422, 423, 429),
    "delete": (400, 401, 404, 406, 409, 422, 423, 429),
}
"""The error statuses each kind of operation may answer."""


def _content(schema: Schema, media_type: str = JSONAPI) -> Schema:
    return {media_type: {"schema": schema}}


def _errors(statuses: tuple[int, ...]) -> Schema:
    return {str(s): ref("responses", f"Error{s}") for s in statuses}


_WRITES = frozenset({"create", "update", "delete"})

IDEMPOTENCY_KEY: Schema = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Kassa extension: the first answer to this key is kept for 24 h and replayed "
    "(with `Idempotent-Replayed: true`) to the same caller's identical request; another request "
    "with the key answers 422, one still running 409.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}
"""The ``Idempotency-Key`` header every write accepts (kassa.engine.idempotency)."""


def _operation(
    res: Resource,
    verb: str,
    op_id: str,
    summary: str,
    parameters: list[Schema],
    responses: Schema,
    kinds: list[str],
) -> Schema:
    who = ", ".join(_KIND_NAMES[k] for k in kinds)
    op: Schema = {
        "operationId": op_id,
        "summary": summary,
        "description": f"Tokens: {who}.",
        "tags": [res.type],
        "security": [{"bearer": []}, {"oauth2": []}],
        "x-kassa-access": kinds,
        "parameters": [*parameters, ref("parameters", "IdempotencyKey")]
        if verb in _WRITES
        else parameters,
        "responses": {**responses, **_errors(_OUTCOMES[verb])},
    }
    return op


class Builder:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.paths: dict[str, Schema] = {}
        self.schemas: dict[str, Schema] = {}
        self.parameters: dict[str, Schema] = {}

    def fields_refs(self, res: Resource) -> list[Schema]:
        out = []
        for t in fieldset_types(self.registry, res):
            key = f"fields_{t}"
            if key not in self.parameters:
                self.parameters[key] = fields_parameter(self.registry[t])
            out.append(ref("parameters", key))
        return out

    def include_ref(self, res: Resource) -> Schema:
        key = f"include_{res.type}"
        if key not in self.parameters:
            self.parameters[key] = include_parameter(self.registry, res)
        return ref("parameters", key)

    def document_params(self, res: Resource) -> list[Schema]:
        """``include`` and ``fields[...]``: every operation that renders ``res`` takes them."""
        return [self.include_ref(res), *self.fields_refs(res)]

    def list_params(self, res: Resource) -> list[Schema]:
        return [
            *self.document_params(res),
            sort_parameter(res),
            *page_parameters(),
            *filter_parameters(res),
        ]

    def resource(self, res: Resource) -> None:
        t = res.type
        self.schemas[t] = resource_object(res)
        if res.wire.singleton:
            self.singleton(res)
            return
        single = {
            "200": {
                "description": "The resource",
                "content": _content(single_document(self.registry, res)),
            }
        }
        id_param: Schema = {
            "name": "id",
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
        }
        collection: Schema = {}
        member: Schema = {"parameters": [id_param]}
        kinds = {
            verb: token_kinds(res, verb)
            for verb in ("list", "retrieve", "create", "update", "delete")
        }
        if kinds["list"]:
            items = object_ref(self.registry, res)
            collection["get"] = _operation(
                res,
                "list",
                f"list_{t}",
                f"List {t}",
                self.list_params(res),
                {
                    "200": {
                        "description": "A page of resources",
                        "content": _content(list_document(items)),
                    }
                },
                kinds["list"],
            )
            collection["get"]["x-kassa-filters"] = {
                "attributes": filterable_fields(res),
                "predicates": sorted(_PREDICATES),
            }
        if kinds["create"]:
            op = _operation(
                res,
                "create",
                f"create_{t}",
                f"Create a {t} resource",
                self.document_params(res),
                {
                    "201": {
                        "description": "Created",
                        "content": single["200"]["content"],
                        "links": self.links(res),
                    }
                },
                kinds["create"],
            )
            op["requestBody"] = {
                "required": True,
                "content": _content(write_document(res, create=True)),
            }
            collection["post"] = op
        if kinds["retrieve"]:
            member["get"] = _operation(
                res,
                "retrieve",
                f"retrieve_{t}",
                f"Retrieve a {t} resource",
                self.document_params(res),
                single,
                kinds["retrieve"],
            )
        if kinds["update"]:
            op = _operation(
                res,
                "update",
                f"update_{t}",
                f"Update a {t} resource",
                self.document_params(res),
                single,
                kinds["update"],
            )
            op["requestBody"] = {
                "required": True,
                "content": _content(write_document(res, create=False)),
            }
            member["patch"] = op
        if kinds["delete"]:
            member["delete"] = _operation(
                res,
                "delete",
                f"delete_{t}",
                f"Delete a {t} resource",
                [],
                {"204": {"description": "Deleted"}},
                kinds["delete"],
            )
        if collection:
            self.paths[f"/api/{t}"] = collection
        if len(member) > 1:
            self.paths[f"/api/{t}/{{id}}"] = member
        if kinds["retrieve"]:
            for name, rel in res.rels.items():
                self.related(res, name, rel, id_param, kinds["retrieve"])

    def links(self, res: Resource) -> Schema:
        """OpenAPI links from a created resource to reading, updating and deleting it."""
        t = res.type
        out: Schema = {}
        by_id = {"id": "$response.body#/data/id"}
        if token_kinds(res, "retrieve"):
            out["retrieve"] = {"operationId": f"retrieve_{t}", "parameters": by_id}
        if token_kinds(res, "update"):
            out["update"] = {
                "operationId": f"update_{t}",
                "parameters": by_id,
                "requestBody": {"data": {"type": t, "id": "$response.body#/data/id"}},
            }
        if token_kinds(res, "delete"):
            out["delete"] = {"operationId": f"delete_{t}", "parameters": by_id}
        return out

    def related(
        self, res: Resource, name: str, rel: WireRel, id_param: Schema, kinds: list[str]
    ) -> None:
        target = None if rel.polymorphic else self.registry.get(rel.targets[0])
        params: list[Schema] = []
        if target is not None:
            params += self.document_params(target)
            items = object_ref(self.registry, target)
        else:
            items = ref("schemas", "ResourceObject")
        store = res.stores[name]
        if rel.many:
            params += page_parameters()
            if target is not None and store.kind == "reverse":
                params += [sort_parameter(target), *filter_parameters(target)]
            body = list_document(items)
        else:
            body = {
                "type": "object",
                "required": ["data"],
                "properties": {
                    "data": {"oneOf": [{"type": "null"}, items]},
                    "included": {"type": "array", "items": ref("schemas", "ResourceObject")},
                },
            }
        op = _operation(
            res,
            "retrieve",
            f"retrieve_{res.type}_{name}",
            f"The {name} of a {res.type} resource",
            params,
            {"200": {"description": "The related resource(s)", "content": _content(body)}},
            kinds,
        )
        self.paths[f"/api/{res.type}/{{id}}/{name}"] = {"parameters": [id_param], "get": op}

    def singleton(self, res: Resource) -> None:
        path = "/api/" + res.type.removesuffix("s")
        kinds = token_kinds(res, "retrieve")
        self.paths[path] = {
            "get": _operation(
                res,
                "retrieve",
                f"retrieve_{res.type}",
                f"The {res.type.removesuffix('s')} of the token",
                self.document_params(res),
                {
                    "200": {
                        "description": "The resource",
                        "content": _content(single_document(self.registry, res)),
                    }
                },
                kinds,
            )
        }


def build_document(registry: Registry, server_url: str | None = None) -> dict[str, Any]:
    builder = Builder(registry)
    for res in sorted(registry.by_type.values(), key=lambda r: r.type):
        builder.resource(res)
    paths = {**static.paths(), **dict(sorted(builder.paths.items()))}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Kassa API",
            "version": VERSION,
            "description": (
                "The Commerce Layer core API as Kassa serves it (JSON:API over OAuth2 bearer "
                "tokens). Attributes and relationships marked `x-kassa: true` are Kassa "
                "extensions; `x-kassa-access` lists the kinds of token an operation accepts."
            ),
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": server_url or "/"}],
        "paths": paths,
        "components": {
            "schemas": {**static.schemas(), **dict(sorted(builder.schemas.items()))},
            "parameters": dict(
                sorted({**builder.parameters, "IdempotencyKey": IDEMPOTENCY_KEY}.items())
            ),
            "responses": static.responses(),
            "securitySchemes": static.security_schemes(),
        },
        "x-kassa-filter-predicates": sorted(_PREDICATES),
    }
