"""Every refusal of a client's input names, in its ``detail``, the field it is about.

A sweep of 400s and 422s over real HTTP: where the error points at a member
(``source.pointer``), the detail names that member in plain words; the NUL-character,
id-mismatch and OAuth refusals, which used to speak of "the body", name theirs too.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.shop import Shop
from tests.support import Client

Body = dict[str, Any]


def _errors(r: httpx.Response, status: int) -> list[Body]:
    assert r.status_code == status, r.text
    errors = r.json()["errors"]
    assert errors, r.text
    return list(errors)


def _named(error: Body) -> str:
    """The member a pointer names: the attribute or relationship, else ``data.<member>``."""
    parts = error["source"]["pointer"].strip("/").split("/")
    if len(parts) >= 3 and parts[1] in ("attributes", "relationships"):
        return parts[2]
    return ".".join(parts)


def _raw(client: Client, method: str, path: str, body: Body) -> httpx.Response:
    return client.http.request(method, path, content=json.dumps(body), headers=client.headers())


def test_validation_and_format_errors_name_their_field(shop: Shop) -> None:
    a = shop.admin
    sku = shop.ids["sku"]
    cases: list[tuple[str, str, Body, int]] = [
        ("POST", "/api/skus", {"data": {"type": "skus", "attributes": {"name": "x"}}}, 422),
        (
            "POST",
            "/api/skus",
            {"data": {"type": "skus", "attributes": {"code": "C" * 300, "name": "x"}}},
            422,
        ),
        ("PATCH", f"/api/skus/{sku}", _sku(sku, {"do_not_ship": "yes"}), 400),
        ("PATCH", f"/api/skus/{sku}", _sku(sku, {"pieces_per_pack": 2**40}), 422),
        ("PATCH", f"/api/skus/{sku}", _sku(sku, {"weight": "heavy"}), 400),
        ("PATCH", f"/api/skus/{sku}", _sku(sku, {"no_such_thing": 1}), 400),
        (
            "PATCH",
            f"/api/skus/{sku}",
            {
                "data": {
                    "type": "skus",
                    "id": sku,
                    "relationships": {
                        "shipping_category": {"data": {"type": "shipping_categories", "id": "no"}}
                    },
                }
            },
            422,
        ),
        ("PATCH", f"/api/skus/{sku}", {"data": {"type": "skus", "id": "other"}}, 400),
        ("PATCH", f"/api/skus/{sku}", {"data": {"type": "skus", "id": sku, "attributes": 1}}, 400),
        ("POST", "/api/skus", {"data": {"type": "prices", "attributes": {}}}, 400),
        ("POST", "/api/skus", {"data": {"attributes": {}}}, 400),
    ]
    for method, path, body, status in cases:
        for error in _errors(_raw(a, method, path, body), status):
            assert "pointer" in error.get("source", {}), (body, error)
            assert _named(error) in error["detail"], (body, error)
    # The mismatch names data.id rather than "the key".
    [error] = _errors(
        _raw(a, "PATCH", f"/api/skus/{sku}", {"data": {"type": "skus", "id": 7}}), 400
    )
    assert error["detail"] == "data.id 7 is not the id in the URL."
    assert error["source"]["pointer"] == "/data/id"


def test_checkout_refusals_name_their_field(shop: Shop) -> None:
    guest = shop.guest()
    oid = guest.create("orders", {})["id"]
    refusals = [
        guest.update("orders", oid, {"_place": True}),  # empty: several errors at once
        guest.update("orders", oid, {"_authorization_amount_cents": -1, "_authorize": True}),
        guest.update("orders", oid, {"customer_email": "not-an-email"}),
        _raw(
            guest,
            "POST",
            "/api/line_items",
            {
                "data": {
                    "type": "line_items",
                    "attributes": {"sku_code": "TSHIRT-XL", "quantity": 0},
                    "relationships": {"order": {"data": {"type": "orders", "id": oid}}},
                }
            },
        ),
        _raw(
            guest,
            "POST",
            "/api/external_payments",
            {"data": {"type": "external_payments", "attributes": {}}},
        ),
        _raw(
            shop.admin,
            "POST",
            "/api/customers",
            {"data": {"type": "customers", "attributes": {"email": "a@b.co", "password": "x"}}},
        ),
    ]
    seen = 0
    for r in refusals:
        assert r.status_code in (400, 422), r.text
        for error in r.json()["errors"]:
            assert "pointer" in error.get("source", {}), (r.request.content, error)
            assert _named(error) in error["detail"], (r.request.content, error)
            seen += 1
    assert seen >= len(refusals) + 2  # the empty order's _place reports several


def _sku(sku: str, attributes: Body) -> Body:
    return {"data": {"type": "skus", "id": sku, "attributes": attributes}}


@pytest.mark.parametrize(
    ("attributes", "detail", "pointer"),
    [
        (
            {"code": "NUL-A", "name": "a\x00b"},
            "name contains a NUL character, which is not allowed.",
            "/data/attributes/name",
        ),
        (
            {"code": "NUL-B", "name": "ok", "metadata": {"deep": ["x", "y\x00"]}},
            "metadata contains a NUL character, which is not allowed.",
            "/data/attributes/metadata",
        ),
        (
            {"code": "NUL-C", "name": "ok", "metadata": {"k\x00": 1}},
            "metadata contains a NUL character, which is not allowed.",
            "/data/attributes/metadata",
        ),
        (
            {"code": "NUL-D", "na\x00me": "ok"},
            "A member name in the request body contains a NUL character.",
            None,
        ),
    ],
    ids=["value", "nested", "nested-key", "attribute-name"],
)
def test_nul_characters_are_located(
    shop: Shop, attributes: Body, detail: str, pointer: str | None
) -> None:
    body = {"data": {"type": "skus", "attributes": attributes}}
    [error] = _errors(_raw(shop.admin, "POST", "/api/skus", body), 400)
    assert error["code"] == "INVALID_DATA_FORMAT"
    assert error["detail"] == detail
    assert error.get("source", {}).get("pointer") == pointer


def test_nul_in_data_type_and_query_string_is_located(shop: Shop) -> None:
    body = {"data": {"type": "sk\x00us", "attributes": {}}}
    [error] = _errors(_raw(shop.admin, "POST", "/api/skus", body), 400)
    assert error["detail"] == "data.type contains a NUL character, which is not allowed."
    assert error["source"]["pointer"] == "/data/type"
    r = shop.admin.get("/api/skus", **{"filter[q][name_eq]": "x\x00y"})
    [error] = _errors(r, 400)
    assert error["detail"] == (
        'The value of "filter[q][name_eq]" in the query string contains a NUL character.'
    )


def test_oauth_refusals_name_the_parameter(shop: Shop) -> None:
    url = shop.base_url + "/oauth/token"
    empty = httpx.post(url, content=b"", headers={"Content-Type": "application/json"})
    assert empty.status_code == 400, empty.text
    assert empty.json()["errors"][0]["detail"] == "grant_type is required."
    for r in (
        httpx.post(url, json={"grant_type": "client_credentials", "client_id": "a\x00b"}),
        httpx.post(
            url,
            content=b"grant_type=client_credentials&client_id=a%00b",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
    ):
        assert r.status_code == 400, r.text
        assert r.json()["errors"][0]["detail"] == "The value of client_id contains a NUL character."
    r = httpx.post(url, json={"grant_type": 5})
    assert r.json()["errors"][0]["detail"] == "grant_type must be a string."
    # A deeply nested body used to exhaust the NUL check's recursion: a 500.
    deep = b'{"grant_type":"client_credentials","x":' + b"[" * 1000 + b"]" * 1000 + b"}"
    r = httpx.post(url, content=deep, headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 401), r.text
    nul_deep = b'{"x":' + b"[" * 1000 + rb'"\u0000"' + b"]" * 1000 + b"}"
    r = httpx.post(url, content=nul_deep, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0]["detail"] == "The value of x contains a NUL character."
