"""The cart: creating orders, line items, totals, customers on the order, and bad input.

Covers orders-and-checkout §16 checks 1–7, 23, 25 and the first half of 26.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from kassa.fake_processor import ProcessorServer
from tests.api.checkout_support import (
    Market,
    add_item,
    add_market,
    add_sku,
    address,
    assert_422,
    assert_status,
    attrs,
    body,
    guest_of,
    new_order,
    snapshot,
)
from tests.shop import Shop
from tests.support import Client, Server


@dataclass
class World:
    shop: Shop
    other: Market
    guest: Client


@pytest.fixture(scope="module")
def world(server: Server, processor: ProcessorServer) -> World:
    shop = Shop.build(server, processor, account="acct-" + secrets.token_hex(4))
    other = add_market(shop)
    add_sku(shop, "NO-PRICE", price=None)
    add_sku(shop, "NO-STOCK", stock=None)
    add_sku(shop, "ELSEWHERE", price_list=other.price_list, location=other.location)
    add_sku(shop, "FEW", price=250, stock=3)
    return World(shop, other, shop.guest())


def money_fields(attributes: dict[str, Any]) -> list[str]:
    return [k for k in attributes if k.endswith("_cents")]


def assert_money_trio(attributes: dict[str, Any], currency_symbol: str = "€") -> None:
    """Every ``*_cents`` has a ``*_float`` = cents/100 and a ``formatted_*`` string."""
    for cents_key in money_fields(attributes):
        stem = cents_key[: -len("_cents")]
        cents = attributes[cents_key]
        if cents is None:
            continue
        assert isinstance(cents, int), cents_key
        assert attributes[f"{stem}_float"] == cents / 100, cents_key
        formatted = attributes[f"formatted_{stem}"]
        units, minor = divmod(abs(cents), 100)
        expected = f"{'-' if cents < 0 else ''}{currency_symbol}{units:,}".replace(",", ".")
        assert formatted == f"{expected},{minor:02d}", (cents_key, formatted)


# --- 1, 2, 25: creating the cart ----------------------------------------------------------


def test_sales_channel_creates_a_draft_in_its_market(world: World) -> None:
    shop = world.shop
    r = world.guest.post("/api/orders", body("orders"))
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    a = data["attributes"]
    assert (a["status"], a["payment_status"], a["fulfillment_status"]) == (
        "draft",
        "unpaid",
        "unfulfilled",
    )
    assert a["currency_code"] == "EUR" and a["tax_included"] is True
    assert a["editable"] is True and a["guest"] is True and a["autorefresh"] is True
    assert a["place_async"] is False and a["language_code"] == "en"
    assert a["skus_count"] == a["line_item_options_count"] == a["shipments_count"] == 0
    assert a["tax_rate"] is None and a["payment_source_details"] is None
    assert a["metadata"] == {}
    assert re.fullmatch(r"[0-9a-f]{32}", a["token"])
    assert a["checkout_url"].endswith(a["token"])
    assert isinstance(a["number"], str) and a["number"].isdigit()
    assert "placeable" not in a
    cents = money_fields(a)
    assert len(cents) > 15
    for key in cents:
        if key != "place_total_amount_cents":
            assert a[key] == 0, key
            stem = key[: -len("_cents")]
            assert a[f"{stem}_float"] == 0.0
            assert a[f"formatted_{stem}"] == "€0,00"
    market = world.guest.get(f"/api/orders/{data['id']}", include="market").json()
    assert market["data"]["relationships"]["market"]["data"] == {
        "type": "markets",
        "id": shop.ids["market"],
    }
    # Every relationship carries its links.
    for rel in data["relationships"].values():
        assert set(rel["links"]) == {"self", "related"}


def test_integration_must_name_the_market(world: World) -> None:
    admin = world.shop.admin
    r = admin.post("/api/orders", body("orders"))
    err = assert_422(r, "/data/relationships/market", "blank", "can't be blank")
    assert err["detail"] == "market - can't be blank"
    r = admin.post("/api/orders", body("orders", {}, {"market": ("markets", world.other.id)}))
    assert r.status_code == 201, r.text
    # A sales channel cannot reach another market by naming it.
    r = world.guest.post("/api/orders", body("orders", {}, {"market": ("markets", world.other.id)}))
    assert_422(r, "/data/relationships/market", "invalid")


def test_order_numbers_are_sequential_strings(world: World) -> None:
    first = int(world.guest.create("orders")["attributes"]["number"])
    second = int(world.guest.create("orders")["attributes"]["number"])
    assert second == first + 1


# --- 3, 25: line items and totals ---------------------------------------------------------


def test_line_item_prices_and_order_totals(world: World) -> None:
    shop = world.shop
    oid = new_order(world.guest)
    r = add_item(world.guest, oid, quantity=2)
    assert r.status_code == 201, r.text
    item = r.json()["data"]["attributes"]
    assert item["item_type"] == "skus" and item["sku_code"] == "TSHIRT-XL"
    assert item["quantity"] == 2
    assert item["unit_amount_cents"] == 4900
    assert item["total_amount_cents"] == 9800
    assert item["name"] == "T-Shirt XL"
    assert item["image_url"] == "https://img.example.com/t.png"
    assert item["currency_code"] == "EUR"
    assert item["formatted_total_amount"] == "€98,00"
    assert (item["discount_cents"], item["tax_amount_cents"], item["options_amount_cents"]) == (
        0,
        0,
        0,
    )
    assert_money_trio(item)
    a = attrs(shop, oid, world.guest)
    assert a["subtotal_amount_cents"] == 9800
    assert a["total_amount_cents"] == 9800
    assert a["total_amount_with_taxes_cents"] == a["total_amount_cents"]
    assert a["skus_count"] == 2
    assert a["formatted_total_amount_with_taxes"] == "€98,00"
    assert a["status"] == "draft"  # no customer yet
    assert_money_trio(a)
    # Sent name/image_url win over the SKU's; a second add is a new line item.
    r = world.guest.post(
        "/api/line_items",
        body(
            "line_items",
            {"sku_code": "TSHIRT-XL", "quantity": 1, "name": "Gift", "image_url": "https://i/x"},
            {"order": ("orders", oid)},
        ),
    )
    assert r.status_code == 201
    assert r.json()["data"]["attributes"]["name"] == "Gift"
    a = attrs(shop, oid)
    assert (a["skus_count"], a["subtotal_amount_cents"]) == (3, 14700)


def test_line_item_by_item_relationship(world: World) -> None:
    oid = new_order(world.guest)
    r = world.guest.post(
        "/api/line_items",
        body(
            "line_items",
            {"quantity": 1},
            {"order": ("orders", oid), "item": ("skus", world.shop.ids["sku"])},
        ),
    )
    assert r.status_code == 201, r.text
    assert r.json()["data"]["attributes"]["sku_code"] == "TSHIRT-XL"
    assert r.json()["data"]["attributes"]["item_type"] == "skus"


def test_quantity_update_and_delete_refresh_the_order(world: World) -> None:
    shop = world.shop
    oid = new_order(world.guest)
    lid = add_item(world.guest, oid).json()["data"]["id"]
    r = world.guest.patch(f"/api/line_items/{lid}", body("line_items", {"quantity": 6}, id_=lid))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["total_amount_cents"] == 6 * 4900
    assert attrs(shop, oid)["total_amount_cents"] == 6 * 4900
    assert world.guest.delete(f"/api/line_items/{lid}").status_code == 204
    a = attrs(shop, oid)
    assert (a["total_amount_cents"], a["skus_count"]) == (0, 0)


# --- 4: stock -------------------------------------------------------------------------------


def test_quantity_above_stock_is_out_of_stock(world: World) -> None:
    shop = world.shop
    oid = new_order(world.guest)
    before = snapshot(shop, oid)
    r = add_item(world.guest, oid, "FEW", 4)
    err = assert_422(r, "/data/attributes/quantity", "out_of_stock", "is out of stock")
    assert err["detail"] == "quantity - is out of stock"
    assert snapshot(shop, oid) == before
    # Stock counts what the cart already holds.
    assert add_item(world.guest, oid, "FEW", 2).status_code == 201
    assert_422(add_item(world.guest, oid, "FEW", 2), "/data/attributes/quantity", "out_of_stock")
    lid = add_item(world.guest, oid, "FEW", 1).json()["data"]["id"]
    r = world.guest.patch(f"/api/line_items/{lid}", body("line_items", {"quantity": 2}, id_=lid))
    assert_422(r, "/data/attributes/quantity", "out_of_stock")
    a = attrs(shop, oid)
    assert (a["skus_count"], a["subtotal_amount_cents"]) == (3, 750)


# --- 5: _update_quantity ------------------------------------------------------------------


@pytest.mark.parametrize("flag", [True, 1, "1", "true"])
def test_update_quantity_adds_to_the_existing_line_item(world: World, flag: Any) -> None:
    shop = world.shop
    oid = new_order(world.guest)
    first = add_item(world.guest, oid, quantity=1).json()["data"]["id"]
    r = world.guest.post(
        "/api/line_items",
        body(
            "line_items",
            {"sku_code": "TSHIRT-XL", "quantity": 2, "_update_quantity": flag},
            {"order": ("orders", oid)},
        ),
    )
    assert r.status_code == 201, r.text
    assert r.json()["data"]["id"] == first
    assert r.json()["data"]["attributes"]["quantity"] == 3
    assert r.json()["data"]["attributes"]["total_amount_cents"] == 3 * 4900
    doc = shop.order(oid, include="line_items")
    assert [i["id"] for i in doc["included"]] == [first]
    assert doc["data"]["attributes"]["skus_count"] == 3


def test_update_quantity_without_a_match_creates(world: World) -> None:
    oid = new_order(world.guest)
    r = world.guest.post(
        "/api/line_items",
        body(
            "line_items",
            {"sku_code": "TSHIRT-XL", "quantity": 2, "_update_quantity": True},
            {"order": ("orders", oid)},
        ),
    )
    assert r.status_code == 201, r.text
    assert r.json()["data"]["attributes"]["quantity"] == 2
    # The sum is checked against stock too.
    r = world.guest.post(
        "/api/line_items",
        body(
            "line_items",
            {"sku_code": "TSHIRT-XL", "quantity": 99, "_update_quantity": True},
            {"order": ("orders", oid)},
        ),
    )
    assert_422(r, "/data/attributes/quantity", "out_of_stock")
    assert attrs(world.shop, oid)["skus_count"] == 2


# --- 6: unit_amount_cents -----------------------------------------------------------------


def test_unit_amount_is_prohibited_for_sales_channels(world: World) -> None:
    shop = world.shop
    oid = new_order(world.guest)
    _cid, customer = shop.customer()
    for client in (world.guest, customer):
        r = client.post(
            "/api/line_items",
            body(
                "line_items",
                {"sku_code": "TSHIRT-XL", "quantity": 1, "unit_amount_cents": 1},
                {"order": ("orders", oid)},
            ),
        )
        assert_status(r, 401, "UNAUTHORIZED")
    assert attrs(shop, oid)["skus_count"] == 0
    lid = add_item(world.guest, oid).json()["data"]["id"]
    r = world.guest.patch(
        f"/api/line_items/{lid}", body("line_items", {"unit_amount_cents": 1}, id_=lid)
    )
    assert_status(r, 401, "UNAUTHORIZED")
    r = shop.admin.post(
        "/api/line_items",
        body(
            "line_items",
            {"sku_code": "TSHIRT-XL", "quantity": 2, "unit_amount_cents": 1234},
            {"order": ("orders", oid)},
        ),
    )
    assert r.status_code == 201, r.text
    assert r.json()["data"]["attributes"]["total_amount_cents"] == 2468
    a = attrs(shop, oid)
    assert a["subtotal_amount_cents"] == 4900 + 2468


# --- 7: the customer on the order ---------------------------------------------------------


def test_guest_customer_email_makes_the_order_pending(world: World) -> None:
    shop = world.shop
    email = f"guest-{secrets.token_hex(3)}@example.com"
    oid = new_order(world.guest)
    add_item(world.guest, oid)
    r = world.guest.patch(f"/api/orders/{oid}", body("orders", {"customer_email": email}, id_=oid))
    assert r.status_code == 200, r.text
    a = r.json()["data"]["attributes"]
    assert (a["status"], a["guest"], a["customer_email"]) == ("pending", True, email)
    # Guests cannot read customers; the integration sees the link.
    customer_ref = shop.order(oid, include="customer")["data"]["relationships"]["customer"]["data"]
    assert customer_ref is not None
    customer = shop.admin.get(f"/api/customers/{customer_ref['id']}").json()["data"]
    assert customer["attributes"]["email"] == email
    assert customer["attributes"]["status"] == "prospect"
    # The same e-mail (any case) reuses that customer.
    second = new_order(world.guest)
    r = world.guest.patch(
        f"/api/orders/{second}", body("orders", {"customer_email": email.upper()}, id_=second)
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["status"] == "draft"  # no line item yet
    linked = shop.order(second, include="customer")["data"]["relationships"]["customer"]["data"]
    assert linked["id"] == customer["id"]
    found = shop.admin.get("/api/customers", **{"filter[q][email_eq]": email}).json()
    assert found["meta"]["record_count"] == 1


def test_invalid_customer_email_is_422(world: World) -> None:
    oid = new_order(world.guest)
    add_item(world.guest, oid)
    before = snapshot(world.shop, oid)
    r = world.guest.patch(f"/api/orders/{oid}", body("orders", {"customer_email": "nope"}, id_=oid))
    assert_422(r, "/data/attributes/customer_email", "invalid", "is invalid")
    assert snapshot(world.shop, oid) == before


def test_customer_token_binds_the_order_to_its_owner(world: World) -> None:
    shop = world.shop
    cid, customer = shop.customer()
    email = shop.admin.get(f"/api/customers/{cid}").json()["data"]["attributes"]["email"]
    r = customer.post("/api/orders", body("orders", {"customer_email": "x@example.com"}))
    assert r.status_code == 201, r.text
    oid = r.json()["data"]["id"]
    a = r.json()["data"]["attributes"]
    assert (a["guest"], a["customer_email"]) == (False, email)
    add_item(customer, oid)
    r = customer.patch(
        f"/api/orders/{oid}",
        body("orders", {"customer_email": "other@example.com"}, id_=oid),
        include="customer",
    )
    assert r.status_code == 200, r.text
    a = r.json()["data"]["attributes"]
    assert (a["status"], a["guest"], a["customer_email"]) == ("pending", False, email)
    assert r.json()["data"]["relationships"]["customer"]["data"]["id"] == cid
    # A guest cart is bound to the customer by an empty PATCH with the customer token.
    guest_oid = new_order(world.guest)
    add_item(world.guest, guest_oid)
    r = customer.patch(f"/api/orders/{guest_oid}", body("orders", {}, id_=guest_oid))
    assert r.status_code == 200, r.text
    a = r.json()["data"]["attributes"]
    assert (a["status"], a["guest"], a["customer_email"]) == ("pending", False, email)
    assert customer.get("/api/orders").json()["meta"]["record_count"] == 2


# --- 23: autorefresh ----------------------------------------------------------------------


def test_autorefresh_false_keeps_stale_totals_until_refresh(world: World) -> None:
    shop = world.shop
    r = world.guest.post("/api/orders", body("orders", {"autorefresh": False}))
    assert r.status_code == 201, r.text
    oid = r.json()["data"]["id"]
    lid = add_item(world.guest, oid, quantity=2).json()["data"]["id"]
    a = attrs(shop, oid)
    assert (a["total_amount_cents"], a["skus_count"]) == (0, 0)
    r = world.guest.patch(f"/api/orders/{oid}", body("orders", {"_refresh": True}, id_=oid))
    assert r.status_code == 200, r.text
    a = r.json()["data"]["attributes"]
    assert (a["total_amount_cents"], a["skus_count"]) == (9800, 2)
    assert a["refreshed_at"] is not None
    world.guest.patch(f"/api/line_items/{lid}", body("line_items", {"quantity": 3}, id_=lid))
    assert attrs(shop, oid)["total_amount_cents"] == 9800
    world.guest.patch(f"/api/orders/{oid}", body("orders", {"_refresh": "1"}, id_=oid))
    assert attrs(shop, oid)["total_amount_cents"] == 3 * 4900
    # Switching autorefresh back on refreshes from then on.
    world.guest.patch(f"/api/orders/{oid}", body("orders", {"autorefresh": True}, id_=oid))
    world.guest.patch(f"/api/line_items/{lid}", body("line_items", {"quantity": 1}, id_=lid))
    assert attrs(shop, oid)["total_amount_cents"] == 4900


# --- 26 (first half) --------------------------------------------------------------------


def test_cancel_on_a_draft_is_an_invalid_transition(world: World) -> None:
    oid = new_order(world.guest)
    r = world.guest.patch(f"/api/orders/{oid}", body("orders", {"_cancel": True}, id_=oid))
    assert_422(
        r,
        "/data/attributes/_cancel",
        "invalid_transition",
        "cannot be performed in the current status",
    )
    assert attrs(world.shop, oid)["status"] == "draft"


def test_out_of_scope_triggers(world: World) -> None:
    oid = new_order(world.guest)
    r = world.guest.patch(f"/api/orders/{oid}", body("orders", {"_commit_invoice": True}, id_=oid))
    assert_422(r, "/data/attributes/_commit_invoice", "not_supported", "is not supported")
    r = world.guest.patch(f"/api/orders/{oid}", body("orders", {"_approve": True}, id_=oid))
    assert_status(r, 401, "UNAUTHORIZED")


# --- bad input on the cart ---------------------------------------------------------------

BAD_LINE_ITEMS: list[tuple[str, dict[str, Any], str, str]] = [
    ("unknown sku", {"sku_code": "NOPE", "quantity": 1}, "/data/attributes/sku_code", "invalid"),
    ("zero", {"sku_code": "TSHIRT-XL", "quantity": 0}, "/data/attributes/quantity", "greater_than"),
    (
        "negative",
        {"sku_code": "TSHIRT-XL", "quantity": -3},
        "/data/attributes/quantity",
        "greater_than",
    ),
    (
        "huge",
        {"sku_code": "TSHIRT-XL", "quantity": 10**9},
        "/data/attributes/quantity",
        "less_than_or_equal_to",
    ),
    ("missing quantity", {"sku_code": "TSHIRT-XL"}, "/data/attributes/quantity", "blank"),
    ("no price", {"sku_code": "NO-PRICE", "quantity": 1}, "/data/attributes/sku_code", "invalid"),
    (
        "no stock item",
        {"sku_code": "NO-STOCK", "quantity": 1},
        "/data/attributes/sku_code",
        "invalid",
    ),
    (
        "other market",
        {"sku_code": "ELSEWHERE", "quantity": 1},
        "/data/attributes/sku_code",
        "invalid",
    ),
    ("no sku", {"quantity": 1}, "/data/attributes/sku_code", "blank"),
]


@pytest.mark.parametrize(
    ("attributes", "pointer", "error"),
    [case[1:] for case in BAD_LINE_ITEMS],
    ids=[case[0] for case in BAD_LINE_ITEMS],
)
def test_bad_line_item_leaves_the_order_unchanged(
    world: World, attributes: dict[str, Any], pointer: str, error: str
) -> None:
    shop = world.shop
    oid = new_order(world.guest)
    add_item(world.guest, oid)
    before = snapshot(shop, oid)
    for client in (world.guest, shop.admin):
        r = client.post(
            "/api/line_items", body("line_items", attributes, {"order": ("orders", oid)})
        )
        if client is shop.admin and "sku_code" not in attributes:
            continue  # integrations may create custom line items with a unit amount
        assert_422(r, pointer, error)
        assert snapshot(shop, oid) == before


@pytest.mark.parametrize(
    ("quantity", "error"),
    [(0, "greater_than"), (-1, "greater_than"), (10**9, "less_than_or_equal_to")],
)
def test_bad_quantity_update_leaves_the_order_unchanged(
    world: World, quantity: int, error: str
) -> None:
    oid = new_order(world.guest)
    lid = add_item(world.guest, oid, quantity=2).json()["data"]["id"]
    before = snapshot(world.shop, oid)
    r = world.guest.patch(
        f"/api/line_items/{lid}", body("line_items", {"quantity": quantity}, id_=lid)
    )
    assert_422(r, "/data/attributes/quantity", error)
    assert snapshot(world.shop, oid) == before


@pytest.mark.parametrize("value", ["two", 1.5, True, [1]])
def test_malformed_quantity_is_400(world: World, value: Any) -> None:
    oid = new_order(world.guest)
    r = add_item(world.guest, oid, quantity=value)
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0]["source"]["pointer"] == "/data/attributes/quantity"


def test_line_item_on_an_order_of_another_market(world: World) -> None:
    shop = world.shop
    foreign_guest = guest_of(shop, world.other.code)
    foreign = new_order(foreign_guest)
    assert add_item(foreign_guest, foreign, "ELSEWHERE").status_code == 201
    before = snapshot(shop, foreign)
    # A sales channel of market A cannot reach market B's order at all.
    r = add_item(world.guest, foreign)
    assert_422(r, "/data/relationships/order", "invalid", "is invalid")
    assert world.guest.get(f"/api/orders/{foreign}").status_code == 404
    assert snapshot(shop, foreign) == before
    # An integration reaches it, but the SKU has no price in market B's price list.
    r = add_item(shop.admin, foreign, "TSHIRT-XL")
    assert_422(r, "/data/attributes/sku_code", "invalid")
    assert snapshot(shop, foreign) == before
    # And an order created by the integration in market B refuses the SKU too.
    admin_order = new_order(shop.admin, market=("markets", world.other.id))
    r = add_item(shop.admin, admin_order, "TSHIRT-XL")
    assert_422(r, "/data/attributes/sku_code", "invalid")
    assert attrs(shop, admin_order)["skus_count"] == 0


ADDRESS_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("no names", {"first_name": None, "last_name": ""}, ["first_name", "last_name"]),
    ("no line_1", {"line_1": None}, ["line_1"]),
    ("no city", {"city": ""}, ["city"]),
    ("no zip", {"zip_code": None}, ["zip_code"]),
    ("no country", {"country_code": None}, ["country_code"]),
    ("bad country", {"country_code": "Italy"}, ["country_code"]),
    ("no phone", {"phone": None}, ["phone"]),
    ("business without company", {"business": True}, ["company"]),
]


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [case[1:] for case in ADDRESS_CASES],
    ids=[case[0] for case in ADDRESS_CASES],
)
def test_address_without_required_fields(
    world: World, overrides: dict[str, Any], fields: list[str]
) -> None:
    from tests.shop import ADDRESS

    attributes = {**ADDRESS, **overrides}
    r = world.guest.post("/api/addresses", body("addresses", attributes))
    assert r.status_code == 422, r.text
    pointers = {e["source"]["pointer"] for e in r.json()["errors"]}
    assert pointers == {f"/data/attributes/{f}" for f in fields}
    # The same blanking on an existing address is refused and leaves it as it was.
    aid = address(world.guest)
    r = world.guest.patch(f"/api/addresses/{aid}", body("addresses", overrides, id_=aid))
    assert r.status_code == 422, r.text
    assert world.guest.get(f"/api/addresses/{aid}").json()["data"]["attributes"]["city"] == "Milano"


def test_address_rules(world: World) -> None:
    r = world.guest.post(
        "/api/addresses",
        body(
            "addresses",
            {
                "business": True,
                "company": "ACME",
                "line_1": "Main St 1",
                "city": "Berlin",
                "zip_code": "10115",
                "country_code": "de",
                "phone": "+49 30 1",
            },
        ),
    )
    assert r.status_code == 201, r.text
    a = r.json()["data"]["attributes"]
    assert a["full_name"] == "ACME" and a["country_code"] == "DE" and a["state_code"] is None
    assert a["full_address"] and "Berlin" in a["full_address"]
    assert a["name"].startswith("ACME")


def test_unknown_address_on_the_order_is_invalid(world: World) -> None:
    oid = new_order(world.guest)
    add_item(world.guest, oid)
    before = snapshot(world.shop, oid)
    for name in ("billing_address", "shipping_address"):
        r = world.guest.patch(
            f"/api/orders/{oid}", body("orders", {}, {name: ("addresses", "NoSuchAddr")}, id_=oid)
        )
        assert_422(r, f"/data/relationships/{name}", "invalid", "is invalid")
    assert snapshot(world.shop, oid) == before


REQUESTS: list[tuple[str, Callable[[Client, str], httpx.Response]]] = [
    ("patch no data", lambda c, oid: c.patch(f"/api/orders/{oid}", {"nope": 1})),
    ("patch wrong type", lambda c, oid: c.patch(f"/api/orders/{oid}", body("skus", {}, id_=oid))),
    (
        "patch unknown attribute",
        lambda c, oid: c.patch(f"/api/orders/{oid}", body("orders", {"x": 1}, id_=oid)),
    ),
    (
        "patch status",
        lambda c, oid: c.patch(f"/api/orders/{oid}", body("orders", {"status": "placed"}, id_=oid)),
    ),
    ("line item array", lambda c, oid: c.post("/api/line_items", {"data": []})),
]


@pytest.mark.parametrize("call", [r[1] for r in REQUESTS], ids=[r[0] for r in REQUESTS])
def test_malformed_requests_are_400(
    world: World, call: Callable[[Client, str], httpx.Response]
) -> None:
    oid = new_order(world.guest)
    before = snapshot(world.shop, oid)
    r = call(world.guest, oid)
    assert r.status_code == 400, r.text
    assert snapshot(world.shop, oid) == before


def test_changing_the_sku_code_reprices_the_line_item(world: World) -> None:
    shop = world.shop
    oid = new_order(world.guest)
    lid = add_item(world.guest, oid, quantity=4).json()["data"]["id"]
    before = snapshot(shop, oid)
    for code in ("NO-PRICE", "ELSEWHERE", "NOPE"):
        r = world.guest.patch(
            f"/api/line_items/{lid}", body("line_items", {"sku_code": code}, id_=lid)
        )
        assert_422(r, "/data/attributes/sku_code", "invalid")
        assert snapshot(shop, oid) == before
    r = world.guest.patch(
        f"/api/line_items/{lid}", body("line_items", {"sku_code": "FEW"}, id_=lid)
    )
    assert_422(r, "/data/attributes/quantity", "out_of_stock")
    r = world.guest.patch(
        f"/api/line_items/{lid}", body("line_items", {"sku_code": "FEW", "quantity": 3}, id_=lid)
    )
    assert r.status_code == 200, r.text
    a = r.json()["data"]["attributes"]
    assert (a["sku_code"], a["unit_amount_cents"], a["total_amount_cents"]) == ("FEW", 250, 750)
    assert a["name"] == "Item FEW"
    assert attrs(shop, oid)["subtotal_amount_cents"] == 750


def test_line_item_item_must_be_a_sku(world: World) -> None:
    oid = new_order(world.guest)
    before = snapshot(world.shop, oid)
    r = world.guest.post(
        "/api/line_items",
        body(
            "line_items",
            {"quantity": 1, "item_type": "skus"},
            {
                "order": ("orders", oid),
                "item": ("payment_methods", world.shop.ids["payment_method"]),
            },
        ),
    )
    assert_422(r, "/data/relationships/item", "invalid")
    assert snapshot(world.shop, oid) == before


def test_refresh_rereads_list_prices_but_keeps_custom_ones(world: World) -> None:
    shop = world.shop
    add_sku(shop, "REPRICE", price=1000, stock=10)
    price_id = shop.admin.get("/api/prices", **{"filter[q][sku_code_eq]": "REPRICE"}).json()[
        "data"
    ][0]["id"]
    oid = new_order(world.guest)
    listed = add_item(world.guest, oid, "REPRICE", 2).json()["data"]["id"]
    custom = shop.admin.post(
        "/api/line_items",
        body(
            "line_items",
            {"sku_code": "REPRICE", "quantity": 1, "unit_amount_cents": 10},
            {"order": ("orders", oid)},
        ),
    ).json()["data"]["id"]
    r = shop.admin.patch(
        f"/api/prices/{price_id}", body("prices", {"amount_cents": 1500}, id_=price_id)
    )
    assert r.status_code == 200, r.text
    r = world.guest.patch(f"/api/orders/{oid}", body("orders", {"_refresh": True}, id_=oid))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["subtotal_amount_cents"] == 2 * 1500 + 10

    def unit(lid: str) -> int:
        return int(
            world.guest.get(f"/api/line_items/{lid}").json()["data"]["attributes"][
                "unit_amount_cents"
            ]
        )

    assert (unit(listed), unit(custom)) == (1500, 10)
    # _refresh_prices (integration only) resets every price to the list.
    r = world.guest.patch(f"/api/orders/{oid}", body("orders", {"_refresh_prices": True}, id_=oid))
    assert_status(r, 401, "UNAUTHORIZED")
    r = shop.admin.patch(f"/api/orders/{oid}", body("orders", {"_refresh_prices": True}, id_=oid))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["subtotal_amount_cents"] == 3 * 1500
    assert unit(custom) == 1500
