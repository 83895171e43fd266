"""The wire contract of a resource: field and relationship names with their flags.

The tables in :mod:`kassa.resources.contract` are written in a compact text form, one field
per line: ``name type flags [enum=a|b] [default=json]``. Flag letters:

``c`` creatable, ``u`` updatable, ``r`` fetchable, ``f`` filterable, ``s`` sortable,
``T`` trigger, ``I`` idempotent, ``P`` prohibited for sales channels, ``D`` deprecated,
``R`` required.

Relationships: ``name one|many target[|target…] flags`` with ``c`` creatable, ``u``
updatable, ``V`` virtual, ``P`` prohibited, ``D`` deprecated, ``R`` required, ``S``
required unless set by the token's scope. Several targets mean a polymorphic relationship.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class WireField:
    name: str
    type: str
    creatable: bool = False
    updatable: bool = False
    fetchable: bool = False
    filterable: bool = False
    sortable: bool = False
    trigger: bool = False
    idempotent: bool = False
    prohibited: bool = False
    deprecated: bool = False
    required: bool = False
    enum: tuple[str, ...] | None = None
    default: Any = None


@dataclass(frozen=True)
class WireRel:
    name: str
    many: bool
    targets: tuple[str, ...]
    creatable: bool = False
    updatable: bool = False
    virtual: bool = False
    prohibited: bool = False
    deprecated: bool = False
    required: bool = False
    required_unless_scope: bool = False

    @property
    def polymorphic(self) -> bool:
        return len(self.targets) > 1


@dataclass(frozen=True)
class WireResource:
    type: str
    actions: frozenset[str]
    singleton: bool
    fields: dict[str, WireField] = field(default_factory=dict)
    relationships: dict[str, WireRel] = field(default_factory=dict)


_FIELD_FLAGS = {
    "c": "creatable",
    "u": "updatable",
    "r": "fetchable",
    "f": "filterable",
    "s": "sortable",
    "T": "trigger",
    "I": "idempotent",
    "P": "prohibited",
    "D": "deprecated",
    "R": "required",
}
_REL_FLAGS = {
    "c": "creatable",
    "u": "updatable",
    "V": "virtual",
    "P": "prohibited",
    "D": "deprecated",
    "R": "required",
    "S": "required_unless_scope",
}


def _flags(text: str, table: dict[str, str]) -> dict[str, bool]:
    return {table[ch]: True for ch in text if ch != "-"}


def parse_fields(text: str) -> dict[str, WireField]:
    out: dict[str, WireField] = {}
    for line in text.strip().splitlines():
        name, typ, flags, *extra = line.split()
        kw: dict[str, Any] = _flags(flags, _FIELD_FLAGS)
        for item in extra:
            key, _, value = item.partition("=")
            kw[key] = tuple(value.split("|")) if key == "enum" else json.loads(value)
        out[name] = WireField(name, typ, **kw)
    return out


def parse_relationships(text: str) -> dict[str, WireRel]:
    out: dict[str, WireRel] = {}
    for line in text.strip().splitlines():
        name, kind, targets, flags = line.split()
        out[name] = WireRel(
            name, kind == "many", tuple(targets.split("|")), **_flags(flags, _REL_FLAGS)
        )
    return out


def wire(
    type_: str,
    *,
    actions: str,
    singleton: bool = False,
    fields: str,
    relationships: str = "",
) -> WireResource:
    return WireResource(
        type=type_,
        actions=frozenset(actions.split()),
        singleton=singleton,
        fields=parse_fields(fields),
        relationships=parse_relationships(relationships) if relationships.strip() else {},
    )
