"""Check a create/update document against the declaration and turn it into ``Changes``."""

from __future__ import annotations

import math
import re
from typing import Any

import orjson
import sqlalchemy as sa

from kassa.auth.principal import Principal
from kassa.ids import parse_iso
from kassa.jsonapi.errors import (
    ApiError,
    Invalid,
    bad_request,
    shown,
    unauthorized,
    validation,
)
from kassa.jsonapi.query import has_nul, nul_path
from kassa.resources.base import Changes, Resource
from kassa.resources.wire import WireField

_TRUE = (True, "true", 1, "1")
_FALSE = (False, "false", 0, "0", None)
MAX_INTEGER = 2**31 - 1
"""Integer attributes are 32-bit signed, so sums and products of them fit the 64-bit columns."""
MAX_INDEXED_STRING = 255
"""Longest value of a string attribute stored in an indexed column."""
MAX_STRING = 65_535
MAX_JSON_BYTES = 16 * 1024
"""Largest free-form JSON attribute (``metadata`` and other objects and arrays), serialized."""
MAX_JSON_DEPTH = 10
"""Deepest nesting of a free-form JSON attribute (``{}`` and ``[]`` are depth 1)."""
MAX_DOCUMENT_DEPTH = MAX_JSON_DEPTH + 6
"""Deepest nesting of a whole write document: room for ``data.attributes.<name>`` and for
``data.relationships.<name>.data[]`` around the values above."""
_INDEXED: dict[str, frozenset[str]] = {}
_INTEGER_TEXT = re.compile(r"^-?[0-9]{1,20}$")
_FLOAT_TEXT = re.compile(
    r"^[+-]?([0-9]{1,20}(\.[0-9]{0,20})?|\.[0-9]{1,20})([eE][+-]?[0-9]{1,3})?$"
)


