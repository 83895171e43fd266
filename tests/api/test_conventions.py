"""JSON:API conventions over HTTP: media types, documents, reading, writing, errors, modes.

Acceptance checks 6–18, 20 and 21 of api-conventions §14 (tokens and rate limits are in
``test_auth.py``).
"""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.shop import ADDRESS, Shop
from tests.support import JSONAPI, Client, error_of, token_for

ID = re.compile(r"^[A-Za-z]{10}$")
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """One JSON:API error object with a string status equal to the HTTP status."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == JSONAPI
    err = error_of(r)
    assert err["code"] == code, r.text
    assert err["status"] == str(status)
    assert err["title"] and err["detail"]
    if status in (401, 404, 405, 406, 415, 423, 429):
        assert "source" not in err
    return err


def add_skus(shop: Shop, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for attrs in specs:
        out.append(
            shop.admin.create(
                "skus",
                {"name": attrs.get("name", attrs["code"]), **attrs},
                {"shipping_category": ("shipping_categories", shop.ids["shipping_category"])},
            )
        )
    return out


def codes(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return [d["attributes"]["code"] for d in r.json()["data"]]


# --- checks 6 and 7: permissions of a guest token --------------------------------------------


def test_guest_reads_a_draft_order_but_cannot_list_orders(shop: Shop) -> None:
    guest = shop.guest()
    order = guest.create("orders", {})
    assert order["attributes"]["status"] == "draft"
    r = guest.get(f"/api/orders/{order['id']}")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["id"] == order["id"]
    err = assert_error(guest.get("/api/orders"), 401, "UNAUTHORIZED")
    assert err["title"] == "Access denied"
    assert (
        err["detail"] == "You are not authorized to perform this action on the requested resource."
    )
    assert_error(guest.get("/api/customer_payment_sources"), 401, "UNAUTHORIZED")
    assert_error(guest.get("/api/external_gateways"), 401, "UNAUTHORIZED")


def test_no_authorization_header(shop: Shop) -> None:
    for path in ("/api/skus", "/api/orders", "/api/orders/abcdefghij", "/api/organization"):
        err = assert_error(Client(shop.base_url).get(path), 401, "INVALID_TOKEN")
        assert err["title"] == "Invalid token"
        assert err["detail"] == "The access token you provided is invalid."


# --- check 8: media types --------------------------------------------------------------------


def test_media_types(shop: Shop) -> None:
    a = shop.admin
    r = a.http.get("/api/skus", headers=a.headers({"Accept": "text/html"}))
    assert_error(r, 406, "NOT_ACCEPTABLE")
    body = '{"data":{"type":"addresses","attributes":{}}}'
    for ctype in (
        "application/json",
        "text/plain",
        "application/vnd.api+json; version=1",
        "application/vnd.api+json; ext=bulk",
    ):
        r = a.http.post("/api/addresses", content=body, headers=a.headers({"Content-Type": ctype}))
        assert_error(r, 415, "UNSUPPORTED_MEDIA_TYPE")
    r = a.http.post("/api/addresses", content=body, headers={"Authorization": f"Bearer {a.token}"})
    assert_error(r, 415, "UNSUPPORTED_MEDIA_TYPE")
    for accept in (None, "*/*", "application/*", JSONAPI, f"text/html, {JSONAPI}"):
        headers = a.headers({"Accept": accept} if accept else None)
        if accept is None:
            headers.pop("Accept")
        r = a.http.get("/api/skus", headers=headers)
        assert r.status_code == 200, (accept, r.text)
        assert r.headers["content-type"] == JSONAPI
    r = a.http.post(
        "/api/addresses",
        content='{"data":{"type":"addresses","attributes":' + _json(ADDRESS) + "}}",
        headers=a.headers({"Content-Type": f"{JSONAPI}; charset=utf-8"}),
    )
    assert r.status_code == 201, r.text


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


# --- check 9: pagination ---------------------------------------------------------------------


def _query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query)


def test_pagination(shop: Shop) -> None:
    add_skus(shop, [{"code": f"PAGE-{n:02d}"} for n in range(12)])
    a = shop.admin
    r = a.get("/api/skus")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert len(doc["data"]) == 10
    assert doc["meta"] == {"record_count": 13, "page_count": 2}
    assert set(doc["links"]) == {"first", "next", "last"}
    base = f"{shop.base_url}/api/skus"
    assert doc["links"]["first"] == f"{base}?page[number]=1&page[size]=10"
    assert doc["links"]["next"] == f"{base}?page[number]=2&page[size]=10"
    assert doc["links"]["last"] == f"{base}?page[number]=2&page[size]=10"

    second = a.get("/api/skus", **{"page[number]": "2"}).json()
    assert len(second["data"]) == 3
    assert set(second["links"]) == {"first", "prev", "last"}
    assert second["links"]["prev"] == f"{base}?page[number]=1&page[size]=10"
    assert {d["id"] for d in second["data"]}.isdisjoint({d["id"] for d in doc["data"]})

    r = a.get("/api/skus?sort=code&filter[q][code_start]=PAGE&page[size]=5&page[number]=2")
    doc = r.json()
    assert [d["attributes"]["code"] for d in doc["data"]] == [f"PAGE-{n:02d}" for n in range(5, 10)]
    assert doc["meta"] == {"record_count": 12, "page_count": 3}
    assert set(doc["links"]) == {"first", "prev", "next", "last"}
    for name, number in (("first", 1), ("prev", 1), ("next", 3), ("last", 3)):
        params = _query(doc["links"][name])
        assert params[-2:] == [("page[number]", str(number)), ("page[size]", "5")]
        assert params[:-2] == [("sort", "code"), ("filter[q][code_start]", "PAGE")]
        follow = a.http.get(doc["links"][name], headers=a.headers())
        assert follow.status_code == 200

    beyond = a.get("/api/skus", **{"page[number]": "99"}).json()
    assert beyond["data"] == [] and beyond["meta"]["record_count"] == 13

    empty = a.get("/api/skus", **{"filter[q][code_eq]": "NOTHING"}).json()
    assert empty["data"] == []
    assert empty["meta"] == {"record_count": 0, "page_count": 0}
    assert "prev" not in empty["links"] and "next" not in empty["links"]

    assert len(a.get("/api/skus", **{"page[size]": "25"}).json()["data"]) == 13
    for size in ("26", "0", "-1", "abc", "1000", "2.5", ""):
        err = assert_error(a.get("/api/skus", **{"page[size]": size}), 400, "INVALID_PAGE_VALUE")
        assert "source" not in err or "pointer" not in err["source"]
    for number in ("0", "abc", "-3"):
        assert_error(a.get("/api/skus", **{"page[number]": number}), 400, "INVALID_PAGE_VALUE")
    assert_error(a.get("/api/skus", **{"page[offset]": "1"}), 400, "INVALID_PAGE_OBJECT")


# --- check 10: sort and sparse fieldsets -----------------------------------------------------


def test_sort_and_sparse_fieldsets(shop: Shop) -> None:
    add_skus(shop, [{"code": c} for c in ("SORT-B", "SORT-A", "SORT-C")])
    a = shop.admin
    everything = a.get("/api/skus", **{"page[size]": "25"}).json()["data"]
    expected = sorted(everything, key=lambda d: d["attributes"]["code"])
    expected.sort(key=lambda d: d["attributes"]["created_at"], reverse=True)
    r = a.get("/api/skus", sort="-created_at,code", **{"fields[skus]": "code,name"})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert [d["id"] for d in data] == [d["id"] for d in expected]
    for d in data:
        assert set(d["attributes"]) == {"code", "name"}
        assert "relationships" not in d
        assert d["links"]["self"] == f"{shop.base_url}/api/skus/{d['id']}"
    assert codes(a.get("/api/skus", sort="code")) == sorted(codes(a.get("/api/skus")))
    assert codes(a.get("/api/skus", sort="-code")) == sorted(codes(a.get("/api/skus")))[::-1]

    r = a.get("/api/skus", **{"fields[skus]": "code,shipping_category"})
    assert set(r.json()["data"][0]["relationships"]) == {"shipping_category"}
    assert_error(a.get("/api/skus", sort="pieces_per_pack"), 400, "INVALID_SORT_CRITERIA")
    assert_error(a.get("/api/skus", sort="nope,-code"), 400, "INVALID_SORT_CRITERIA")
    assert_error(a.get("/api/skus", **{"fields[skus]": "code,nope"}), 400, "INVALID_FIELD")
    assert_error(a.get("/api/skus", **{"fields[nopes]": "code"}), 400, "INVALID_RESOURCE")


# --- check 11: filters -----------------------------------------------------------------------


def test_filters(shop: Shop) -> None:
    black, white, hoodie, alpha, beta = add_skus(
        shop,
        [
            {"code": "TS-BLACK", "name": "Black Tee", "reference": "ERP-1"},
            {"code": "TS-WHITE", "name": "White Tee", "metadata": {"foo": "bar", "n": 1}},
            {"code": "HOODIE-BLACK", "name": "Black Hoodie", "metadata": {"foo": "baz"}},
            {"code": "ZZ-ONE", "name": "Alpha Qqq"},
            {"code": "QQQ-TWO", "name": "Beta"},
        ],
    )
    a = shop.admin

    def ids(**params: str) -> set[str]:
        r = a.get("/api/skus", **{"page[size]": "25", **params})
        assert r.status_code == 200, r.text
        return {d["id"] for d in r.json()["data"]}

    both = {"filter[q][code_start]": "TS", "filter[q][name_cont]": "Black"}
    assert ids(**both) == {black["id"]}
    assert ids(**{"filter[q][name_or_code_cont]": "qqq"}) == {alpha["id"], beta["id"]}
    everyone = ids()
    assert ids(**{"filter[q][reference_null]": "true"}) == everyone - {black["id"]}
    assert ids(**{"filter[q][reference_null]": "false"}) == {black["id"]}
    assert ids(**{"filter[q][reference_eq]": "ERP-1"}) == {black["id"]}
    assert ids(**{"filter[q][code_in]": "TS-WHITE,ZZ-ONE"}) == {white["id"], alpha["id"]}
    assert ids(**{"filter[q][code_not_in]": "TS-WHITE,ZZ-ONE"}) == everyone - {
        white["id"],
        alpha["id"],
    }
    assert ids(**{"filter[q][metadata_jcont]": '{"foo":"bar"}'}) == {white["id"]}
    assert ids(**{"filter[q][metadata_jcont]": '{"foo":"baz"}'}) == {hoodie["id"]}
    assert ids(**{"filter[q][metadata_jcont]": '{"foo":"bar","n":1}'}) == {white["id"]}
    assert ids(**{"filter[q][metadata_jcont]": '{"foo":"nope"}'}) == set()
    assert ids(**{"filter[q][code_end]": "BLACK"}) == {black["id"], hoodie["id"]}
    assert ids(**{"filter[q][code_start_any]": "ZZ,QQQ"}) == {alpha["id"], beta["id"]}
    assert ids(**{"filter[q][name_matches]": "%Tee"}) == {black["id"], white["id"]}
    assert ids(**{"filter[q][code_cont]": "%"}) == set()
    assert ids(**{"filter[id]": f"{black['id']},{beta['id']}"}) == {black["id"], beta["id"]}
    assert ids(**{"filter[q][id_in]": f"{black['id']},{beta['id']}"}) == {black["id"], beta["id"]}
    assert ids(**{"filter[q][created_at_gt]": "2000-01-01T00:00:00Z"}) == everyone
    assert ids(**{"filter[q][created_at_lt]": "2000-01-01"}) == set()
    assert ids(**{"filter[q][shipping_category_id_eq]": shop.ids["shipping_category"]}) == everyone
    assert ids(**{"filter[q][shipping_category_name_eq]": "Default"}) == everyone
    assert ids(**{"filter[q][do_not_ship_true]": "true"}) == everyone - {
        black["id"],
        white["id"],
        hoodie["id"],
        alpha["id"],
        beta["id"],
    }

    # Raw and percent-encoded brackets and commas mean the same.
    raw = a.http.get("/api/skus?filter[q][code_in]=TS-BLACK,QQQ-TWO", headers=a.headers())
    enc = a.http.get("/api/skus?filter%5Bq%5D%5Bcode_in%5D=TS-BLACK%2CQQQ-TWO", headers=a.headers())
    assert {d["id"] for d in raw.json()["data"]} == {black["id"], beta["id"]}
    assert {d["id"] for d in enc.json()["data"]} == {black["id"], beta["id"]}

    for key in ("not_a_field_eq", "pieces_per_pack_eq", "code", "code_bogus", "inventory_eq"):
        err = assert_error(
            a.get("/api/skus", **{f"filter[q][{key}]": "1"}), 400, "FILTER_NOT_ALLOWED"
        )
        assert key in err["detail"]
    for key, value in (
        ("metadata_jcont", "not json"),
        ("metadata_jcont", "[1]"),
        ("created_at_gt", "yesterday"),
        ("reference_null", "maybe"),
        ("do_not_ship_eq", "perhaps"),
    ):
        r = a.get("/api/skus", **{f"filter[q][{key}]": value})
        assert_error(r, 400, "INVALID_FILTER_VALUE")
    assert_error(a.get("/api/skus", **{"filter[code]": "x"}), 400, "INVALID_FILTERS_SYNTAX")


# --- check 12: include ---------------------------------------------------------------------


def test_include_adds_linkage_only_to_included_relationships(shop: Shop) -> None:
    guest = shop.guest()
    oid = shop.cart(guest)
    r = guest.get(f"/api/orders/{oid}", include="line_items,market")
    assert r.status_code == 200, r.text
    doc = r.json()
    rels = doc["data"]["relationships"]
    assert {k for k, v in rels.items() if "data" in v} == {"line_items", "market"}
    for name, rel in rels.items():
        assert rel["links"] == {
            "self": f"{shop.base_url}/api/orders/{oid}/relationships/{name}",
            "related": f"{shop.base_url}/api/orders/{oid}/{name}",
        }
    assert rels["market"]["data"] == {"type": "markets", "id": shop.ids["market"]}
    line_item_ids = {d["id"] for d in rels["line_items"]["data"]}
    assert len(line_item_ids) >= 1
    included = {(i["type"], i["id"]) for i in doc["included"]}
    assert included == {("markets", shop.ids["market"])} | {
        ("line_items", i) for i in line_item_ids
    }
    assert len(doc["included"]) == len(included)  # deduplicated

    nested = guest.get(f"/api/orders/{oid}", include="line_items.item,line_items").json()
    types = [i["type"] for i in nested["included"]]
    assert "skus" in types and "line_items" in types
    item = next(i for i in nested["included"] if i["type"] == "line_items")
    assert "data" in item["relationships"]["item"]

    a = shop.admin
    for bad in ("nope", "line_items.nope", "market,", "line_items..item"):
        r = a.get(f"/api/orders/{oid}", include=bad)
        if bad == "market,":
            assert r.status_code == 200
            continue
        assert_error(r, 400, "INVALID_INCLUDE")
    assert_error(a.get("/api/skus", include="shipping_category.nope"), 400, "INVALID_INCLUDE")


# --- check 13: status codes of writes, KEY_NOT_INCLUDED_IN_URL ------------------------------


def test_write_status_codes(shop: Shop) -> None:
    a = shop.admin
    r = a.post("/api/addresses", {"data": {"type": "addresses", "attributes": ADDRESS}})
    assert r.status_code == 201, r.text
    address_id = r.json()["data"]["id"]
    r = a.update("addresses", address_id, {"city": "Roma"})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["city"] == "Roma"
    body = {"data": {"type": "addresses", "id": "abcdefghij", "attributes": {"city": "Torino"}}}
    err = assert_error(
        a.patch(f"/api/addresses/{address_id}", body), 400, "KEY_NOT_INCLUDED_IN_URL"
    )
    assert err["title"] == "Key is not included in URL"
    assert a.get(f"/api/addresses/{address_id}").json()["data"]["attributes"]["city"] == "Roma"
    r = a.delete(f"/api/addresses/{address_id}")
    assert r.status_code == 204
    assert r.content == b""
    assert_error(a.get(f"/api/addresses/{address_id}"), 404, "RECORD_NOT_FOUND")
    assert_error(a.delete(f"/api/addresses/{address_id}"), 404, "RECORD_NOT_FOUND")
    assert_error(a.update("addresses", address_id, {"city": "X"}), 404, "RECORD_NOT_FOUND")


def test_unsupported_actions_and_unknown_paths(shop: Shop) -> None:
    a = shop.admin
    oid = shop.cart(shop.guest())
    r = a.post("/api/transactions", {"data": {"type": "transactions", "attributes": {}}})
    assert_error(r, 405, "METHOD_NOT_ALLOWED")
    assert_error(a.delete("/api/authorizations/abcdefghij"), 405, "METHOD_NOT_ALLOWED")
    assert_error(a.delete("/api/organization"), 405, "METHOD_NOT_ALLOWED")
    assert_error(a.http.put(f"/api/orders/{oid}", headers=a.headers()), 405, "METHOD_NOT_ALLOWED")
    for path in (
        f"/api/orders/{oid}/relationships/market",
        f"/api/orders/{oid}/relationships/line_items",
        f"/api/orders/{oid}/nope",
        "/api/nopes",
        "/api/nopes/abcdefghij",
        "/api/orders/abcdefghij",
        "/api/orders/ABCDEFGHIJ/market",
        "/api/orders/x'%20OR%201=1",
        "/api/orders/a/b/c/d",
    ):
        assert_error(a.get(path), 404, "RECORD_NOT_FOUND")
    assert a.get("/api/organization").status_code == 200
    assert a.get("/api/application").status_code == 200


def test_related_endpoints(shop: Shop) -> None:
    a = shop.admin
    oid = shop.cart(shop.guest(), quantity=2)
    r = a.get(f"/api/orders/{oid}/market")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["id"] == shop.ids["market"]
    r = a.get(f"/api/orders/{oid}/line_items", include="item")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["meta"]["record_count"] == len(doc["data"]) >= 1
    assert doc["links"]["first"].startswith(f"{shop.base_url}/api/orders/{oid}/line_items?")
    assert any(i["type"] == "skus" for i in doc["included"])
    r = a.get(f"/api/orders/{oid}/line_items", **{"filter[q][item_type_eq]": "skus"})
    assert r.json()["meta"]["record_count"] == 1
    draft = shop.guest().create("orders", {})
    r = a.get(f"/api/orders/{draft['id']}/customer")
    assert r.status_code == 200 and r.json() == {"data": None}
    r = a.get(f"/api/orders/{draft['id']}/line_items")
    assert r.json()["data"] == [] and r.json()["meta"] == {"record_count": 0, "page_count": 0}


# --- check 14: validation errors -------------------------------------------------------------


def test_validation_error_shape(shop: Shop) -> None:
    a = shop.admin
    r = a.post("/api/addresses", {"data": {"type": "addresses", "attributes": {"city": "Roma"}}})
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    pointers = {e["source"]["pointer"] for e in errors}
    assert {"/data/attributes/line_1", "/data/attributes/zip_code"} <= pointers
    assert "/data/attributes/city" not in pointers
    for e in errors:
        assert e["code"] == "VALIDATION_ERROR"
        assert e["status"] == "422"
        assert e["title"] == "can't be blank"
        field = e["source"]["pointer"].rsplit("/", 1)[1]
        assert e["detail"] == f"{field} - can't be blank"
        assert e["meta"]["error"] == "blank"
    r = a.post("/api/skus", {"data": {"type": "skus", "attributes": {"code": "NO-NAME"}}})
    assert r.status_code == 422
    pointers = {e["source"]["pointer"] for e in r.json()["errors"]}
    assert "/data/attributes/name" in pointers
    assert "/data/relationships/shipping_category" in pointers


# --- check 15: resource objects ---------------------------------------------------------------


def assert_resource_object(obj: dict[str, Any], base_url: str, mode: str = "test") -> None:
    assert ID.match(obj["id"]), obj["id"]
    assert obj["links"]["self"] == f"{base_url}/api/{obj['type']}/{obj['id']}"
    attrs = obj["attributes"]
    assert STAMP.match(attrs["created_at"]) and STAMP.match(attrs["updated_at"])
    assert "reference" in attrs and "reference_origin" in attrs
    assert isinstance(attrs["metadata"], dict)
    assert obj["meta"]["mode"] == mode
    assert ID.match(obj["meta"]["organization_id"])
    assert list(obj)[:4] == ["id", "type", "links", "attributes"]
    assert not any(name.startswith("_") for name in attrs)


def test_resource_objects(shop: Shop) -> None:
    guest = shop.guest()
    oid = shop.cart(guest)
    doc = shop.order(oid, include="line_items,market,billing_address,payment_method,payment_source")
    objects = [doc["data"], *doc["included"]]
    assert {o["type"] for o in objects} >= {
        "orders",
        "line_items",
        "markets",
        "addresses",
        "payment_methods",
        "external_payments",
    }
    for obj in objects:
        assert_resource_object(obj, shop.base_url)
    address = shop.admin.create("addresses", ADDRESS)
    assert address["attributes"]["metadata"] == {}
    assert address["attributes"]["reference"] is None
    for path in ("/api/skus", "/api/markets", "/api/price_lists", "/api/customers"):
        for obj in shop.admin.get(path).json()["data"]:
            assert_resource_object(obj, shop.base_url)
    customer = shop.admin.create("customers", {"email": "x@example.com", "password": "pw-123456"})
    assert "password" not in customer["attributes"]


# --- check 16: prohibited fields ---------------------------------------------------------------


def test_prohibited_fields_need_an_integration_token(shop: Shop) -> None:
    guest = shop.guest()
    _, customer = shop.customer()
    for client in (guest, customer):
        oid = shop.cart(client)
        assert_error(client.update("orders", oid, {"_approve": True}), 401, "UNAUTHORIZED")
        assert_error(client.update("orders", oid, {"number": "42"}), 401, "UNAUTHORIZED")
        body = {
            "data": {
                "type": "line_items",
                "attributes": {"sku_code": "TSHIRT-XL", "quantity": 1, "unit_amount_cents": 100},
                "relationships": {"order": {"data": {"type": "orders", "id": oid}}},
            }
        }
        assert_error(client.post("/api/line_items", body), 401, "UNAUTHORIZED")
        r = client.get(f"/api/orders/{oid}", include="line_items")
        assert len(r.json()["included"]) == 1
        assert r.json()["data"]["attributes"]["status"] == "pending"
    oid = shop.cart(guest)
    body = {
        "data": {
            "type": "line_items",
            "attributes": {"sku_code": "TSHIRT-XL", "quantity": 1, "unit_amount_cents": 100},
            "relationships": {"order": {"data": {"type": "orders", "id": oid}}},
        }
    }
    r = shop.admin.post("/api/line_items", body)
    assert r.status_code == 201, r.text
    assert r.json()["data"]["attributes"]["unit_amount_cents"] == 100


# --- check 17: another customer's records ---------------------------------------------------------


def test_customers_only_see_their_own_records(shop: Shop) -> None:
    owner_id, owner = shop.customer()
    _, other = shop.customer()
    oid = shop.cart(owner)
    assert shop.place(owner, oid).status_code == 200
    body = {
        "data": {
            "type": "orders",
            "id": oid,
            "attributes": {"_save_payment_source_to_customer_wallet": True},
        }
    }
    r = owner.patch(f"/api/orders/{oid}", body, include="available_customer_payment_sources")
    assert r.status_code == 200, r.text
    entry_id = r.json()["data"]["relationships"]["available_customer_payment_sources"]["data"][0][
        "id"
    ]
    other_oid = shop.cart(other, pay=False)

    for path in (
        f"/api/orders/{oid}",
        f"/api/customer_payment_sources/{entry_id}",
        f"/api/customers/{owner_id}",
        f"/api/orders/{oid}/line_items",
    ):
        assert_error(other.get(path), 404, "RECORD_NOT_FOUND")
    assert_error(other.update("orders", oid, {"customer_email": "a@b.c"}), 404, "RECORD_NOT_FOUND")
    assert_error(other.delete(f"/api/customer_payment_sources/{entry_id}"), 404, "RECORD_NOT_FOUND")
    r = other.update("orders", other_oid, {"_customer_payment_source_id": entry_id})
    assert r.status_code in (404, 422), r.text
    assert r.status_code < 500

    mine = owner.get("/api/customer_payment_sources")
    assert [d["id"] for d in mine.json()["data"]] == [entry_id]
    theirs = other.get("/api/customer_payment_sources")
    assert theirs.status_code == 200
    assert theirs.json()["data"] == [] and theirs.json()["meta"]["record_count"] == 0
    assert {d["id"] for d in other.get("/api/orders").json()["data"]} == {other_oid}
    assert owner.get(f"/api/customer_payment_sources/{entry_id}").status_code == 200


# --- check 18: test and live data spaces ---------------------------------------------------


def test_test_and_live_modes_are_separate(shop: Shop) -> None:
    slug = shop.creds["organization_slug"]
    live_creds = shop.server.new_org(mode="live", slug=slug)
    assert live_creds["organization_id"] == shop.creds["organization_id"]
    assert live_creds["integration_client_id"] != shop.creds["integration_client_id"]
    token = token_for(
        shop.base_url,
        {
            "grant_type": "client_credentials",
            "client_id": live_creds["integration_client_id"],
            "client_secret": live_creds["integration_client_secret"],
        },
    )
    from tests.support import decode_jwt

    assert decode_jwt(token)["test"] is False
    live = Client(shop.base_url, token)
    test = shop.admin
    category = live.create("shipping_categories", {"name": "Live"})
    assert category["meta"]["mode"] == "live"
    assert category["meta"]["organization_id"] == shop.creds["organization_id"]
    code = "LIVE-" + secrets.token_hex(3).upper()
    sku = live.create(
        "skus",
        {"code": code, "name": "Live"},
        {"shipping_category": ("shipping_categories", category["id"])},
    )
    assert sku["meta"]["mode"] == "live"

    live_skus = live.get("/api/skus").json()["data"]
    assert [s["id"] for s in live_skus] == [sku["id"]]
    assert all(s["meta"]["mode"] == "live" for s in live_skus)
    test_skus = test.get("/api/skus", **{"page[size]": "25"}).json()["data"]
    assert sku["id"] not in {s["id"] for s in test_skus}
    assert all(s["meta"]["mode"] == "test" for s in test_skus)
    assert test.get("/api/skus", **{"filter[q][code_eq]": code}).json()["data"] == []

    assert_error(test.get(f"/api/skus/{sku['id']}"), 404, "RECORD_NOT_FOUND")
    assert_error(live.get(f"/api/skus/{shop.ids['sku']}"), 404, "RECORD_NOT_FOUND")
    assert_error(test.update("skus", sku["id"], {"name": "x"}), 404, "RECORD_NOT_FOUND")
    assert_error(live.delete(f"/api/skus/{shop.ids['sku']}"), 404, "RECORD_NOT_FOUND")
    # Test rows cannot be linked from live writes.
    r = live.post(
        "/api/skus",
        {
            "data": {
                "type": "skus",
                "attributes": {"code": code + "-2", "name": "x"},
                "relationships": {
                    "shipping_category": {
                        "data": {"type": "shipping_categories", "id": shop.ids["shipping_category"]}
                    }
                },
            }
        },
    )
    assert r.status_code == 422
    assert error_of(r)["source"]["pointer"] == "/data/relationships/shipping_category"
    # A live sales channel does not see test markets.
    r = httpx.post(
        shop.base_url + "/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": live_creds["sales_channel_client_id"],
            "scope": f"market:code:{shop.market_code}",
        },
    )
    assert r.status_code == 400 and r.json()["errors"][0]["title"] == "invalid_scope"
    org = live.get("/api/organization").json()["data"]
    assert org["id"] == shop.creds["organization_id"] and org["meta"]["mode"] == "live"


# --- checks 20 and 21: idempotent and multi-step PATCH -------------------------------------


def test_place_is_idempotent_cancel_is_not(shop: Shop) -> None:
    a = shop.admin
    oid = shop.cart(shop.guest())
    first = shop.place(a, oid)
    assert first.status_code == 200, first.text
    assert first.json()["data"]["attributes"]["status"] == "placed"
    assert len(shop.calls("authorize")) == 1
    again = shop.place(a, oid)
    assert again.status_code == 200, again.text
    assert again.json()["data"]["attributes"]["status"] == "placed"
    assert len(shop.calls("authorize")) == 1
    r = a.update("orders", oid, {"_cancel": True})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["status"] == "cancelled"
    r = a.update("orders", oid, {"_cancel": True})
    assert r.status_code == 422, r.text
    err = error_of(r)
    assert err["source"]["pointer"] == "/data/attributes/_cancel"
    assert err["meta"]["error"] == "invalid_transition"
    assert err["code"] == "VALIDATION_ERROR" and err["status"] == "422"
    assert err["detail"] == f"_cancel - {err['title']}"


def test_multi_step_patch_keeps_earlier_steps(shop: Shop) -> None:
    a = shop.admin
    guest = shop.guest()
    order = guest.create("orders", {"customer_email": "first@example.com"})
    oid = order["id"]
    guest.create("line_items", {"sku_code": "TSHIRT-XL", "quantity": 1}, {"order": ("orders", oid)})
    assert shop.order(oid)["data"]["attributes"]["status"] == "pending"
    r = a.update("orders", oid, {"customer_email": "changed@example.com", "_place": True})
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert "/data/relationships/payment_method" in {e["source"]["pointer"] for e in errors}
    for e in errors:
        assert e["status"] == "422" and e["code"] == "VALIDATION_ERROR" and "error" in e["meta"]
    attrs = shop.order(oid)["data"]["attributes"]
    assert attrs["customer_email"] == "changed@example.com"
    assert attrs["status"] == "pending"
    assert shop.calls("authorize") == []


@pytest.mark.parametrize("trigger", ["_place", "_authorize"])
def test_sales_channel_trigger_values(shop: Shop, trigger: str) -> None:
    """Boolean triggers accept "false"/0 as a no-op and reject other values."""
    guest = shop.guest()
    oid = shop.cart(guest)
    for value in (False, "false", 0, "0"):
        r = guest.update("orders", oid, {trigger: value})
        assert r.status_code == 200, r.text
        assert r.json()["data"]["attributes"]["status"] == "pending"
    r = guest.update("orders", oid, {trigger: "yes please"})
    assert r.status_code == 400, r.text
    assert shop.calls("authorize") == []


def test_order_of_checks(shop: Shop) -> None:
    """Authentication, then permission, then request shape; a bad query string writes nothing."""
    guest = shop.guest()
    assert_error(Client(shop.base_url).get("/api/orders?page[size]=26"), 401, "INVALID_TOKEN")
    assert_error(guest.get("/api/orders", **{"page[size]": "26"}), 401, "UNAUTHORIZED")
    assert_error(guest.get("/api/orders", include="nope"), 401, "UNAUTHORIZED")
    a = shop.admin
    reference = "ref-" + secrets.token_hex(4)
    body = {"data": {"type": "addresses", "attributes": {**ADDRESS, "reference": reference}}}
    for params in ({"include": "nope"}, {"fields[addresses]": "nope"}, {"page[size]": "x"}):
        r = a.http.post("/api/addresses", json=body, params=params, headers=a.headers())
        assert r.status_code == 400, r.text
    listed = a.get("/api/addresses", **{"filter[q][reference_eq]": reference}).json()
    assert listed["data"] == []
    address = a.create("addresses", ADDRESS)
    update = {"data": {"type": "addresses", "id": address["id"], "attributes": {"city": "Roma"}}}
    r = a.patch(f"/api/addresses/{address['id']}", update, include="nope")
    assert_error(r, 400, "INVALID_INCLUDE")
    assert a.get(f"/api/addresses/{address['id']}").json()["data"]["attributes"]["city"] == "Milano"
    r = a.patch(f"/api/addresses/{address['id']}", update, include="geocoder")
    assert r.status_code == 200 and r.json()["data"]["attributes"]["city"] == "Roma"
