"""Bad input never yields a 500: every refusal is a JSON:API error document (§10)."""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.shop import ADDRESS, Shop
from tests.support import JSONAPI, Client

FUZZ_EXAMPLES = int(os.environ.get("KASSA_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=FUZZ_EXAMPLES == 60,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def assert_error_document(r: httpx.Response) -> None:
    """Never a 5xx; a 4xx carries a well-formed JSON:API error document."""
    assert r.status_code < 500, (r.request.method, r.request.url, r.text[:2000])
    if r.status_code < 400:
        return
    assert r.headers["content-type"] == JSONAPI, r.text
    errors = r.json()["errors"]
    assert isinstance(errors, list) and errors
    for err in errors:
        assert err["status"] == str(r.status_code), r.text
        for key in ("code", "title", "detail"):
            assert isinstance(err[key], str) and err[key], r.text
        if r.status_code == 422:
            assert err["source"]["pointer"].startswith("/data/"), r.text
            assert err["detail"] == f"{err['source']['pointer'].rsplit('/', 1)[1]} - {err['title']}"
            assert isinstance(err["meta"]["error"], str)


def raw(client: Client, method: str, path: str, body: bytes | str) -> httpx.Response:
    return client.http.request(method, path, content=body, headers=client.headers())


def expect(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert_error_document(r)
    assert r.status_code == status, r.text
    err = r.json()["errors"][0]
    if code is not None:
        assert err["code"] == code, r.text
    return dict(err)


def address_body(**attributes: Any) -> dict[str, Any]:
    return {"data": {"type": "addresses", "attributes": {**ADDRESS, **attributes}}}


# --- malformed bodies ---------------------------------------------------------------------------


def test_malformed_documents(shop: Shop) -> None:
    a = shop.admin
    expect(raw(a, "POST", "/api/addresses", b""), 400, "PARAM_MISSING")
    for body in (b"{", b"not json", b"\xff\xfe", b'{"data": {"type": "addresses",}}', b"NaN"):
        expect(raw(a, "POST", "/api/addresses", body), 400, "INVALID_DATA_FORMAT")
    for doc in ([], [1, 2], "text", 42, None, {}, {"data": []}, {"data": "x"}, {"data": None}):
        expect(raw(a, "POST", "/api/addresses", json.dumps(doc)), 400)
    expect(a.post("/api/addresses", {"data": {"attributes": ADDRESS}}), 400, "PARAM_MISSING")
    expect(a.post("/api/addresses", {"data": {"type": "skus", "attributes": ADDRESS}}), 400)
    expect(a.post("/api/addresses", {"data": {"type": ["addresses"]}}), 400)
    for attributes in ([], "x", 5, [ADDRESS], ""):
        r = a.post("/api/addresses", {"data": {"type": "addresses", "attributes": attributes}})
        expect(r, 400, "INVALID_DATA_FORMAT")
    nul = json.dumps(address_body(city="Mi\x00lano"))
    expect(raw(a, "POST", "/api/addresses", nul), 400, "INVALID_DATA_FORMAT")
    nul = json.dumps(address_body(metadata={"k\x00": 1}))
    expect(raw(a, "POST", "/api/addresses", nul), 400, "INVALID_DATA_FORMAT")
    expect(raw(a, "POST", "/api/addresses", b'{"data": {"type": "\\ud800"}}'), 400)


def test_attribute_rules(shop: Shop) -> None:
    a = shop.admin
    err = expect(a.post("/api/addresses", address_body(colour="red")), 400, "PARAM_NOT_ALLOWED")
    assert err["source"]["pointer"] == "/data/attributes/colour"
    expect(a.post("/api/addresses", address_body(full_name="x")), 400, "PARAM_NOT_ALLOWED")
    expect(a.post("/api/addresses", address_body(id="abcdefghij")), 400, "PARAM_NOT_ALLOWED")
    expect(a.post("/api/addresses", address_body(created_at="2020-01-01")), 400)
    expect(a.post("/api/addresses", address_body(_add_tags="a")), 400, "PARAM_NOT_ALLOWED")
    oid = shop.cart(shop.guest())
    expect(a.update("orders", oid, {"number": "x", "status": "placed"}), 400, "PARAM_NOT_ALLOWED")
    expect(a.update("orders", oid, {"_not_a_trigger": True}), 400, "PARAM_NOT_ALLOWED")
    for name, value in (
        ("city", 5),
        ("city", {"a": 1}),
        ("city", ["Milano"]),
        ("city", True),
        ("lat", "north"),
        ("lat", True),
        ("business", "yes"),
        ("business", 1),
        ("metadata", "x"),
        ("metadata", [1]),
    ):
        err = expect(a.post("/api/addresses", address_body(**{name: value})), 400)
        assert err["code"] == "INVALID_FIELD_VALUE"
        assert err["source"]["pointer"] == f"/data/attributes/{name}"
    for value in ("tomorrow", 5, "2020-13-45", "0001-01-01T00:00:00+14:00"):
        r = a.update("orders", oid, {"_place": value})
        expect(r, 400, "INVALID_FIELD_VALUE")
    r = a.update("orders", oid, {"_place": True})
    assert r.status_code in (200, 422), r.text


def test_huge_and_out_of_range_values(shop: Shop) -> None:
    a = shop.admin
    category = shop.ids["shipping_category"]

    def sku(**attributes: Any) -> httpx.Response:
        return a.post(
            "/api/skus",
            {
                "data": {
                    "type": "skus",
                    "attributes": {"code": "BIG", "name": "Big", **attributes},
                    "relationships": {
                        "shipping_category": {
                            "data": {"type": "shipping_categories", "id": category}
                        }
                    },
                }
            },
        )

    err = expect(sku(code="C" * 256), 422, "VALIDATION_ERROR")
    assert err["meta"] == {"error": "too_long", "count": 255}
    assert err["source"]["pointer"] == "/data/attributes/code"
    assert err["detail"] == "code - is too long (maximum is 255 characters)"
    r = a.post("/api/addresses", address_body(city="x" * 300))
    assert r.status_code == 201, r.text
    r = a.post("/api/addresses", address_body(notes="n" * 60_000))
    assert r.status_code == 201, r.text
    expect(a.post("/api/addresses", address_body(notes="n" * 70_000)), 422, "VALIDATION_ERROR")
    r = a.post("/api/addresses", address_body(metadata={"big": "m" * 200_000}))
    expect(r, 422, "VALIDATION_ERROR")  # free-form JSON is bounded (tests/security/test_limits.py)
    email = "e" * 300 + "@example.com"
    r = a.post("/api/customers", {"data": {"type": "customers", "attributes": {"email": email}}})
    expect(r, 422, "VALIDATION_ERROR")
    for value in (2**31, 2**63, 2**64 - 1, -(2**40), "99999999999999999999", 10**30):
        r = sku(pieces_per_pack=value)
        assert r.status_code in (400, 422), r.text
        assert_error_document(r)
    err = expect(sku(pieces_per_pack=2**31), 422, "VALIDATION_ERROR")
    assert err["meta"] == {"error": "less_than_or_equal_to", "count": 2**31 - 1}
    r = sku(pieces_per_pack="12")
    assert r.status_code == 201 and r.json()["data"]["attributes"]["pieces_per_pack"] == 12
    oid = shop.cart(shop.guest())
    r = a.post(
        "/api/line_items",
        {
            "data": {
                "type": "line_items",
                "attributes": {"sku_code": "TSHIRT-XL", "quantity": 2**40},
                "relationships": {"order": {"data": {"type": "orders", "id": oid}}},
            }
        },
    )
    expect(r, 422, "VALIDATION_ERROR")
    r = a.post("/api/addresses", address_body(lat=1e308, lng=-1e308))
    assert r.status_code == 201, r.text
    huge_query = {"filter[q][city_eq]": "x" * 20_000, "include": "a," * 2000}
    assert_error_document(a.get("/api/addresses", **huge_query))


def test_relationship_linkage_shapes(shop: Shop) -> None:
    a = shop.admin
    guest = shop.guest()
    oid = guest.create("orders", {})["id"]
    address = a.create("addresses", ADDRESS)["id"]
    shapes: list[Any] = [
        "abc",
        5,
        [],
        {},
        {"id": address},
        {"data": "x"},
        {"data": 5},
        {"data": {"id": address}},
        {"data": {"type": "addresses"}},
        {"data": {"type": "addresses", "id": 5}},
        {"data": {"type": 5, "id": address}},
        {"data": {"type": "skus", "id": address}},
        {"data": [{"type": "addresses", "id": address}]},
        {"data": {"type": "addresses", "id": "x" * 5000}},
        {"data": {"type": "addresses", "id": "nope\x00"}},
        {"data": {"type": "addresses", "id": "abcdefghij"}},
        {"data": {"type": "addresses", "id": ["a"]}},
    ]
    for shape in shapes:
        for client in (a, guest):
            body = {
                "data": {"type": "orders", "id": oid, "relationships": {"billing_address": shape}}
            }
            r = client.patch(f"/api/orders/{oid}", body)
            assert r.status_code in (400, 422), (shape, r.text[:300])
            assert_error_document(r)
    body = {"data": {"type": "orders", "id": oid, "relationships": {"nope": {"data": None}}}}
    expect(a.patch(f"/api/orders/{oid}", body), 400, "PARAM_NOT_ALLOWED")
    body = {"data": {"type": "orders", "id": oid, "relationships": []}}
    expect(a.patch(f"/api/orders/{oid}", body), 400, "INVALID_DATA_FORMAT")
    body = {"data": {"type": "orders", "id": oid, "relationships": {"line_items": {"data": {}}}}}
    assert_error_document(a.patch(f"/api/orders/{oid}", body))
    body = {
        "data": {
            "type": "orders",
            "id": oid,
            "relationships": {"billing_address": {"data": {"type": "addresses", "id": address}}},
        }
    }
    r = a.patch(f"/api/orders/{oid}", body)
    assert r.status_code == 200, r.text


def test_bad_query_parameters(shop: Shop) -> None:
    a = shop.admin
    expect(a.get("/api/skus", include="nope"), 400, "INVALID_INCLUDE")
    expect(a.get("/api/skus", sort="nope"), 400, "INVALID_SORT_CRITERIA")
    expect(a.get("/api/skus", **{"filter[q][nope_eq]": "1"}), 400, "FILTER_NOT_ALLOWED")
    expect(a.get("/api/skus", **{"filter[q][metadata_eq]": "1"}), 400, "FILTER_NOT_ALLOWED")
    expect(a.get("/api/skus", **{"filter[q][code_jcont]": "{}"}), 400, "FILTER_NOT_ALLOWED")
    expect(a.get("/api/skus", **{"filter[q][code_true]": "1"}), 400, "FILTER_NOT_ALLOWED")
    expect(a.get("/api/skus", **{"filter[q][do_not_ship_gt]": "1"}), 400, "FILTER_NOT_ALLOWED")
    expect(a.get("/api/skus", **{"filter[nope]": "1"}), 400, "INVALID_FILTERS_SYNTAX")
    expect(a.get("/api/skus", **{"filter[q]": "1"}), 400, "INVALID_FILTERS_SYNTAX")
    expect(a.get("/api/skus", **{"page[size]": "1000"}), 400, "INVALID_PAGE_VALUE")
    expect(a.get("/api/skus", **{"page[number]": "abc"}), 400, "INVALID_PAGE_VALUE")
    expect(a.get("/api/skus", **{"page[number]": "9" * 30}), 400, "INVALID_PAGE_VALUE")
    expect(a.get("/api/skus", **{"page[size]": "1e1"}), 400, "INVALID_PAGE_VALUE")
    expect(a.get("/api/skus", **{"page": "1"}), 400, "INVALID_PAGE_OBJECT")
    expect(a.get("/api/skus", **{"filter[q][code_eq]": "a\x00"}), 400, "BAD_REQUEST")
    expect(a.get("/api/skus", **{"filter[q][created_at_gt]": "0001-01-01T00:00+01:00"}), 400)
    expect(a.get("/api/line_items", **{"filter[q][quantity_eq]": "9" * 25}), 400)
    expect(a.get("/api/skus", **{"filter[q][metadata_jcont]": '{"a":"\\u0000"}'}), 400)
    assert a.get("/api/skus", **{"filter[q][code_matches]": "ab\\"}).status_code == 200
    assert a.get("/api/skus?filter[q][code_eq]=%FF%FE").status_code == 200
    expect(a.get("/api/orders/%00"), 404, "RECORD_NOT_FOUND")
    expect(a.get("/api/orders/" + "x" * 5000), 404, "RECORD_NOT_FOUND")


# --- property-based: random query strings and bodies ---------------------------------------------

SKU_ATTRS = ["code", "name", "reference", "metadata", "created_at", "do_not_ship", "id", "nope"]
PREDICATES = ["eq", "not_eq", "in", "lt", "gteq", "cont", "start_any", "matches", "null", "true"]
PREDICATES += ["jcont", "present", "not_in_or_null", "eq_or_null", "gt_all", "end", "blank"]
VALUES = ["", "true", "false", "1", "-1", "0", "abc", "a,b", "%", "_", "\\", "2020-01-01", "{}"]
VALUES += ['{"a":1}', "[1]", "9" * 25, "1e400", "nan", "x" * 3000, "\x00", "é,ü", "null"]
KEYS = ["include", "sort", "fields[skus]", "fields[orders]", "page[size]", "page[number]"]
KEYS += ["filter[id]", "filter[q]", "page", "fields", "filter[q][]", "include[]", "sort[x]"]
INCLUDES = ["line_items", "market", "line_items.item", "customer", "nope", "", "."]
FIELDS = ["code", "name", "status", "line_items", "-code", "nope", ""]

filter_keys = st.builds(
    lambda a, p: f"filter[q][{a}_{p}]",
    st.sampled_from([*SKU_ATTRS, "name_or_code", "shipping_category_name", "market_id"]),
    st.sampled_from(PREDICATES),
)
query_keys = st.one_of(st.sampled_from(KEYS), filter_keys, st.text(max_size=12))
query_values = st.one_of(
    st.sampled_from(VALUES),
    st.lists(st.sampled_from(INCLUDES + FIELDS), max_size=4).map(",".join),
    st.text(max_size=20),
)
queries = st.lists(st.tuples(query_keys, query_values), max_size=5)

scalars = st.one_of(
    st.sampled_from([True, "true", 1, "x@example.com", "it", "abcdefghij", "", None, {}]),
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**65), max_value=2**65),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["true", "1", "", "x" * 400, "2020-01-01T00:00:00Z", "\x00"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
ORDER_ATTRS = [
    "customer_email",
    "language_code",
    "metadata",
    "reference",
    "_place",
    "_cancel",
    "_refresh",
    "_update_taxes",
    "_billing_address_clone_id",
    "_shipping_address_same_as_billing",
    "_customer_payment_source_id",
    "_save_payment_source_to_customer_wallet",
    "coupon_code",
    "gift_card_code",
    "number",
    "nope",
]
ADDRESS_ATTRS = [*ADDRESS, "business", "lat", "lng", "metadata", "email", "notes", "full_name"]
RELS = ["billing_address", "shipping_address", "market", "payment_method", "customer", "nope"]
linkage = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {
            "data": st.one_of(
                st.none(),
                st.fixed_dictionaries(
                    {
                        "type": st.sampled_from(["addresses", "markets", "skus", "x"]),
                        "id": st.text(max_size=12),
                    }
                ),
                st.lists(st.fixed_dictionaries({"type": st.text(), "id": st.text()}), max_size=2),
            )
        }
    ),
)


PLAUSIBLE = [True, "true", 1, False, 0, "a@example.com", "it", "abcdefghij", "", None, {}, "--5"]


def documents(type_: str, attrs: list[str], id_: str | None) -> st.SearchStrategy[Any]:
    """Mostly well-formed documents with odd values, some broken envelopes, some junk."""
    values = st.one_of(st.sampled_from(PLAUSIBLE), st.sampled_from(PLAUSIBLE), json_values)
    data = st.fixed_dictionaries(
        {
            "type": st.just(type_),
            "attributes": st.dictionaries(st.sampled_from(attrs), values, max_size=4),
        },
        optional={"relationships": st.dictionaries(st.sampled_from(RELS), linkage, max_size=2)},
    )
    if id_ is not None:
        data = data.map(lambda d: {**d, "id": id_})
    envelope = st.fixed_dictionaries(
        {"data": st.dictionaries(st.sampled_from(["type", "id", "attributes"]), json_values)}
    )
    good = st.fixed_dictionaries({"data": data})
    return st.one_of(good, good, good, envelope, json_values, st.binary(max_size=40))


def _body(doc: Any) -> bytes:
    return doc if isinstance(doc, bytes) else json.dumps(doc).encode()


@pytest.fixture
def targets(shop: Shop) -> tuple[Shop, Client, str]:
    guest = shop.guest()
    oid = shop.cart(guest, pay=False)
    return shop, guest, oid


@FUZZ
@given(params=queries, as_guest=st.booleans())
def test_fuzz_list_query(targets: tuple[Shop, Client, str], params: Any, as_guest: bool) -> None:
    shop, guest, _ = targets
    client = guest if as_guest else shop.admin
    r = client.http.get("/api/skus", params=params, headers=client.headers())
    assert_error_document(r)


@FUZZ
@given(params=queries, as_guest=st.booleans())
def test_fuzz_retrieve_query(
    targets: tuple[Shop, Client, str], params: Any, as_guest: bool
) -> None:
    shop, guest, oid = targets
    client = guest if as_guest else shop.admin
    r = client.http.get(f"/api/orders/{oid}", params=params, headers=client.headers())
    assert_error_document(r)


@FUZZ
@given(doc=documents("addresses", ADDRESS_ATTRS, None), as_guest=st.booleans())
def test_fuzz_create_body(targets: tuple[Shop, Client, str], doc: Any, as_guest: bool) -> None:
    shop, guest, _ = targets
    client = guest if as_guest else shop.admin
    r = raw(client, "POST", "/api/addresses", _body(doc))
    assert_error_document(r)


@FUZZ
@given(doc=st.data(), as_guest=st.booleans())
def test_fuzz_update_body(targets: tuple[Shop, Client, str], doc: Any, as_guest: bool) -> None:
    shop, guest, oid = targets
    client = guest if as_guest else shop.admin
    body = doc.draw(documents("orders", ORDER_ATTRS, oid))
    r = raw(client, "PATCH", f"/api/orders/{oid}", _body(body))
    assert_error_document(r)
    if os.environ.get("KASSA_FUZZ_TRACE"):
        print("PATCH", r.status_code, r.text[:160] if r.status_code >= 400 else "")


# --- the token endpoint --------------------------------------------------------------------------


def assert_token_error_document(r: httpx.Response) -> None:
    assert r.status_code < 500, r.text
    assert r.headers["content-type"].startswith("application/json")
    if r.status_code >= 400:
        for err in r.json()["errors"]:
            assert err["status"] == r.status_code
            assert err["code"] and err["title"] and err["detail"]


def test_token_endpoint_bad_input(shop: Shop) -> None:
    cid = shop.creds["sales_channel_client_id"]
    code = shop.market_code
    bodies: list[Any] = [
        {"grant_type": "client_credentials", "client_id": "a\x00"},
        {"grant_type": "client_credentials", "client_id": cid, "scope": "market:code:a\x00"},
        {"grant_type": "client_credentials", "client_id": cid, "scope": "market:" + "9" * 25},
        {"grant_type": "client_credentials", "client_id": cid, "scope": "market:²"},
        {"grant_type": "client_credentials", "client_id": cid, "scope": "market:id:" + "x" * 5000},
        {"grant_type": "client_credentials", "client_id": cid, "scope": ["market:all"]},
        {"grant_type": "client_credentials", "client_id": cid, "scope": {"a": 1}},
        {"grant_type": "client_credentials", "client_id": cid, "scope": f"market:code:{code} x"},
        {"grant_type": "client_credentials", "client_id": cid, "scope": "market:code:"},
        {"grant_type": "client_credentials", "client_id": ["x"]},
        {"grant_type": "password", "client_id": cid, "username": "a\x00", "password": "x"},
        {"grant_type": "password", "client_id": cid, "username": ["a"], "password": {}},
        {"grant_type": "password", "client_id": cid, "username": "a@b.c", "password": "x" * 20_000},
        {"grant_type": "refresh_token", "client_id": cid, "refresh_token": "a\x00"},
        {"grant_type": "refresh_token", "client_id": cid, "refresh_token": 5},
        {"grant_type": ["client_credentials"], "client_id": cid},
        {"grant_type": None, "client_id": cid},
        {"client_id": cid},
        {},
    ]
    for body in bodies:
        r = httpx.post(shop.base_url + "/oauth/token", json=body)
        assert_token_error_document(r)
        assert r.status_code in (400, 401), (body, r.text)
    for raw_body, ctype in (
        (b"grant_type=client_credentials&client_id=%00", "application/x-www-form-urlencoded"),
        (b"\xff\xfe", "application/x-www-form-urlencoded"),
        (b"\xff\xfe", "application/json"),
        (b"[]", "application/json"),
        (b"", "text/plain"),
    ):
        r = httpx.post(
            shop.base_url + "/oauth/token", content=raw_body, headers={"Content-Type": ctype}
        )
        assert_token_error_document(r)
        assert r.status_code in (400, 401), r.text
    r = httpx.post(shop.base_url + "/oauth/revoke", json={"client_id": cid, "token": "x\x00"})
    assert r.status_code == 400
    r = httpx.post(shop.base_url + "/oauth/revoke", json={"client_id": cid, "token": ["x"]})
    assert r.status_code == 200 and r.json() == {}


token_bodies = st.one_of(
    st.fixed_dictionaries(
        {"grant_type": st.sampled_from(["client_credentials", "password", "refresh_token", "x"])},
        optional={
            "client_id": json_values,
            "client_secret": json_values,
            "scope": st.one_of(
                json_values,
                st.builds(
                    lambda a, b: f"{a}:{b}",
                    st.sampled_from(["market", "stock_location", "store", "x"]),
                    st.text(max_size=20),
                ),
            ),
            "username": json_values,
            "password": json_values,
            "refresh_token": json_values,
        },
    ),
    json_values,
)


@FUZZ
@given(body=token_bodies, real_client=st.booleans())
def test_fuzz_token_endpoint(shop: Shop, body: Any, real_client: bool) -> None:
    if real_client and isinstance(body, dict):
        body = {**body, "client_id": shop.creds["sales_channel_client_id"]}
    r = httpx.post(shop.base_url + "/oauth/token", content=json.dumps(body).encode())
    assert_token_error_document(r)
