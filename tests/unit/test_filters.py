"""Query-string parsing and ransack filters, run against an in-memory SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from kassa.engine.filters import compile_filter, compile_sort
from kassa.engine.ratelimit import Limit, SlidingWindow, request_class
from kassa.jsonapi.errors import ApiError
from kassa.jsonapi.query import MAX_PAGE_SIZE, has_nul, parse_query
from kassa.resources.base import Registry, Resource
from kassa.resources.registry import build_registry

# --- parse_query --------------------------------------------------------------------------------


def code_of(fn: Any, *args: Any) -> str:
    with pytest.raises(ApiError) as info:
        fn(*args)
    assert info.value.status == 400
    return str(info.value.errors[0]["code"])


def test_parse_query_defaults_and_lists() -> None:
    q = parse_query([])
    assert (q.page_number, q.page_size, q.include, q.sort, q.filters, q.ids) == (
        1,
        10,
        [],
        [],
        [],
        None,
    )
    q = parse_query(
        [
            ("include", "line_items.item,market"),
            ("fields[skus]", "code,name"),
            ("sort", "-created_at,code"),
            ("page[number]", "3"),
            ("page[size]", "25"),
            ("filter[q][code_in]", "A,B"),
            ("filter[id]", "x,y"),
            ("other", "1"),
        ]
    )
    assert q.include == [("line_items", "item"), ("market",)]
    assert q.fields == {"skus": {"code", "name"}}
    assert q.sort == [("created_at", True), ("code", False)]
    assert (q.page_number, q.page_size) == (3, 25)
    assert q.filters == [("code_in", "A,B")]
    assert q.ids == ["x", "y"]
    assert ("page[number]", "3") not in q.passthrough
    assert q.passthrough[0] == ("include", "line_items.item,market")
    assert ("other", "1") in q.passthrough


@pytest.mark.parametrize("size", ["0", "26", "-1", "abc", "", "1e1", "2.0", "٣", " 5", "9" * 20])
def test_invalid_page_size(size: str) -> None:
    assert code_of(parse_query, [("page[size]", size)]) == "INVALID_PAGE_VALUE"


def test_page_bounds_and_objects() -> None:
    assert parse_query([("page[size]", str(MAX_PAGE_SIZE))]).page_size == 25
    assert parse_query([("page[number]", "2147483647")]).page_number == 2**31 - 1
    assert code_of(parse_query, [("page[number]", "2147483648")]) == "INVALID_PAGE_VALUE"
    assert code_of(parse_query, [("page[offset]", "1")]) == "INVALID_PAGE_OBJECT"
    assert code_of(parse_query, [("page", "1")]) == "INVALID_PAGE_OBJECT"
    assert code_of(parse_query, [("filter[code]", "1")]) == "INVALID_FILTERS_SYNTAX"
    assert code_of(parse_query, [("filter[q]", "1")]) == "INVALID_FILTERS_SYNTAX"
    assert code_of(parse_query, [("filter[q][code_eq]", "a\x00")]) == "BAD_REQUEST"


def test_has_nul() -> None:
    assert has_nul({"a": ["b", {"c\x00": 1}]})
    assert has_nul("\x00")
    assert not has_nul({"a": ["b", {"c": 1, "d": None}]})


# --- filters on a real (in-memory) database ---------------------------------------------------

SKUS = [
    {"code": "TS-BLACK", "name": "Black Tee", "reference": "ERP-1", "pieces_per_pack": 2},
    {"code": "TS-WHITE", "name": "White Tee", "metadata": {"foo": "bar", "n": 1}},
    {"code": "HOODIE-BLACK", "name": "Black Hoodie", "metadata": {"foo": "baz"}},
    {"code": "ZZ_1", "name": "Alpha 100%", "do_not_ship": True},
    {"code": "QQQ", "name": "Beta", "weight": 1.5},
]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return build_registry()


@pytest.fixture(scope="module")
def db(registry: Registry) -> Iterator[sa.Connection]:
    engine = sa.create_engine("sqlite://")
    skus = registry["skus"].table
    categories = registry["shipping_categories"].table
    skus.metadata.create_all(engine, tables=[skus, categories])
    stamp = datetime(2024, 1, 1, 12)
    with engine.begin() as conn:
        conn.execute(
            categories.insert().values(
                id="CATEGORYID",
                organization_id="o",
                mode="test",
                name="Default",
                created_at=stamp,
                updated_at=stamp,
            )
        )
        for n, values in enumerate(SKUS):
            row = {
                "id": f"SKU{n}",
                "organization_id": "o",
                "mode": "test",
                "created_at": stamp.replace(minute=n),
                "updated_at": stamp,
                "metadata": {},
                "do_not_ship": False,
                "shipping_category_id": "CATEGORYID" if n < 3 else None,
                **values,
            }
            conn.execute(skus.insert().values(**row))
    with engine.connect() as conn:
        yield conn


def codes(db: sa.Connection, registry: Registry, *filters: tuple[str, str]) -> set[str]:
    res: Resource = registry["skus"]
    clauses = [compile_filter(registry, res, key, value, False) for key, value in filters]
    rows = db.execute(sa.select(res.table.c.code).where(*clauses))
    return {r[0] for r in rows}


ALL = {s["code"] for s in SKUS}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ((("code_start", "TS"), ("name_cont", "Black")), {"TS-BLACK"}),
        ((("name_or_code_cont", "qq"),), {"QQQ"}),
        ((("name_or_code_cont", "black"),), {"TS-BLACK", "HOODIE-BLACK"}),
        ((("reference_null", "true"),), ALL - {"TS-BLACK"}),
        ((("reference_not_null", "1"),), {"TS-BLACK"}),
        ((("reference_present", "true"),), {"TS-BLACK"}),
        ((("reference_blank", "true"),), ALL - {"TS-BLACK"}),
        ((("code_in", "QQQ,TS-WHITE"),), {"QQQ", "TS-WHITE"}),
        ((("code_not_in", "QQQ,TS-WHITE"),), ALL - {"QQQ", "TS-WHITE"}),
        ((("code_eq", "qqq"),), set()),
        ((("code_not_eq", "QQQ"),), ALL - {"QQQ"}),
        ((("code_end_any", "WHITE,QQ"),), {"TS-WHITE", "QQQ"}),
        ((("code_not_start_all", "TS,ZZ"),), {"HOODIE-BLACK", "QQQ"}),
        ((("name_cont", "100%"),), {"ZZ_1"}),
        ((("name_cont", "%"),), {"ZZ_1"}),
        ((("code_cont", "_"),), {"ZZ_1"}),
        ((("name_matches", "%Tee"),), {"TS-BLACK", "TS-WHITE"}),
        ((("name_does_not_match", "%Tee"),), ALL - {"TS-BLACK", "TS-WHITE"}),
        ((("name_matches", "x\\"),), set()),
        ((("metadata_jcont", '{"foo":"bar"}'),), {"TS-WHITE"}),
        ((("metadata_jcont", '{"foo":"bar","n":1}'),), {"TS-WHITE"}),
        ((("metadata_jcont", '{"n":2}'),), set()),
        ((("metadata_jcont", "{}"),), ALL),
        ((("do_not_ship_true", "true"),), {"ZZ_1"}),
        ((("do_not_ship_false", "1"),), ALL - {"ZZ_1"}),
        ((("do_not_ship_eq", "false"),), ALL - {"ZZ_1"}),
        ((("created_at_gt", "2024-01-01T12:02:00Z"),), {"ZZ_1", "QQQ"}),
        ((("created_at_lteq", "2024-01-01T13:01:00+01:00"),), {"TS-BLACK", "TS-WHITE"}),
        ((("id_in", "SKU0,SKU4"),), {"TS-BLACK", "QQQ"}),
        ((("shipping_category_id_eq", "CATEGORYID"),), {"TS-BLACK", "TS-WHITE", "HOODIE-BLACK"}),
        ((("shipping_category_name_eq", "Default"),), {"TS-BLACK", "TS-WHITE", "HOODIE-BLACK"}),
        ((("shipping_category_name_eq", "Other"),), set()),
    ],
)
def test_filter_semantics(
    db: sa.Connection, registry: Registry, filters: tuple[tuple[str, str], ...], expected: set[str]
) -> None:
    assert codes(db, registry, *filters) == expected


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        ("nope_eq", "1", "FILTER_NOT_ALLOWED"),
        ("code", "1", "FILTER_NOT_ALLOWED"),
        ("code_bogus", "1", "FILTER_NOT_ALLOWED"),
        ("pieces_per_pack_eq", "1", "FILTER_NOT_ALLOWED"),
        ("inventory_null", "true", "FILTER_NOT_ALLOWED"),
        ("metadata_eq", "x", "FILTER_NOT_ALLOWED"),
        ("metadata_cont", "x", "FILTER_NOT_ALLOWED"),
        ("code_jcont", "{}", "FILTER_NOT_ALLOWED"),
        ("code_true", "true", "FILTER_NOT_ALLOWED"),
        ("do_not_ship_gt", "true", "FILTER_NOT_ALLOWED"),
        ("do_not_ship_cont", "t", "FILTER_NOT_ALLOWED"),
        ("shipping_category_nope_eq", "x", "FILTER_NOT_ALLOWED"),
        ("metadata_jcont", "not json", "INVALID_FILTER_VALUE"),
        ("metadata_jcont", "[1]", "INVALID_FILTER_VALUE"),
        ("metadata_jcont", '{"a":"\\u0000"}', "INVALID_FILTER_VALUE"),
        ("created_at_gt", "yesterday", "INVALID_FILTER_VALUE"),
        ("created_at_gt", "0001-01-01T00:00:00+14:00", "INVALID_FILTER_VALUE"),
        ("created_at_in", "2024-01-01,x", "INVALID_FILTER_VALUE"),
        ("reference_null", "maybe", "INVALID_FILTER_VALUE"),
        ("do_not_ship_eq", "perhaps", "INVALID_FILTER_VALUE"),
    ],
)
def test_filter_errors(registry: Registry, key: str, value: str, code: str) -> None:
    err = code_of(compile_filter, registry, registry["skus"], key, value, False)
    assert err == code


def test_integer_filter_values(registry: Registry) -> None:
    line_items = registry["line_items"]
    compile_filter(registry, line_items, "quantity_gteq", "-5", False)
    for bad in ("9" * 20, "1e5", "1.5", "", "٣"):
        err = code_of(compile_filter, registry, line_items, "quantity_eq", bad, False)
        assert err == "INVALID_FILTER_VALUE"


def test_sort(registry: Registry) -> None:
    skus = registry["skus"]
    order = compile_sort(skus, [("created_at", True), ("code", False)])
    assert [str(o) for o in order] == ["skus.created_at DESC", "skus.code ASC"]
    for name in ("nope", "pieces_per_pack", "inventory", ""):
        assert code_of(compile_sort, skus, [(name, False)]) == "INVALID_SORT_CRITERIA"


# --- rate-limit windows -----------------------------------------------------------------------


def test_sliding_window() -> None:
    window = SlidingWindow(Limit(3, 10))
    assert [window.allow("ip") for _ in range(4)] == [True, True, True, False]
    assert window.allow("other-ip")
    assert window.headers("ip") == {
        "X-Ratelimit-Limit": "3",
        "X-Ratelimit-Interval": "10",
        "X-Ratelimit-Remaining": "0",
    }
    fresh = SlidingWindow(Limit(2, 10))
    fresh.hit("ip", 100.0)
    fresh.hit("ip", 105.0)
    assert fresh.remaining("ip", 109.0) == 0
    assert fresh.remaining("ip", 110.5) == 1
    assert fresh.remaining("ip", 116.0) == 2


def test_request_classes() -> None:
    assert request_class("GET", ["skus"]) == "cacheable"
    assert request_class("GET", ["prices", "x"]) == "cacheable"
    assert request_class("GET", ["orders"]) == "uncacheable"
    assert request_class("POST", ["skus"]) == "writes"
    assert request_class("DELETE", ["orders", "x"]) == "writes"
