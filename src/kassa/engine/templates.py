"""How each attribute of a resource is read from its row, and per-type render templates.

An attribute is a column as stored, a timestamp in ISO 8601, a money amount derived from
its ``*_cents`` source (``*_float``, ``formatted_*``), the metadata object, or a value the
declaration computes. :func:`getter` reads one attribute (sparse fieldsets use it);
:func:`template` compiles, once per resource type and set of attributes, one function that
builds the whole ``attributes`` object of a row. An order has over a hundred attributes,
and calling a getter per attribute was the first cost of a list of 25 orders in the profile
(README, "Where the time goes"); the generated function reads them inline instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kassa import money
from kassa.ids import iso
from kassa.resources.base import Resource, Row, money_base

Getter = Callable[[Row], Any]
Template = Callable[[Row], dict[str, Any]]


@dataclass(frozen=True)
class Spec:
    """Where an attribute comes from: ``kind`` is ``column``, ``timestamp``, ``metadata``,
    ``computed`` or ``money``; ``column`` names the row key (a money amount's source when it
    is a column); ``fn`` is the declaration's function (``computed``, or a money amount's
    computed source); ``convert`` turns cents and a currency into the amount shown."""

    kind: str
    column: str = ""
    fn: Getter | None = None
    convert: Callable[[Any, Any], Any] | None = None


def spec(res: Resource, name: str) -> Spec:
    if name in res.computed:
        return Spec("computed", fn=res.computed[name])
    f = res.fields[name]
    base = money_base(name, set(res.fields))
    if base is not None and name not in res.columns:
        convert = money.to_float if name.endswith("_float") else money.format_amount
        if base in res.computed:
            return Spec("money", fn=res.computed[base], convert=convert)
        return Spec("money", column=base, convert=convert)
    if f.type == "datetime" or name in ("created_at", "updated_at"):
        return Spec("timestamp", column=name)
    if name == "metadata":
        return Spec("metadata", column=name)
    return Spec("column", column=name)


def getter(s: Spec) -> Getter:
    """One attribute's reader (the same value the template computes)."""
    column, fn, convert = s.column, s.fn, s.convert
    if s.kind == "computed":
        assert fn is not None
        return fn
    if s.kind == "money":
        assert convert is not None
        if fn is not None:
            return lambda row: convert(fn(row), row.get("currency_code"))
        return lambda row: convert(row.get(column), row.get("currency_code"))
    if s.kind == "timestamp":
        return lambda row: iso(row.get(column))
    if s.kind == "metadata":
        return lambda row: row.get(column) or {}
    return lambda row: row.get(column)


def template(specs: Sequence[tuple[str, Spec]]) -> Template:
    """One function that builds the attributes object of a row, in the order given.

    The function is generated source: a dictionary display with one expression per
    attribute, its functions passed in by name. Only attribute names from the resource
    declarations reach the source, and each is written with ``repr``.
    """
    scope: dict[str, Any] = {"iso": iso}
    parts: list[str] = []
    for n, (name, s) in enumerate(specs):
        if s.kind == "computed":
            scope[f"f{n}"] = s.fn
            value = f"f{n}(row)"
        elif s.kind == "money":
            scope[f"c{n}"] = s.convert
            if s.fn is not None:
                scope[f"f{n}"] = s.fn
                value = f"c{n}(f{n}(row), currency)"
            else:
                value = f"c{n}(get({s.column!r}), currency)"
        elif s.kind == "timestamp":
            value = f"iso(get({s.column!r}))"
        elif s.kind == "metadata":
            value = f"(get({s.column!r}) or {{}})"
        else:
            value = f"get({s.column!r})"
        parts.append(f"        {name!r}: {value},")
    source = "\n".join(
        [
            "def attributes(row):",
            "    get = row.get",
            "    currency = get('currency_code')",
            "    return {",
            *parts,
            "    }",
        ]
    )
    exec(compile(source, "<kassa attribute template>", "exec"), scope)
    built: Template = scope["attributes"]
    return built