def depth(value: Any) -> int:
    """Nesting depth of a decoded JSON value: 0 for a scalar, 1 for ``{}`` or ``[1]``.

    Iterative, so a deep value cannot exhaust the interpreter's stack."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        stack.extend((child, level) for child in children)
    return deepest


def _too_deep(maximum: int, pointer: str | None = None) -> ApiError:
    what = "The request body" if pointer is None else pointer.rsplit("/", 1)[-1]
    return bad_request(
        "INVALID_DATA_FORMAT",
        f"{what} is nested too deeply (the maximum depth is {maximum}).",
        pointer,
    )


def parse_json(raw: bytes) -> dict[str, Any]:
    try:
        doc = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        raise bad_request("INVALID_DATA_FORMAT", "The request body is not valid JSON.") from None
    if depth(doc) > MAX_DOCUMENT_DEPTH:
        raise _too_deep(MAX_DOCUMENT_DEPTH)
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
        raise bad_request(
            "PARAM_MISSING", "The request body must be an object with a data member.", "/data"
        )
    if has_nul(doc):
        path = nul_path(doc) or []
        raise bad_request("INVALID_DATA_FORMAT", _nul_detail(path), _pointer(path[:3]))
    return doc


def _nul_detail(path: list[str]) -> str:
    """Names the attribute (or ``data`` member) holding a NUL character, in plain words."""
    member = len(path) > 2 and path[0] == "data" and path[1] in ("attributes", "relationships")
    head = path[:3] if member else path[:2]
    if not head or any("\x00" in key for key in head):
        return "A member name in the request body contains a NUL character."
    name = head[2] if member else ".".join(head)
    return f"{name} contains a NUL character, which is not allowed."


def _pointer(path: list[str]) -> str | None:
    """A JSON pointer (RFC 6901) to ``path``; ``None`` when a key cannot be shown."""
    if not path or any("\x00" in key for key in path):
        return None
    return "/" + "/".join(key.replace("~", "~0").replace("/", "~1") for key in path)


def indexed_columns(res: Resource) -> frozenset[str]:
    """Columns of ``res`` that take part in an index or a unique constraint."""
    cached = _INDEXED.get(res.type)
    if cached is None:
        names: set[str] = set()
        for index in res.table.indexes:
            names.update(c.name for c in index.columns)
        for constraint in res.table.constraints:
            if isinstance(constraint, sa.UniqueConstraint):
                names.update(c.name for c in constraint.columns)
        cached = _INDEXED[res.type] = frozenset(names)
    return cached


def check_permission(principal: Principal, res: Resource, data: dict[str, Any]) -> None:
    """Sales channels may not send fields the schema marks as prohibited (401)."""
    if not principal.sales_channel:
        return
    attrs = data.get("attributes")
    if isinstance(attrs, dict):
        for name in attrs:
            f = res.fields.get(name)
            if f is not None and f.prohibited:
                raise unauthorized()
    rels = data.get("relationships")
    if isinstance(rels, dict):
        for name in rels:
            r = res.rels.get(name)
            if r is not None and r.prohibited:
                raise unauthorized()


def _limit(pointer: str, maximum: int, error: str, title: str) -> Invalid:
    return Invalid([validation(pointer, title.format(maximum), error, count=maximum)])


def _checked_integer(value: int, pointer: str) -> int:
    if value > MAX_INTEGER:
        raise _limit(
            pointer, MAX_INTEGER, "less_than_or_equal_to", "must be less than or equal to {}"
        )
    if value < -MAX_INTEGER:
        raise _limit(
            pointer,
            -MAX_INTEGER,
            "greater_than_or_equal_to",
            "must be greater than or equal to {}",
        )
    return value


def _check_free_form(value: dict[str, Any] | list[Any], pointer: str) -> None:
    """Bounds for free-form JSON: 400 when nested too deeply, 422 when too large."""
    if depth(value) > MAX_JSON_DEPTH:
        raise _too_deep(MAX_JSON_DEPTH, pointer)
    if len(orjson.dumps(value)) > MAX_JSON_BYTES:
        raise _limit(
            pointer, MAX_JSON_BYTES, "too_long", "is too large (maximum is {} bytes as JSON)"
        )


def _coerce(f: WireField, value: Any, pointer: str, indexed: bool = False) -> Any:
    if value is None:
        return None
    ok = True
    if f.name.startswith("_") and f.type == "boolean":
        if isinstance(value, bool | int | str) and value in _TRUE:
            return True
        if isinstance(value, bool | int | str) and value in _FALSE:
            return False
        ok = False
    elif f.type == "string":
        ok = isinstance(value, str)
        maximum = MAX_INDEXED_STRING if indexed else MAX_STRING
        if ok and len(value) > maximum:
            raise _limit(pointer, maximum, "too_long", "is too long (maximum is {} characters)")
    elif f.type == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return _checked_integer(value, pointer)
        if isinstance(value, str) and _INTEGER_TEXT.match(value.strip()):
            return _checked_integer(int(value), pointer)
        ok = False
    elif f.type == "float":
        if isinstance(value, str) and _FLOAT_TEXT.match(value.strip()):
            value = float(value)  # the official CLI's `-a lat=43.77` sends text
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok:
            value = float(value)
            ok = math.isfinite(value)
    elif f.type == "boolean":
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"  # as sent by the official CLI's `-a`
        ok = isinstance(value, bool)
    elif f.type in ("object", "array"):
        ok = isinstance(value, dict if f.type == "object" else list)
        if ok:
            _check_free_form(value, pointer)
    elif f.type == "datetime":
        try:
            if isinstance(value, str):
                return parse_iso(value)
        except (ValueError, OverflowError):
            pass
        ok = False
    if not ok:
        raise bad_request(
            "INVALID_FIELD_VALUE",
            f"{shown(value)} is not a valid {f.type} for {f.name}.",
            pointer,
            title="Invalid field value",
        )
    return value


def parse_changes(
    res: Resource, data: dict[str, Any], *, create: bool, url_id: str | None
) -> Changes:
    type_ = data.get("type")
    if type_ is None:
        raise bad_request("PARAM_MISSING", "data.type is required.", "/data/type")
    if type_ != res.type:
        raise bad_request(
            "TYPE_MISMATCH", f"data.type {shown(type_)} does not match {res.type}.", "/data/type"
        )
    if not create:
        if "id" not in data:
            raise bad_request("PARAM_MISSING", "data.id is required.", "/data/id")
        if data["id"] != url_id:
            raise ApiError.of(
                400,
                "KEY_NOT_INCLUDED_IN_URL",
                "Key is not included in URL",
                f"data.id {shown(data['id'])} is not the id in the URL.",
                "/data/id",
            )
    changes = Changes()
    attrs = data.get("attributes")
    attrs = {} if attrs is None else attrs
    if not isinstance(attrs, dict):
        raise bad_request(
            "INVALID_DATA_FORMAT", "data.attributes must be an object.", "/data/attributes"
        )
    for name, value in attrs.items():
        pointer = f"/data/attributes/{name}"
        f = res.fields.get(name)
        if f is None or not (f.creatable if create else f.updatable):
            raise bad_request(
                "PARAM_NOT_ALLOWED",
                f"{name} is not allowed.",
                pointer,
                title="Param not allowed",
            )
        coerced = _coerce(f, value, pointer, name in indexed_columns(res))
        changes.sent_attributes.add(name)
        if name.startswith("_"):
            if coerced is not False and coerced is not None:
                changes.triggers[name] = coerced
        elif name in res.columns:
            changes.values[name] = coerced
        else:
            changes.inputs[name] = coerced
    rels = data.get("relationships")
    rels = {} if rels is None else rels
    if not isinstance(rels, dict):
        raise bad_request(
            "INVALID_DATA_FORMAT", "data.relationships must be an object.", "/data/relationships"
        )
    for name, value in rels.items():
        pointer = f"/data/relationships/{name}"
        r = res.rels.get(name)
        if r is None or not (r.creatable if create else r.updatable):
            raise bad_request(
                "PARAM_NOT_ALLOWED", f"{name} is not allowed.", pointer, title="Param not allowed"
            )
        if not isinstance(value, dict) or "data" not in value:
            raise bad_request(
                "INVALID_LINKS_OBJECT", f"{name} must be an object with data.", pointer
            )
        linkage = value["data"]
        if linkage is None:
            changes.relationships[name] = None
            continue
        items = linkage if isinstance(linkage, list) else [linkage]
        if r.many != isinstance(linkage, list):
            raise bad_request("INVALID_LINKS_OBJECT", f"{name} has the wrong shape.", pointer)
        pairs = []
        for item in items:
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("type"), str)
                or not isinstance(item.get("id"), str)
            ):
                raise bad_request("INVALID_LINKS_OBJECT", f"{name} needs type and id.", pointer)
            if item["type"] not in r.targets:
                raise bad_request(
                    "TYPE_MISMATCH", f"{shown(item['type'])} cannot be {name}.", pointer
                )
            pairs.append((item["type"], item["id"]))
        changes.relationships[name] = pairs if r.many else pairs[0]
    return changes
