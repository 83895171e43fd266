"""Ransack-style ``filter[q][<attributes>_<predicate>]`` filters, compiled to SQL.

Attributes may be joined with ``_or_`` and may walk relationships
(``market_id_eq``, ``customer_email_eq``, ``payment_methods_id_eq``); each hop becomes an
``IN (subquery)``, so a filter never multiplies rows.

A filter is an oracle: whatever rows its predicate can reach, ``meta.record_count`` answers
questions about. So every hop's subquery carries the target's tenant clauses and the policy
layer's row filter for the caller (:func:`kassa.engine.policy.reachable_clauses`); a hop into
a resource the caller may not read at all, and a secret-bearing attribute for anyone but an
integration, answer exactly like an unknown filter (400 ``FILTER_NOT_ALLOWED``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from kassa.auth.principal import Principal
from kassa.engine.policy import is_secret, reachable_clauses
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
Scoped = Callable[[str], list[Clause]]
"""Tenant clauses (organization, mode, the row type of a shared table) for a resource type."""

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


@dataclass(frozen=True)
class Caller:
    """Who is filtering: hops reach only the rows this caller may read."""

    principal: Principal
    scoped: Scoped

    def hop(self, target: Resource) -> list[Clause] | None:
        """The WHERE clauses of a hop into ``target``, or ``None`` when it is out of reach."""
        clauses = reachable_clauses(self.principal, target)
        if clauses is None:
            return None
        return [*self.scoped(target.type), *clauses]

    def may_use(self, name: str) -> bool:
        return may_use(self.principal, name)


def may_use(principal: Principal, name: str) -> bool:
    """Whether ``principal`` may filter or sort by attribute ``name``: secrets are for
    integrations, so no storefront token can guess one a character at a time."""
    return principal.integration or not is_secret(name)


def _on(col: Any, ftype: str = "string") -> Resolver:
    def resolver(apply: Callable[[Any, str], Clause]) -> Clause:
        return apply(col, ftype)

    return resolver


def _through(col: Any, target_col: Any, where: list[Clause], inner: Resolver) -> Resolver:
    """``col IN (SELECT target_col FROM target WHERE <row filter> AND <inner predicate>)``."""

    def resolver(apply: Callable[[Any, str], Clause]) -> Clause:
        return col.in_(sa.select(target_col).where(*where, inner(apply)))

    return resolver


def _polymorphic_id(
    registry: Registry, caller: Caller, fk_col: Any, type_col: Any, targets: Iterable[str]
) -> Resolver | None:
    """``<rel>_id`` of a polymorphic relationship: the id of a row, of any type the
    relationship may name, that the caller may read (``None`` when it may read none)."""
    reachable = []
    for type_ in targets:
        target = registry.get(type_)
        where = caller.hop(target) if target is not None else None
        if target is not None and where is not None:
            reachable.append((target, where))
    if not reachable:
        return None

    def resolver(apply: Callable[[Any, str], Clause]) -> Clause:
        parts = []
        for target, where in reachable:
            ids = sa.select(target.table.c.id).where(*where, apply(target.table.c.id, "string"))
            parts.append(sa.and_(type_col == target.type, fk_col.in_(ids)))
        return sa.or_(*parts)

    return resolver


def _resolve(
    registry: Registry, caller: Caller, res: Resource, name: str, depth: int = 0
) -> Resolver | None:
    """How to apply a predicate to attribute ``name`` of ``res`` (or ``None``)."""
    table = res.table
    f = res.fields.get(name)
    if name == "id" or (f is not None and f.filterable and name in table.c):
        if not caller.may_use(name):
            return None
        return _on(table.c[name], _field_type(res, name))
    if depth > 3:
        return None
    for rel_name, store in res.stores.items():
        if not name.startswith(rel_name + "_"):
            continue
        rest = name[len(rel_name) + 1 :]
        if store.kind == "fk" and store.column:
            wire_rel = res.rels[rel_name]
            fk_col = table.c[store.column]
            if rest == "id" and caller.principal.integration:
                return _on(fk_col)  # an integration reads every row the column can name
            if wire_rel.polymorphic:
                if rest != "id" or not store.type_column:
                    continue
                type_col = table.c[store.type_column]
                typed = _polymorphic_id(registry, caller, fk_col, type_col, wire_rel.targets)
                if typed is None:
                    continue
                return typed
            target = registry.get(wire_rel.targets[0])
            if target is None:
                continue
            where = caller.hop(target)
            if where is None:
                continue
            inner = _resolve(registry, caller, target, rest, depth + 1)
            if inner is None:
                continue
            return _through(fk_col, target.table.c.id, where, inner)
        if store.kind == "reverse" and store.target and store.target_column:
            target = registry.get(store.target)
            if target is None:
                continue
            where = caller.hop(target)
            if where is None:
                continue
            inner = _resolve(registry, caller, target, rest, depth + 1)
            if inner is None:
                continue
            return _through(table.c.id, target.table.c[store.target_column], where, inner)
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


def compile_filter(
    registry: Registry, res: Resource, key: str, raw: str, is_pg: bool, caller: Caller
) -> Clause:
    """One ``filter[q][key]=raw`` as a WHERE clause over ``res``, as ``caller`` may see it.

    Every reading of ``key`` (one path, or paths joined with ``_or_``) is resolved by
    :func:`_resolve`, so every predicate family meets the same hop and secret rules.
    """
    for pred in _PREDICATES:
        if not key.endswith("_" + pred):
            continue
        attrs = key[: -len(pred) - 1]
        resolvers = []
        whole = _resolve(registry, caller, res, attrs)
        if whole is not None:
            resolvers = [whole]
        else:
            for part in attrs.split("_or_"):
                resolver = _resolve(registry, caller, res, part)
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


def compile_sort(res: Resource, sort: list[tuple[str, bool]], principal: Principal) -> list[Any]:
    """ORDER BY for ``sort=``: own sortable attributes only, secrets for integrations only."""
    table = res.table
    order: list[Any] = []
    for name, desc in sort:
        f = res.fields.get(name)
        own = name == "id" or (f is not None and f.sortable and name in table.c)
        if not own or not may_use(principal, name):
            raise bad_request(
                "INVALID_SORT_CRITERIA",
                f"{name} is not a valid sort criterion for {res.type}.",
                title="Invalid sort criteria",
            )
        col = table.c[name]
        order.append(col.desc() if desc else col.asc())
    return order
