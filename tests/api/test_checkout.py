"""Checkout before money moves: addresses, payment methods, payment sources, shipments and the
``_place`` validations that need no gateway (orders-and-checkout §6–§8, §10.1, §16 checks 8–10)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
from tests.shop import ADDRESS, Shop
from tests.support import Client, Server


@dataclass
class World:
    shop: Shop
    other: Market
    guest: Client
    methods: dict[str, str] = field(default_factory=dict)
    shipping: dict[str, str] = field(default_factory=dict)


def _payment_method(shop: Shop, name: str, **extra: Any) -> str:
    rels = extra.pop("rels", {})
    attributes = {"payment_source_type": "external_payments", "name": name, **extra}
    rels.setdefault("payment_gateway", ("external_gateways", shop.ids["gateway"]))
    return str(shop.admin.create("payment_methods", attributes, rels)["id"])


def _shipping_method(shop: Shop, name: str, price: int, **extra: Any) -> str:
    rels = extra.pop("rels", {})
    attributes = {"name": name, "currency_code": "EUR", "price_amount_cents": price, **extra}
    return str(shop.admin.create("shipping_methods", attributes, rels or None)["id"])


@pytest.fixture(scope="module")
def world(server: Server, processor: ProcessorServer) -> World:
    shop = Shop.build(server, processor, account="acct-" + secrets.token_hex(4))
    other = add_market(shop)
    market = ("markets", shop.ids["market"])
    add_sku(shop, "SHOE", price=10000, stock=20, do_not_ship=False)
    w = World(shop, other, shop.guest())
    w.methods["market"] = shop.ids["payment_method"]
    w.methods["global"] = _payment_method(shop, "Global EUR", currency_code="EUR")
    w.methods["usd"] = _payment_method(shop, "Global USD", currency_code="USD")
    disabled = _payment_method(shop, "Disabled", rels={"market": market})
    r = shop.admin.patch(
        f"/api/payment_methods/{disabled}",
        body("payment_methods", {"_disable": True}, id_=disabled),
    )
    assert r.status_code == 200, r.text
    w.methods["disabled"] = disabled
    w.methods["other"] = _payment_method(shop, "Other", rels={"market": ("markets", other.id)})
    w.methods["priced"] = _payment_method(
        shop, "Cash on delivery", price_amount_cents=350, rels={"market": market}
    )
    w.shipping["standard"] = _shipping_method(shop, "Standard", 700, rels={"market": market})
    w.shipping["express"] = _shipping_method(
        shop, "Express", 1500, free_over_amount_cents=15000, rels={"market": market}
    )
    w.shipping["global"] = _shipping_method(shop, "Global", 900)
    w.shipping["usd"] = _shipping_method(shop, "USD", 900, currency_code="USD")
    w.shipping["other"] = _shipping_method(
        shop, "Other market", 100, rels={"market": ("markets", other.id)}
    )
    off = _shipping_method(shop, "Off", 100, rels={"market": market})
    r = shop.admin.patch(
        f"/api/shipping_methods/{off}", body("shipping_methods", {"_disable": True}, id_=off)
    )
    assert r.status_code == 200, r.text
    w.shipping["disabled"] = off
    category = shop.admin.create("shipping_categories", {"name": "Bulky"})
    w.shipping["bulky"] = _shipping_method(
        shop, "Bulky", 100, rels={"shipping_category": ("shipping_categories", category["id"])}
    )
    zone = shop.admin.create("shipping_zones", {"name": "DE", "country_code_regex": "^DE$"})
    w.shipping["germany"] = _shipping_method(
        shop, "Germany only", 100, rels={"shipping_zone": ("shipping_zones", zone["id"])}
    )
    return w


AVAILABLE_SHIPPING = {"standard", "express", "global"}


def _patch(client: Client, oid: str, attributes: dict[str, Any] | None = None, **rels: Any) -> Any:
    return client.patch(f"/api/orders/{oid}", body("orders", attributes or {}, rels or None, oid))


def _address_fields(client: Client, aid: str) -> dict[str, Any]:
    a = client.get(f"/api/addresses/{aid}").json()["data"]["attributes"]
    return {k: a[k] for k in ADDRESS}


def _rel_id(doc: dict[str, Any], name: str) -> str | None:
    data = doc["data"]["relationships"][name].get("data")
    return data["id"] if data else None


# --- 8: address triggers -----------------------------------------------------------------


def test_shipping_address_same_as_billing_copies_into_a_new_address(world: World) -> None:
    guest = world.guest
    oid = new_order(guest)
    add_item(guest, oid)
    billing = address(guest, first_name="Ann")
    r = guest.patch(
        f"/api/orders/{oid}",
        body(
            "orders",
            {"_shipping_address_same_as_billing": True},
            {"billing_address": ("addresses", billing)},
            oid,
        ),
        include="billing_address,shipping_address",
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    shipping = _rel_id(doc, "shipping_address")
    assert _rel_id(doc, "billing_address") == billing
    assert shipping is not None and shipping != billing
    assert _address_fields(guest, shipping) == _address_fields(guest, billing)
    assert doc["data"]["attributes"]["country_code"] == "IT"
    # The mirror trigger does the same the other way round.
    r = _patch(guest, oid, {"_billing_address_same_as_shipping": True})
    assert r.status_code == 200, r.text
    new_billing = _rel_id(shop_order(world, oid, "billing_address"), "billing_address")
    assert new_billing not in (billing, shipping)


def shop_order(world: World, oid: str, include: str) -> dict[str, Any]:
    return world.shop.order(oid, include=include)


@pytest.mark.parametrize(
    "trigger", ["_shipping_address_same_as_billing", "_billing_address_same_as_shipping"]
)
def test_same_as_without_the_source_address_is_blank(world: World, trigger: str) -> None:
    oid = new_order(world.guest)
    before = snapshot(world.shop, oid)
    r = _patch(world.guest, oid, {trigger: True})
    assert_422(r, f"/data/attributes/{trigger}", "blank", "can't be blank")
    assert snapshot(world.shop, oid) == before


def test_clone_address_ids(world: World) -> None:
    guest = world.guest
    oid = new_order(guest)
    source = address(guest, city="Torino")
    r = _patch(
        guest, oid, {"_billing_address_clone_id": source, "_shipping_address_clone_id": source}
    )
    assert r.status_code == 200, r.text
    doc = shop_order(world, oid, "billing_address,shipping_address")
    billing, shipping = _rel_id(doc, "billing_address"), _rel_id(doc, "shipping_address")
    assert len({source, billing, shipping}) == 3
    assert _address_fields(guest, billing or "")["city"] == "Torino"
    assert _address_fields(guest, shipping or "")["city"] == "Torino"
    r = _patch(guest, oid, {"_billing_address_clone_id": "NoSuchAddr"})
    assert_422(r, "/data/attributes/_billing_address_clone_id", "invalid", "is invalid")


def test_order_country_follows_shipping_then_billing(world: World) -> None:
    guest = world.guest
    oid = new_order(guest)
    de = address(guest, country_code="DE", city="Berlin")
    r = _patch(guest, oid, billing_address=("addresses", de))
    assert r.json()["data"]["attributes"]["country_code"] == "DE"
    fr = address(guest, country_code="FR", city="Paris")
    r = _patch(guest, oid, shipping_address=("addresses", fr))
    assert r.json()["data"]["attributes"]["country_code"] == "FR"


def test_shipping_country_code_lock(world: World) -> None:
    guest = world.guest
    r = guest.post("/api/orders", body("orders", {"shipping_country_code_lock": "IT"}))
    assert r.status_code == 201, r.text
    oid = r.json()["data"]["id"]
    de = address(guest, country_code="DE")
    before = snapshot(world.shop, oid)
    r = _patch(guest, oid, shipping_address=("addresses", de))
    err = assert_422(r, "/data/relationships/shipping_address", "invalid", "country is locked")
    assert err["detail"] == "shipping_address - country is locked"
    assert snapshot(world.shop, oid) == before
    # Billing in another country is fine; copying it to shipping is not.
    r = _patch(guest, oid, billing_address=("addresses", de))
    assert r.status_code == 200, r.text
    r = _patch(guest, oid, {"_shipping_address_same_as_billing": True})
    assert r.status_code == 422
    assert r.json()["errors"][0]["detail"].endswith("country is locked")
    it = address(guest)
    r = _patch(guest, oid, shipping_address=("addresses", it))
    assert r.status_code == 200, r.text


def test_save_addresses_to_the_customer_address_book(world: World) -> None:
    shop = world.shop
    _cid, customer = shop.customer()
    oid = new_order(customer)
    add_item(customer, oid)
    billing = address(customer, city="Napoli")
    r = _patch(
        customer,
        oid,
        {"_shipping_address_same_as_billing": True},
        billing_address=("addresses", billing),
    )
    assert r.status_code == 200, r.text
    r = _patch(
        customer,
        oid,
        {
            "_save_billing_address_to_customer_address_book": True,
            "_save_shipping_address_to_customer_address_book": True,
        },
    )
    assert r.status_code == 200, r.text
    book = customer.get("/api/customer_addresses", include="address").json()
    # Both order addresses are equal: the second save is a no-op.
    assert book["meta"]["record_count"] == 1
    assert book["included"][0]["attributes"]["city"] == "Napoli"
    # A guest has no address book.
    gid = new_order(world.guest)
    r = _patch(world.guest, gid, {"_save_billing_address_to_customer_address_book": True})
    assert_status(r, 401, "UNAUTHORIZED")
    # Without a customer on the order.
    aid = address(shop.admin)
    admin_order = new_order(
        shop.admin, market=("markets", shop.ids["market"]), billing_address=("addresses", aid)
    )
    r = _patch(shop.admin, admin_order, {"_save_billing_address_to_customer_address_book": True})
    assert_422(r, "/data/relationships/customer", "blank")


# --- 9: available payment methods --------------------------------------------------------


def test_available_payment_methods(world: World) -> None:
    oid = new_order(world.guest)
    doc = world.guest.get(f"/api/orders/{oid}", include="available_payment_methods").json()
    listed = {m["id"] for m in doc["data"]["relationships"]["available_payment_methods"]["data"]}
    expected = {world.methods[k] for k in ("market", "global", "priced")}
    assert listed == expected
    assert {i["id"] for i in doc["included"]} == expected
    # The related endpoint agrees.
    related = world.guest.get(f"/api/orders/{oid}/available_payment_methods")
    assert related.status_code == 200, related.text
    assert {m["id"] for m in related.json()["data"]} == expected
    # A sales channel may read the available methods and only those.
    for name in expected:
        assert world.guest.get(f"/api/payment_methods/{name}").status_code == 200
    for name in ("other", "disabled", "usd"):
        r = world.guest.get(f"/api/payment_methods/{world.methods[name]}")
        assert r.status_code in (401, 404), r.text


@pytest.mark.parametrize("which", ["usd", "disabled", "other"])
def test_unavailable_payment_method_is_invalid(world: World, which: str) -> None:
    oid = new_order(world.guest)
    add_item(world.guest, oid)
    before = snapshot(world.shop, oid)
    for client in (world.guest, world.shop.admin):
        r = _patch(client, oid, payment_method=("payment_methods", world.methods[which]))
        assert_422(r, "/data/relationships/payment_method", "invalid", "is invalid")
        assert snapshot(world.shop, oid) == before


def test_payment_method_price_is_a_line_item(world: World) -> None:
    shop = world.shop
    oid = new_order(world.guest)
    add_item(world.guest, oid)
    r = _patch(world.guest, oid, payment_method=("payment_methods", world.methods["priced"]))
    assert r.status_code == 200, r.text
    a = r.json()["data"]["attributes"]
    assert a["payment_method_amount_cents"] == 350
    assert a["total_amount_cents"] == 4900 + 350
    assert a["formatted_payment_method_amount"] == "€3,50"
    items = shop.order(oid, include="line_items")["included"]
    assert sorted(i["attributes"]["item_type"] for i in items) == ["payment_methods", "skus"]
    r = _patch(world.guest, oid, payment_method=("payment_methods", world.methods["market"]))
    a = r.json()["data"]["attributes"]
    assert (a["payment_method_amount_cents"], a["total_amount_cents"]) == (0, 4900)


# --- 10: payment source ------------------------------------------------------------------


def test_external_payment_becomes_the_payment_source(world: World) -> None:
    guest = world.guest
    oid = new_order(guest)
    add_item(guest, oid)
    _patch(guest, oid, payment_method=("payment_methods", world.methods["market"]))
    created = guest.create(
        "external_payments", {"payment_source_token": "tok_123"}, {"order": ("orders", oid)}
    )
    doc = guest.get(f"/api/orders/{oid}", include="payment_source").json()
    assert doc["data"]["relationships"]["payment_source"]["data"] == {
        "type": "external_payments",
        "id": created["id"],
    }
    before = snapshot(world.shop, oid)
    r = guest.post(
        "/api/external_payments",
        body(
            "external_payments",
            {"payment_source_token": "4111111111111111"},
            {"order": ("orders", oid)},
        ),
    )
    assert_422(r, "/data/attributes/payment_source_token", "invalid")
    assert snapshot(world.shop, oid) == before


# --- shipments ---------------------------------------------------------------------------


def _shippable_cart(world: World, quantity: int = 1, *, shipping: bool = True) -> str:
    guest = world.guest
    oid = new_order(guest)
    assert add_item(guest, oid, "SHOE", quantity).status_code == 201
    billing = address(guest)
    attributes = {"_shipping_address_same_as_billing": True} if shipping else {}
    r = _patch(guest, oid, attributes, billing_address=("addresses", billing))
    assert r.status_code == 200, r.text
    return oid


def _shipments(world: World, oid: str) -> dict[str, Any]:
    r = world.guest.get(
        f"/api/orders/{oid}/shipments", include="available_shipping_methods,stock_location"
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_shippable_order_gets_a_shipment_with_available_methods(world: World) -> None:
    shop = world.shop
    oid = _shippable_cart(world)
    doc = _shipments(world, oid)
    assert len(doc["data"]) == 1
    shipment = doc["data"][0]
    assert shipment["attributes"]["status"] == "draft"
    assert shipment["attributes"]["skus_count"] == 1
    listed = {m["id"] for m in shipment["relationships"]["available_shipping_methods"]["data"]}
    assert listed == {world.shipping[k] for k in AVAILABLE_SHIPPING}
    # Stock locations are not readable by sales channels; the integration sees the link.
    linked = shop.admin.get(f"/api/shipments/{shipment['id']}", include="stock_location").json()
    assert linked["included"][0]["id"] == shop.ids["stock_location"]
    assert attrs(shop, oid)["shipments_count"] == 1
    # A do_not_ship SKU alone gives no shipment.
    digital = new_order(world.guest)
    add_item(world.guest, digital)
    aid = address(world.guest)
    _patch(world.guest, digital, shipping_address=("addresses", aid))
    assert _shipments(world, digital)["data"] == []


def test_shipping_zone_matches_the_shipping_address(world: World) -> None:
    guest = world.guest
    oid = new_order(guest)
    add_item(guest, oid, "SHOE")
    de = address(guest, country_code="DE", city="Berlin")
    _patch(guest, oid, shipping_address=("addresses", de))
    shipment = _shipments(world, oid)["data"][0]
    listed = {m["id"] for m in shipment["relationships"]["available_shipping_methods"]["data"]}
    assert listed == {world.shipping[k] for k in (*AVAILABLE_SHIPPING, "germany")}


def test_choosing_a_shipping_method_sets_the_shipping_amount(world: World) -> None:
    shop = world.shop
    guest = world.guest
    oid = _shippable_cart(world)
    sid = _shipments(world, oid)["data"][0]["id"]
    r = guest.patch(
        f"/api/shipments/{sid}",
        body(
            "shipments",
            {},
            {"shipping_method": ("shipping_methods", world.shipping["standard"])},
            sid,
        ),
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["cost_amount_cents"] == 700
    a = attrs(shop, oid)
    assert a["shipping_amount_cents"] == 700
    assert a["total_amount_cents"] == 10000 + 700
    assert a["formatted_shipping_amount"] == "€7,00"
    # Express is free over 150 €: one pair costs 15 €, two pairs ship free.
    r = guest.patch(
        f"/api/shipments/{sid}",
        body(
            "shipments",
            {},
            {"shipping_method": ("shipping_methods", world.shipping["express"])},
            sid,
        ),
    )
    assert r.status_code == 200, r.text
    assert attrs(shop, oid)["shipping_amount_cents"] == 1500
    doc = guest.get(f"/api/shipments/{sid}", include="available_shipping_methods").json()
    express = next(i for i in doc["included"] if i["id"] == world.shipping["express"])
    assert express["attributes"]["price_amount_for_shipment_cents"] == 1500
    assert add_item(guest, oid, "SHOE", 1).status_code == 201
    a = attrs(shop, oid)
    assert (a["subtotal_amount_cents"], a["shipping_amount_cents"]) == (20000, 0)
    assert a["total_amount_cents"] == 20000
    doc = guest.get(f"/api/shipments/{sid}", include="available_shipping_methods").json()
    express = next(i for i in doc["included"] if i["id"] == world.shipping["express"])
    assert express["attributes"]["price_amount_for_shipment_cents"] == 0
    assert express["attributes"]["formatted_price_amount_for_shipment"] == "€0,00"
    items = shop.order(oid, include="line_items")["included"]
    assert sorted(i["attributes"]["item_type"] for i in items) == ["shipments", "skus", "skus"]


@pytest.mark.parametrize("which", ["usd", "other", "disabled", "bulky", "germany"])
def test_unavailable_shipping_method_is_invalid(world: World, which: str) -> None:
    oid = _shippable_cart(world)
    sid = _shipments(world, oid)["data"][0]["id"]
    before = snapshot(world.shop, oid)
    for client in (world.guest, world.shop.admin):
        r = client.patch(
            f"/api/shipments/{sid}",
            body(
                "shipments",
                {},
                {"shipping_method": ("shipping_methods", world.shipping[which])},
                sid,
            ),
        )
        assert_422(r, "/data/relationships/shipping_method", "invalid", "is invalid")
    assert snapshot(world.shop, oid) == before


@pytest.mark.parametrize("name", ["shipping_category", "inventory_stock_location"])
def test_sales_channel_cannot_rewire_a_shipment(world: World, name: str) -> None:
    shop = world.shop
    oid = _shippable_cart(world)
    sid = _shipments(world, oid)["data"][0]["id"]
    target = {
        "shipping_category": ("shipping_categories", shop.ids["shipping_category"]),
        "inventory_stock_location": (
            "inventory_stock_locations",
            shop.admin.get("/api/inventory_stock_locations").json()["data"][0]["id"],
        ),
    }[name]
    before = snapshot(shop, oid)
    r = world.guest.patch(f"/api/shipments/{sid}", body("shipments", {}, {name: target}, sid))
    assert_422(r, f"/data/relationships/{name}", "invalid")
    assert snapshot(shop, oid) == before


def test_place_needs_a_shipping_address_and_methods(world: World) -> None:
    shop = world.shop
    oid = _shippable_cart(world, shipping=False)
    _patch(world.guest, oid, {"customer_email": "ship@example.com"})
    before = snapshot(shop, oid)
    r = _patch(shop.admin, oid, {"_place": True})
    assert r.status_code == 422, r.text
    pointers = {e["source"]["pointer"]: e for e in r.json()["errors"]}
    assert pointers["/data/relationships/shipping_address"]["title"] == "can't be blank"
    assert pointers["/data/relationships/payment_method"]["meta"]["error"] == "blank"
    assert pointers["/data/relationships/payment_source"]["meta"]["error"] == "blank"
    assert "/data/relationships/shipments" not in pointers
    assert snapshot(shop, oid) == before
    # With a shipping address there is a shipment, but it has no method yet.
    _patch(world.guest, oid, {"_shipping_address_same_as_billing": True})
    _patch(world.guest, oid, payment_method=("payment_methods", world.methods["market"]))
    world.guest.create(
        "external_payments", {"payment_source_token": "tok_ship"}, {"order": ("orders", oid)}
    )
    r = _patch(shop.admin, oid, {"_place": True})
    err = assert_422(r, "/data/relationships/shipments", "invalid", "must have a shipping method")
    assert err["detail"] == "shipments - must have a shipping method"
    assert [e["source"]["pointer"] for e in r.json()["errors"]] == ["/data/relationships/shipments"]
    assert attrs(shop, oid)["status"] == "pending"
    # Choosing a method makes the order placeable (the gateway approves by default).
    sid = _shipments(world, oid)["data"][0]["id"]
    world.guest.patch(
        f"/api/shipments/{sid}",
        body(
            "shipments",
            {},
            {"shipping_method": ("shipping_methods", world.shipping["standard"])},
            sid,
        ),
    )
    r = _patch(shop.admin, oid, {"_place": True})
    assert r.status_code == 200, r.text
    a = r.json()["data"]["attributes"]
    assert (a["status"], a["fulfillment_status"]) == ("placed", "unfulfilled")
    assert a["total_amount_with_taxes_cents"] == 10700
    shipment = world.guest.get(f"/api/shipments/{sid}").json()["data"]
    assert shipment["attributes"]["status"] == "upcoming"


def test_place_on_an_empty_draft_lists_every_failure(world: World) -> None:
    oid = new_order(world.guest)
    r = _patch(world.shop.admin, oid, {"_place": True})
    assert r.status_code == 422, r.text
    pointers = [e["source"]["pointer"] for e in r.json()["errors"]]
    assert pointers == [
        "/data/relationships/line_items",
        "/data/attributes/customer_email",
        "/data/relationships/billing_address",
    ]
    assert attrs(world.shop, oid)["status"] == "draft"


# --- totals identities over random carts, end to end ---------------------------------------


@pytest.fixture(scope="module")
def notax(world: World) -> Market:
    return add_market(world.shop, tax_included=False)


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    lines=st.lists(st.tuples(st.integers(1, 4), st.integers(1, 90_000)), min_size=1, max_size=4),
    payment=st.integers(0, 2_000),
    shipping=st.none() | st.integers(0, 3_000),
)
def test_random_carts_add_up(
    world: World, notax: Market, lines: list[tuple[int, int]], payment: int, shipping: int | None
) -> None:
    shop = world.shop
    admin = shop.admin
    guest = guest_of(shop, notax.code)
    market = ("markets", notax.id)
    oid = new_order(guest)
    for quantity, price in lines:
        code = "R-" + secrets.token_hex(4)
        add_sku(
            shop,
            code,
            price=price,
            stock=10,
            price_list=notax.price_list,
            location=notax.location,
            do_not_ship=shipping is None,
        )
        assert add_item(guest, oid, code, quantity).status_code == 201
    method = _payment_method(shop, "Random", price_amount_cents=payment, rels={"market": market})
    r = _patch(guest, oid, payment_method=("payment_methods", method))
    assert r.status_code == 200, r.text
    if shipping is not None:
        ship_method = _shipping_method(shop, "Random", shipping, rels={"market": market})
        aid = address(guest)
        _patch(guest, oid, shipping_address=("addresses", aid))
        sid = guest.get(f"/api/orders/{oid}/shipments").json()["data"][0]["id"]
        r = guest.patch(
            f"/api/shipments/{sid}",
            body("shipments", {}, {"shipping_method": ("shipping_methods", ship_method)}, sid),
        )
        assert r.status_code == 200, r.text
    a = attrs(shop, oid, admin)
    subtotal = sum(q * p for q, p in lines)
    assert a["tax_included"] is False
    assert a["subtotal_amount_cents"] == subtotal
    assert a["payment_method_amount_cents"] == payment
    assert a["shipping_amount_cents"] == (shipping or 0)
    assert a["discount_amount_cents"] == 0
    assert a["total_amount_cents"] == subtotal + (shipping or 0) + payment
    assert (
        a["total_amount_with_taxes_cents"] == a["total_amount_cents"] + a["total_tax_amount_cents"]
    )
    assert a["skus_count"] == sum(q for q, _ in lines)
    assert a["shipments_count"] == (0 if shipping is None else 1)
