"""Query-string parsing and ransack filters, run against an in-memory SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from kassa.auth.principal import Principal
from kassa.engine.filters import Caller, compile_filter, compile_sort
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


INTEGRATION = Principal("o", "o", "test", "app", "integration")
GUEST = Principal("o", "o", "test", "app", "sales_channel", market_id="MARKET")
CUSTOMER = Principal("o", "o", "test", "app", "sales_channel", market_id="MARKET", customer_id="C")


def caller_of(registry: Registry, principal: Principal = INTEGRATION) -> Caller:
    """A caller whose tenant clauses are the principal's organization and mode."""

    def scoped(type_: str) -> list[sa.ColumnElement[bool]]:
        res = registry[type_]
        table = res.table
        return [
            table.c.organization_id == principal.organization_id,
            table.c.mode == principal.mode,
            *res.base_where(),
        ]

    return Caller(principal, scoped)


def codes(
    db: sa.Connection, registry: Registry, *filters: tuple[str, str], caller: Caller | None = None
) -> set[str]:
    res: Resource = registry["skus"]
    who = caller or caller_of(registry)
    clauses = [compile_filter(registry, res, key, value, False, who) for key, value in filters]
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
    err = code_of(
        compile_filter, registry, registry["skus"], key, value, False, caller_of(registry)
    )
    assert err == code


def test_integer_filter_values(registry: Registry) -> None:
    line_items = registry["line_items"]
    who = caller_of(registry)
    compile_filter(registry, line_items, "quantity_gteq", "-5", False, who)
    for bad in ("9" * 20, "1e5", "1.5", "", "٣"):
        err = code_of(compile_filter, registry, line_items, "quantity_eq", bad, False, who)
        assert err == "INVALID_FILTER_VALUE"


def test_sort(registry: Registry) -> None:
    skus = registry["skus"]
    order = compile_sort(skus, [("created_at", True), ("code", False)], GUEST)
    assert [str(o) for o in order] == ["skus.created_at DESC", "skus.code ASC"]
    for name in ("nope", "pieces_per_pack", "inventory", ""):
        assert code_of(compile_sort, skus, [(name, False)], GUEST) == "INVALID_SORT_CRITERIA"


# --- who may filter by what -------------------------------------------------------------------


def test_hops_carry_the_tenant(db: sa.Connection, registry: Registry) -> None:
    """A hop never reaches another organization's (or mode's) rows."""
    stranger = Principal("x", "x", "test", "app", "integration")
    live = Principal("o", "o", "live", "app", "integration")
    on_default = {"TS-BLACK", "TS-WHITE", "HOODIE-BLACK"}
    assert codes(db, registry, ("shipping_category_name_eq", "Default")) == on_default
    for principal in (stranger, live):
        found = codes(
            db,
            registry,
            ("shipping_category_name_eq", "Default"),
            caller=caller_of(registry, principal),
        )
        assert found == set()


@pytest.mark.parametrize(
    ("type_", "key"),
    [
        ("customer_payment_sources", "payment_source_token_start"),
        ("customer_payment_sources", "payment_source_token_or_name_cont"),
        ("customer_payment_sources", "name_or_payment_source_token_cont"),
        ("external_payments", "payment_source_token_eq"),
        ("external_payments", "payment_gateway_external_payments_payment_source_token_start"),
        ("external_payments", "order_line_items_order_token_eq"),
        ("external_payments", "wallet_payment_source_token_in"),
        ("orders", "token_eq"),
        ("orders", "customer_customer_payment_sources_payment_source_token_not_start_any"),
    ],
)
def test_secrets_are_for_integrations(registry: Registry, type_: str, key: str) -> None:
    res = registry[type_]
    for principal in (GUEST, CUSTOMER):
        who = caller_of(registry, principal)
        err = code_of(compile_filter, registry, res, key, "pm_", False, who)
        assert err == "FILTER_NOT_ALLOWED"
    compile_filter(registry, res, key, "pm_", False, caller_of(registry))  # the integration may


def test_sorting_by_a_secret(registry: Registry) -> None:
    res = registry["customer_payment_sources"]
    secret = [("payment_source_token", False)]
    assert code_of(compile_sort, res, secret, CUSTOMER) == "INVALID_SORT_CRITERIA"


@pytest.mark.parametrize(
    ("principal", "type_", "key"),
    [
        (GUEST, "skus", "shipping_category_name_eq"),
        (GUEST, "skus", "shipping_category_id_eq"),
        (CUSTOMER, "shipments", "stock_location_id_in"),
        (CUSTOMER, "customers", "customer_group_customers_email_eq"),
        (CUSTOMER, "customers", "customer_group_name_eq"),
        (CUSTOMER, "orders", "transactions_amount_cents_eq"),
        (CUSTOMER, "orders", "authorizations_amount_cents_eq"),
        (CUSTOMER, "external_payments", "payment_gateway_name_eq"),
        (CUSTOMER, "external_payments", "payment_gateway_external_payments_id_eq"),
        (CUSTOMER, "external_payments", "order_number_or_payment_gateway_name_eq"),
    ],
)
def test_hop_into_unreadable_resource(
    registry: Registry, principal: Principal, type_: str, key: str
) -> None:
    """A hop into what the caller may not read is refused like an unknown filter."""
    res = registry[type_]
    err = code_of(compile_filter, registry, res, key, "1", False, caller_of(registry, principal))
    assert err == "FILTER_NOT_ALLOWED"
    compile_filter(registry, res, key, "1", False, caller_of(registry))  # the integration may


def test_hop_carries_the_row_filter(registry: Registry) -> None:
    """Each hop's subquery holds the target's row filter for this caller."""
    skus = registry["skus"]
    guest = str(
        compile_filter(
            registry, skus, "prices_amount_cents_eq", "1", False, caller_of(registry, GUEST)
        )
    )
    admin = str(
        compile_filter(registry, skus, "prices_amount_cents_eq", "1", False, caller_of(registry))
    )
    assert "markets.price_list_id" in guest and "markets" not in admin
    customers = registry["customers"]
    key = "customer_payment_sources_customer_email_eq"
    sql = str(
        compile_filter(registry, customers, key, "a@b.c", False, caller_of(registry, CUSTOMER))
    )
    # The wallet hop holds the caller's own entries, the customer hop the caller itself.
    assert "customer_payment_sources.customer_id = :" in sql and "customers.id = :" in sql


def test_relationship_ids_are_hops_for_sales_channels(registry: Registry) -> None:
    """``<rel>_id`` names a related row: for a storefront it must be a row it may read."""
    orders = registry["orders"]
    admin = str(compile_filter(registry, orders, "customer_id_eq", "X", False, caller_of(registry)))
    assert admin == "orders.customer_id = :customer_id_1"
    who = caller_of(registry, CUSTOMER)
    sql = str(compile_filter(registry, orders, "customer_id_eq", "X", False, who))
    assert "orders.customer_id IN (SELECT customers.id" in sql and "customers.id = :" in sql
    # Polymorphic: one branch per type it may name, each with that type's row filter.
    sql = str(compile_filter(registry, orders, "payment_source_id_eq", "X", False, who))
    assert "orders.payment_source_type = :" in sql
    assert "FROM external_payments" in sql and "FROM wire_transfers" in sql
    assert sql.count("external_payments.order_id IN (SELECT orders.id") == 1


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
