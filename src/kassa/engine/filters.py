"""Ransack-style ``filter[q][<attributes>_<predicate>]`` filters, compiled to SQL.

Attributes may be joined with ``_or_`` and may walk relationships
(``market_id_eq``, ``customer_email_eq``, ``payment_methods_id_eq``); each hop becomes an
``IN (subquery)``, so a filter never multiplies rows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import orjson
import sqlalchemy as sa

from kassa.ids import parse_iso
from kassa.jsonapi.errors import bad_request, shown
from kassa.jsonapi.query import has_nul
from kassa.resources.base import Registry, Resource

Clause = sa.ColumnElement[bool]
MAX_BIGINT = 2**63 - 1
_INTEGER = re.compile(r"^[+-]?[0-9]{1,19}$")
_JSON_PREDICATES = frozenset({"jcont", "null", "not_null", "present", "blank"})
_BOOLEAN_PREDICATES = frozenset(
    {
        "eq",
        "eq_or_null",
        "not_eq",
        "not_eq_or_null",
        "not_eq_all",
        "in",
        "not_in",
        "not_in_or_null",
        "true",
        "false",
        "null",
        "not_null",
        "present",
        "blank",
    }
)
Predicate = Callable[[Any], Clause]
Resolver = Callable[[Callable[[Any, str], Clause]], Clause]

_PREDICATES = sorted(
    [
        "eq",
        "eq_or_null",
        "not_eq",
        "not_eq_or_null",
        "not_eq_all",
        "matches",
        "does_not_match",
        "matches_any",
        "matches_all",
        "does_not_match_any",
        "does_not_match_all",
        "lt",
        "lteq",
        "gt",
        "gteq",
        "lt_any",
        "lteq_any",
        "gt_any",
        "gteq_any",
        "lt_all",
        "lteq_all",
        "gt_all",
        "gteq_all",
        "in",
        "not_in",
        "not_in_or_null",
        "start",
        "not_start",
        "start_any",
        "start_all",
        "not_start_any",
        "not_start_all",
        "end",
        "not_end",
        "end_any",
        "end_all",
        "not_end_any",
        "not_end_all",
        "cont",
        "not_cont",
        "cont_any",
        "cont_all",
        "not_cont_all",
        "present",
        "blank",
        "null",
        "not_null",
        "true",
        "false",
        "jcont",
    ],
    key=len,
    reverse=True,
)


def _invalid(key: str, value: str) -> Exception:
    return bad_request(
        "INVALID_FILTER_VALUE",
        f"{shown(value)} is not a valid value for filter[q][{key}].",
        title="Invalid filter value",
    )


def _not_allowed(key: str) -> Exception:
    return bad_request(
        "FILTER_NOT_ALLOWED",
        f"filter[q][{key}] is not an allowed filter.",
        title="Filter not allowed",
    )


def _field_type(res: Resource, column: str) -> str:
    if column in ("created_at", "updated_at"):
        return "datetime"
    f = res.fields.get(column)
    return f.type if f else "string"


def _on(col: Any, ftype: str = "string") -> Resolver:
    def resolver(apply: Callable[[Any, str], Clause]) -> Clause:
        return apply(col, ftype)

    return resolver


def _through(col: Any, target_col: Any, inner: Resolver) -> Resolver:
    """``col IN (SELECT target_col FROM target WHERE <inner predicate>)``."""

    def resolver(apply: Callable[[Any, str], Clause]) -> Clause:
        return col.in_(sa.select(target_col).where(inner(apply)))

    return resolver


def _resolve(registry: Registry, res: Resource, name: str, depth: int = 0) -> Resolver | None:
    """How to apply a predicate to attribute ``name`` of ``res`` (or ``None``)."""
    table = res.table
    f = res.fields.get(name)
    if name == "id" or (f is not None and f.filterable and name in table.c):
        col = table.c[name]
        ftype = _field_type(res, name)

        def on_column(apply: Callable[[Any, str], Clause]) -> Clause:
            return apply(col, ftype)

        return on_column
    if depth > 3:
        return None
    for rel_name, store in res.stores.items():
        if not name.startswith(rel_name + "_"):
            continue
        rest = name[len(rel_name) + 1 :]
        if store.kind == "fk" and store.column:
            wire_rel = res.rels[rel_name]
            fk_col = table.c[store.column]
            if rest == "id":
                return _on(fk_col)
            if wire_rel.polymorphic:
                continue
            target = registry.get(wire_rel.targets[0])
            if target is None:
                continue
            inner = _resolve(registry, target, rest, depth + 1)
            if inner is None:
                continue
            return _through(fk_col, target.table.c.id, inner)
        if store.kind == "reverse" and store.target and store.target_column:
            target = registry.get(store.target)
            if target is None:
                continue
            inner = _resolve(registry, target, rest, depth + 1)
            if inner is None:
                continue
            return _through(table.c.id, target.table.c[store.target_column], inner)
    return None


def _convert(ftype: str, raw: str, key: str) -> Any:
    try:
        if ftype == "integer":
            if not _INTEGER.match(raw):
                raise ValueError(raw)
            value = int(raw)
            if not -MAX_BIGINT <= value <= MAX_BIGINT:
                raise ValueError(raw)
            return value
        if ftype == "float":
            number = float(raw)
            if not math.isfinite(number):
                raise ValueError(raw)
            return number
        if ftype == "boolean":
            if raw.lower() in ("true", "1"):
                return True
            if raw.lower() in ("false", "0"):
                return False
            raise ValueError(raw)
        if ftype == "datetime":
            return parse_iso(raw)
    except (ValueError, OverflowError):
        raise _invalid(key, raw) from None
    return raw


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _dangling_escape(pattern: str) -> str:
    """A LIKE pattern may not end with its escape character: make a trailing one literal."""
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    return pattern + "\\" if trailing % 2 else pattern


def _flag(raw: str, key: str) -> bool:
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise _invalid(key, raw)


def _applicable(pred: str, ftype: str) -> bool:
    """Whether predicate ``pred`` makes sense for an attribute of type ``ftype``."""
    if ftype in ("object", "array"):
        return pred in _JSON_PREDICATES and (pred != "jcont" or ftype == "object")
    if pred in ("jcont", "true", "false"):
        return pred != "jcont" and ftype == "boolean"
    if ftype == "boolean":
        return pred in _BOOLEAN_PREDICATES
    return True


def _predicate(pred: str, raw: str, key: str, is_pg: bool) -> Callable[[Any, str], Clause]:
    """Build ``apply(column, field_type) -> clause`` for one predicate and raw value."""

    def one(col: Any, ftype: str, op: str, value: str) -> Clause:
        if op in ("eq", "not_eq", "lt", "lteq", "gt", "gteq"):
            v = _convert(ftype, value, key)
            # Built lazily: ordering operators refuse boolean operands outright.
            return {
                "eq": lambda: col == v,
                "not_eq": lambda: col != v,
                "lt": lambda: col < v,
                "lteq": lambda: col <= v,
                "gt": lambda: col > v,
                "gteq": lambda: col >= v,
            }[op]()
        text = col if ftype == "string" else sa.cast(col, sa.String)
        pattern = {
            "matches": _dangling_escape(value),
            "start": _like_escape(value) + "%",
            "end": "%" + _like_escape(value),
            "cont": "%" + _like_escape(value) + "%",
        }[op]
        return text.ilike(pattern, escape="\\")

    def apply(col: Any, ftype: str) -> Clause:
        if not _applicable(pred, ftype):
            raise _not_allowed(key)
        if pred in ("null", "not_null"):
            wanted = _flag(raw, key) == (pred == "null")
            return col.is_(None) if wanted else col.is_not(None)
        if pred in ("present", "blank"):
            is_present = sa.and_(col.is_not(None), sa.cast(col, sa.String) != "")
            return is_present if _flag(raw, key) == (pred == "present") else sa.not_(is_present)
        if pred in ("true", "false"):
            wanted = _flag(raw, key) == (pred == "true")
            return col == wanted
        if pred == "jcont":
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise _invalid(key, raw) from None
            if not isinstance(obj, dict) or has_nul(obj):
                raise _invalid(key, raw)
            if is_pg:
                return col.op("@>")(sa.cast(sa.literal(orjson.dumps(obj).decode()), col.type))
            parts = []
            for k, v in obj.items():
                path = "$." + '"' + str(k).replace('"', "") + '"'
                extracted = sa.func.json_extract(col, path)
                if isinstance(v, bool):
                    parts.append(extracted == (1 if v else 0))
                elif isinstance(v, dict | list):
                    parts.append(sa.func.json(extracted) == sa.func.json(orjson.dumps(v).decode()))
                else:
                    parts.append(extracted == v)
            return sa.and_(sa.true(), *parts)
        if pred in ("in", "not_in", "not_in_or_null"):
            values = [_convert(ftype, v, key) for v in raw.split(",") if v != ""]
            if pred == "in":
                return col.in_(values)
            clause = col.not_in(values)
            return sa.or_(clause, col.is_(None)) if pred == "not_in_or_null" else clause
        if pred in ("eq_or_null", "not_eq_or_null"):
            return sa.or_(one(col, ftype, pred[: -len("_or_null")], raw), col.is_(None))
        negate = pred.startswith(("not_", "does_not_"))
        base = pred.removeprefix("does_not_").removeprefix("not_")
        base = {"match": "matches"}.get(base, base)
        quant = None
        for suffix in ("_any", "_all"):
            if base.endswith(suffix):
                base, quant = base[: -len(suffix)], suffix[1:]
        if base == "match":
            base = "matches"
        if quant is None:
            clause = one(col, ftype, base, raw)
            return sa.not_(clause) if negate else clause
        parts = [one(col, ftype, base, v) for v in raw.split(",")]
        if negate:
            parts = [sa.not_(p) for p in parts]
        if base == "eq" and negate:
            return sa.and_(*parts)
        combine = sa.or_ if quant == "any" else sa.and_
        return combine(*parts)

    return apply


def compile_filter(registry: Registry, res: Resource, key: str, raw: str, is_pg: bool) -> Clause:
    for pred in _PREDICATES:
        if not key.endswith("_" + pred):
            continue
        attrs = key[: -len(pred) - 1]
        resolvers = []
        whole = _resolve(registry, res, attrs)
        if whole is not None:
            resolvers = [whole]
        else:
            for part in attrs.split("_or_"):
                resolver = _resolve(registry, res, part)
                if resolver is None:
                    resolvers = []
                    break
                resolvers.append(resolver)
        if not resolvers:
            continue
        apply = _predicate(pred, raw, key, is_pg)
        clauses = [r(apply) for r in resolvers]
        return clauses[0] if len(clauses) == 1 else sa.or_(*clauses)
    raise _not_allowed(key)


def compile_sort(res: Resource, sort: list[tuple[str, bool]]) -> list[Any]:
    table = res.table
    order: list[Any] = []
    for name, desc in sort:
        f = res.fields.get(name)
        if name != "id" and (f is None or not f.sortable or name not in table.c):
            raise bad_request(
                "INVALID_SORT_CRITERIA",
                f"{name} is not a valid sort criterion for {res.type}.",
                title="Invalid sort criteria",
            )
        col = table.c[name]
        order.append(col.desc() if desc else col.asc())
    return order
