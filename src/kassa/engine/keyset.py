"""The order of a list, and ``page[after]``: a cursor whose cost does not grow with depth.

Order: the ``sort=`` keys, then ``id`` once as the tie-breaker (in the direction of the last
key, so one ``(…, key, id)`` index serves the sort both ways); without ``sort=`` the
resource's default (``created_at, id``). Nullable keys sort as PostgreSQL does by default
(``NULLS LAST`` ascending, ``NULLS FIRST`` descending), on SQLite too.

``page[after]=<cursor>`` (a Kassa extension; an empty value starts at the first row) returns
the rows that follow the row the cursor names, through a keyset predicate
(``created_at <= :v AND (created_at < :v OR (created_at = :v AND id < :id))``) that an index
seeks to, instead of an ``OFFSET`` that reads and drops every earlier row. The cursor is
opaque to clients: base64url of the sort keys and the last row's values for them.
"""

from __future__ import annotations

import base64
import binascii
import math
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from kassa.ids import parse_iso
from kassa.jsonapi.errors import bad_request
from kassa.resources.base import Resource, Row

Key = tuple[str, bool]
"""A sort key: column name and whether it is descending."""
MAX_CURSOR = 4096


def sort_keys(res: Resource, sort: list[Key]) -> list[Key]:
    """The full ORDER BY of a list: the explicit keys and ``id`` once, or the default."""
    if not sort:
        return [(name, False) for name in res.default_sort if name in res.table.c]
    keys: list[Key] = []
    for name, desc in sort:
        if all(name != seen for seen, _ in keys):
            keys.append((name, desc))
    if all(name != "id" for name, _ in keys):
        keys.append(("id", keys[-1][1]))
    return keys


def order_by(res: Resource, keys: list[Key]) -> list[Any]:
    out: list[Any] = []
    for name, desc in keys:
        col = res.table.c[name]
        term = col.desc() if desc else col.asc()
        if col.nullable:
            term = term.nulls_first() if desc else term.nulls_last()
        out.append(term)
    return out


def _bad_cursor() -> Exception:
    return bad_request(
        "INVALID_PAGE_VALUE",
        "page[after] is not a cursor of this list: use the one in links.next.",
        title="Invalid page value",
    )


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, float) and not math.isfinite(value):
        return {"f": repr(value)}
    return value


def cursor_for(keys: list[Key], row: Row) -> str:
    """The cursor that continues after ``row``."""
    body = {"k": [("-" if desc else "") + name for name, desc in keys]}
    body["v"] = [_encode_value(row.get(name)) for name, _ in keys]
    return base64.urlsafe_b64encode(orjson.dumps(body)).decode().rstrip("=")


def _decode_value(col: sa.Column[Any], raw: Any) -> Any:
    if raw is None:
        return None
    ctype = col.type
    if isinstance(ctype, sa.DateTime):
        if not isinstance(raw, dict) or not isinstance(raw.get("t"), str):
            raise _bad_cursor()
        try:
            return parse_iso(raw["t"])
        except ValueError:
            raise _bad_cursor() from None
    if isinstance(ctype, sa.Boolean):
        if not isinstance(raw, bool):
            raise _bad_cursor()
        return raw
    if isinstance(ctype, sa.Integer):
        if isinstance(raw, bool) or not isinstance(raw, int) or abs(raw) >= 2**63:
            raise _bad_cursor()
        return raw
    if isinstance(ctype, sa.Float):
        if isinstance(raw, dict) and raw.get("f") in ("inf", "-inf", "nan"):
            return float(raw["f"])
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise _bad_cursor()
        return float(raw)
    if isinstance(ctype, sa.String) and not isinstance(ctype, sa.JSON):
        if not isinstance(raw, str) or "\x00" in raw:
            raise _bad_cursor()
        return raw
    raise _bad_cursor()


def _decode(keys: list[Key], res: Resource, cursor: str) -> list[Any]:
    if len(cursor) > MAX_CURSOR:
        raise _bad_cursor()
    try:
        body = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise _bad_cursor() from None
    names = [("-" if desc else "") + name for name, desc in keys]
    if not isinstance(body, dict) or body.get("k") != names:
        raise _bad_cursor()
    values = body.get("v")
    if not isinstance(values, list) or len(values) != len(keys):
        raise _bad_cursor()
    return [
        _decode_value(res.table.c[name], raw) for (name, _), raw in zip(keys, values, strict=True)
    ]


def _after(col: Any, desc: bool, value: Any) -> Any:
    """Rows strictly after ``value`` on one key (NULLs last ascending, first descending)."""
    if value is None:
        return sa.false() if not desc else col.is_not(None)
    if desc:
        return col < value
    return sa.or_(col > value, col.is_(None)) if col.nullable else col > value


def _same(col: Any, value: Any) -> Any:
    return col.is_(None) if value is None else col == value


def after_clauses(res: Resource, keys: list[Key], cursor: str) -> list[sa.ColumnElement[bool]]:
    """WHERE clauses for the rows after ``cursor`` (none for an empty cursor)."""
    if cursor == "":
        return []
    values = _decode(keys, res, cursor)
    cols = [res.table.c[name] for name, _ in keys]
    branches = []
    for i, ((_, desc), col, value) in enumerate(zip(keys, cols, values, strict=True)):
        same = [_same(c, v) for c, v in zip(cols[:i], values[:i], strict=True)]
        branches.append(sa.and_(*same, _after(col, desc, value)))
    out: list[sa.ColumnElement[bool]] = [sa.or_(*branches)]
    # A plain range on the first key, so that an index seeks to the cursor.
    first, (_, desc), value = cols[0], keys[0], values[0]
    if value is None and not desc:
        out.append(first.is_(None))
    elif value is not None and desc:
        out.append(first <= value)
    elif value is not None and not first.nullable:
        out.append(first >= value)
    return out
