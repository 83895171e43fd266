"""Parse the JSON:API query string: include, fields, sort, page and ransack filters."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from kassa.jsonapi.errors import bad_request, shown

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 25
MAX_PAGE_NUMBER = 2**31 - 1
_DIGITS = re.compile(r"^[0-9]{1,10}$")
_BRACKETS = re.compile(r"^(\w+)((?:\[[^\[\]]*\])*)$")


def has_nul(value: object) -> bool:
    """Whether a NUL character hides anywhere in a decoded JSON value (PostgreSQL rejects it)."""
    return nul_path(value) is not None


def nul_path(value: object) -> list[str] | None:
    """The keys (and list positions) leading to the first NUL character in a decoded JSON
    value, in document order: ``[]`` when the value itself is such a string, ``None`` when
    there is none. Iterative, so however deep the value, the stack is not exhausted."""
    stack: list[tuple[object, list[str]]] = [(value, [])]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return path
            continue
        children: list[tuple[str, object]] = []
        if isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and "\x00" in key:
                    return [*path, key]
                children.append((str(key), child))
        elif isinstance(item, list):
            children = [(str(i), child) for i, child in enumerate(item)]
        stack.extend((child, [*path, key]) for key, child in reversed(children))
    return None


@dataclass
class Query:
    include: list[tuple[str, ...]] = field(default_factory=list)
    fields: dict[str, set[str]] = field(default_factory=dict)
    sort: list[tuple[str, bool]] = field(default_factory=list)
    page_number: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    filters: list[tuple[str, str]] = field(default_factory=list)
    ids: list[str] | None = None
    passthrough: list[tuple[str, str]] = field(default_factory=list)
    """The params as received minus ``page``, kept for pagination links."""
    page_after: str | None = None
    """``page[after]``: a keyset cursor (Kassa extension; ``""`` starts at the first row)."""


def _split_key(key: str) -> tuple[str, list[str]] | None:
    match = _BRACKETS.match(key)
    if not match:
        return None
    return match.group(1), re.findall(r"\[([^\[\]]*)\]", match.group(2))


def _positive(name: str, raw: str, maximum: int) -> int:
    value = int(raw) if _DIGITS.match(raw) else 0
    if value < 1 or value > maximum:
        limit = f" between 1 and {maximum}"
        raise bad_request(
            "INVALID_PAGE_VALUE",
            f"{shown(raw)} is not a valid value for page[{name}]: use an integer{limit}.",
            title="Invalid page value",
        )
    return value


def parse_query(items: Iterable[tuple[str, str]]) -> Query:
    q = Query()
    numbered = False
    for key, value in items:
        if "\x00" in key or "\x00" in value:
            where = f"The value of {shown(key)}" if "\x00" not in key else "A parameter name"
            raise bad_request(
                "BAD_REQUEST",
                f"{where} in the query string contains a NUL character.",
                title="Bad request",
            )
        parts = _split_key(key)
        if parts is None:
            q.passthrough.append((key, value))
            continue
        name, sub = parts
        if name != "page":
            q.passthrough.append((key, value))
        if name == "include" and not sub:
            q.include = [tuple(p.split(".")) for p in value.split(",") if p]
        elif name == "fields" and len(sub) == 1:
            q.fields[sub[0]] = {f for f in value.split(",") if f}
        elif name == "sort" and not sub:
            q.sort = [
                (k[1:], True) if k.startswith("-") else (k, False) for k in value.split(",") if k
            ]
        elif name == "page":
            if len(sub) != 1 or sub[0] not in ("number", "size", "after"):
                raise bad_request(
                    "INVALID_PAGE_OBJECT",
                    "Use page[number] and page[size] (or page[after], a cursor).",
                    title="Invalid page object",
                )
            if sub[0] == "after":
                q.page_after = value
            elif sub[0] == "number":
                numbered = True
                q.page_number = _positive("number", value, MAX_PAGE_NUMBER)
            else:
                q.page_size = _positive("size", value, MAX_PAGE_SIZE)
        elif name == "filter":
            if len(sub) == 2 and sub[0] == "q":
                q.filters.append((sub[1], value))
            elif sub == ["id"]:
                q.ids = [i for i in value.split(",") if i]
            else:
                raise bad_request(
                    "INVALID_FILTERS_SYNTAX",
                    f"{key} is not a valid filter: use filter[q][<attribute>_<predicate>].",
                    title="Invalid filters syntax",
                )
    if numbered and q.page_after is not None:
        raise bad_request(
            "INVALID_PAGE_OBJECT",
            "Use either page[number] or page[after], not both.",
            title="Invalid page object",
        )
    return q
