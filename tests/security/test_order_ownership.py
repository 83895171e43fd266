"""Orders that belong to a customer are that customer's (issue: one access model).

The attack: with the public sales-channel token and the id of a customer's pending order
whose payment source copies the customer's saved wallet entry, a guest re-addresses the order,
adds items and places it, charging the saved card; or reads the card token through
``include=payment_source``. Every step must answer exactly as for an unknown id, and the
order and the processor's ledger must stay as they were.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from kassa.bootstrap import init_organization
from kassa.fake_processor import ProcessorServer
from kassa.settings import Settings
from tests.api.checkout_support import add_item, add_market, add_sku, body, guest_of
from tests.api.wallet_helpers import reuse, save, saved_entry
from tests.shop import ADDRESS, Shop
from tests.support import Client, Server

UNKNOWN = "zzzzzzzzzz"


@dataclass
class Victim:
    shop: Shop
    customer_id: str
    client: Client
    order: str
    """A pending order paying with a copy of the customer's saved wallet entry."""
    source: str
    card: str
    """The saved card's token at the gateway."""
    line_item: str
    shipment: str
    billing: str


@pytest.fixture(scope="module")
def victim(server: Server, processor: ProcessorServer) -> Victim:
    shop = Shop.build(server, processor, account="own-" + secrets.token_hex(4))
    customer_id, client = shop.customer()
    first = shop.cart(client, token="pm_victim_card")
    entry = saved_entry(save(client, first))["id"]
    oid = shop.cart(client, pay=False)
    add_sku(shop, "BOOTS", do_not_ship=False)
    assert add_item(client, oid, "BOOTS").status_code == 201
    courier = shop.admin.create(
        "shipping_methods", {"name": "Courier", "currency_code": "EUR", "price_amount_cents": 0}
    )["id"]
    shipment = shop.order(oid, include="shipments")["included"][0]["id"]
    r = client.update("shipments", shipment, {}, {"shipping_method": ("shipping_methods", courier)})
    assert r.status_code == 200, r.text
    r = reuse(client, oid, entry)
    assert r.status_code == 200, r.text
    doc = shop.order(oid, include="line_items,shipments,payment_source,billing_address")
    rels = doc["data"]["relationships"]
    card = next(i for i in doc["included"] if i["type"] == "external_payments")
    return Victim(
        shop,
        customer_id,
        client,
        oid,
        rels["payment_source"]["data"]["id"],
        card["attributes"]["payment_source_token"],
        next(i["id"] for i in doc["included"] if i["type"] == "line_items"),
        rels["shipments"]["data"][0]["id"],
        rels["billing_address"]["data"]["id"],
    )


def _state(v: Victim) -> tuple[Any, ...]:
    doc = v.shop.order(v.order, include="line_items,payment_source,billing_address")
    a = doc["data"]["attributes"]
    items = sorted(
        (i["id"], i["attributes"]["quantity"])
        for i in doc.get("included", [])
        if i["type"] == "line_items"
    )
    return (
        a["status"],
        a["total_amount_cents"],
        a["customer_email"],
        doc["data"]["relationships"]["billing_address"],
        items,
        len(v.shop.calls("authorize")),
    )


def _same_as_unknown(hidden: httpx.Response, missing: httpx.Response) -> None:
    assert hidden.status_code == missing.status_code, hidden.text
    assert hidden.content == missing.content


def test_guest_cannot_read_a_customers_order_or_anything_on_it(victim: Victim) -> None:
    guest = victim.shop.guest()
    paths = [
        ("orders", victim.order, "payment_source"),
        ("line_items", victim.line_item, None),
        ("shipments", victim.shipment, None),
        ("external_payments", victim.source, None),
        ("addresses", victim.billing, None),
    ]
    for type_, id_, include in paths:
        params = {"include": include} if include else {}
        hidden = guest.get(f"/api/{type_}/{id_}", **params)
        assert hidden.status_code == 404, (type_, hidden.text)
        _same_as_unknown(hidden, guest.get(f"/api/{type_}/{UNKNOWN}", **params))
    for rel in ("line_items", "payment_source", "shipments", "available_payment_methods"):
        hidden = guest.get(f"/api/orders/{victim.order}/{rel}")
        _same_as_unknown(hidden, guest.get(f"/api/orders/{UNKNOWN}/{rel}"))
    assert victim.card.encode() not in guest.get(f"/api/orders/{victim.order}").content


def test_guest_cannot_readdress_fill_or_place_a_customers_order(victim: Victim) -> None:
    guest = victim.shop.guest()
    before = _state(victim)
    mine = guest.create("addresses", {**ADDRESS, "first_name": "Mallory"})["id"]
    attacks = [
        {"customer_email": "mallory@example.com"},
        {"_place": True},
        {"_billing_address_clone_id": mine},
        {"_refresh": True},
    ]
    for attributes in attacks:
        hidden = guest.update("orders", victim.order, attributes)
        missing = guest.patch(f"/api/orders/{UNKNOWN}", body("orders", attributes, id_=UNKNOWN))
        _same_as_unknown(hidden, missing)
    hidden = guest.update("orders", victim.order, {}, {"billing_address": ("addresses", mine)})
    assert hidden.status_code == 404, hidden.text
    # Adding a line item to it: the order is as unknown as a made-up id.
    for oid in (victim.order, UNKNOWN):
        r = guest.post(
            "/api/line_items",
            body(
                "line_items", {"sku_code": "TSHIRT-XL", "quantity": 1}, {"order": ("orders", oid)}
            ),
        )
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["source"] == {"pointer": "/data/relationships/order"}
    for type_, id_ in (
        ("line_items", victim.line_item),
        ("external_payments", victim.source),
        ("shipments", victim.shipment),
    ):
        hidden = guest.update(type_, id_, {"metadata": {"x": 1}})
        assert hidden.status_code == 404, (type_, hidden.text)
    for type_, id_ in (("line_items", victim.line_item), ("external_payments", victim.source)):
        assert guest.delete(f"/api/{type_}/{id_}").status_code == 404
    assert _state(victim) == before


def test_another_customer_cannot_reach_the_order(victim: Victim) -> None:
    _other_id, other = victim.shop.customer()
    before = _state(victim)
    hidden = other.get(f"/api/orders/{victim.order}", include="payment_source")
    _same_as_unknown(hidden, other.get(f"/api/orders/{UNKNOWN}", include="payment_source"))
    assert other.update("orders", victim.order, {"_place": True}).status_code == 404
    r = other.get("/api/orders", **{"filter[q][id_eq]": victim.order})
    assert r.status_code == 200 and r.json()["meta"]["record_count"] == 0
    assert _state(victim) == before


def test_a_guest_keeps_full_access_to_guest_orders(shop: Shop) -> None:
    guest = shop.guest()
    oid = shop.cart(guest)
    doc = shop.order(oid, guest, include="line_items,payment_source,shipments")
    assert {i["type"] for i in doc["included"]} >= {"line_items", "external_payments"}
    r = shop.place(guest, oid)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["status"] == "placed"
    # A guest of another market does not see it.
    stranger = guest_of(shop, add_market(shop).code)
    _same_as_unknown(stranger.get(f"/api/orders/{oid}"), stranger.get(f"/api/orders/{UNKNOWN}"))


def test_a_customer_claims_a_guest_order_made_with_its_email(shop: Shop) -> None:
    email = f"claim-{secrets.token_hex(3)}@example.com"
    _cid, customer = shop.customer(email=email)
    guest = shop.guest()
    oid = shop.cart(guest, pay=False)
    r = guest.update("orders", oid, {"customer_email": email})
    assert r.status_code == 200, r.text
    # The order now names the customer: the customer sees it, the guest still does.
    assert customer.get(f"/api/orders/{oid}").status_code == 200
    assert guest.get(f"/api/orders/{oid}").status_code == 200
    # The customer's first write makes it the customer's own.
    r = customer.update("orders", oid, {"metadata": {"claimed": True}})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["guest"] is False
    assert guest.get(f"/api/orders/{oid}").status_code == 404
    assert guest.update("orders", oid, {"_place": True}).status_code == 404


def test_payment_source_tokens_are_shown_to_integrations_and_the_owner_only(
    victim: Victim, shop: Shop
) -> None:
    path = f"/api/external_payments/{victim.source}"
    for client in (victim.shop.admin, victim.client):
        attributes = client.get(path).json()["data"]["attributes"]
        assert attributes["payment_source_token"] == victim.card
    guest = shop.guest()
    oid = shop.cart(guest, token="pm_guest_card")
    doc = shop.order(oid, include="payment_source")
    source = doc["data"]["relationships"]["payment_source"]["data"]["id"]
    for params in ({}, {"fields[external_payments]": "payment_source_token"}):
        r = guest.get(f"/api/external_payments/{source}", **params)
        assert r.status_code == 200, r.text
        assert "payment_source_token" not in r.json()["data"]["attributes"]
        assert b"pm_guest_card" not in r.content
        r = guest.get(f"/api/orders/{oid}", include="payment_source", **params)
        assert b"pm_guest_card" not in r.content
    attributes = shop.admin.get(f"/api/external_payments/{source}").json()["data"]["attributes"]
    assert attributes["payment_source_token"] == "pm_guest_card"


def test_shared_secrets_are_never_shown_to_storefronts(shop: Shop) -> None:
    market_id = shop.ids["market"]
    method = shop.admin.create(
        "shipping_methods",
        {"name": "Courier", "currency_code": "EUR", "price_amount_cents": 500},
        {"market": ("markets", market_id)},
    )["id"]
    secrets_seen = {
        "markets": shop.admin.get(f"/api/markets/{market_id}"),
        "shipping_methods": shop.admin.get(f"/api/shipping_methods/{method}"),
    }
    for type_, r in secrets_seen.items():
        assert r.json()["data"]["attributes"]["shared_secret"], type_
    _cid, customer = shop.customer()
    for client in (shop.guest(), customer):
        for type_, id_ in (("markets", market_id), ("shipping_methods", method)):
            secret = secrets_seen[type_].json()["data"]["attributes"]["shared_secret"]
            for params in ({}, {f"fields[{type_}]": "shared_secret,name"}):
                r = client.get(f"/api/{type_}/{id_}", **params)
                assert r.status_code == 200, r.text
                assert "shared_secret" not in r.json()["data"]["attributes"]
                assert secret.encode() not in r.content
            r = client.get(f"/api/{type_}/{id_}", **{"filter[q][shared_secret_eq]": secret})
            assert secret.encode() not in r.content


def test_clone_trigger_cannot_copy_another_customers_address(victim: Victim) -> None:
    _other_id, other = victim.shop.customer()
    oid = victim.shop.cart(other, pay=False)
    attempts = {}
    for source in (victim.billing, UNKNOWN):
        r = other.update("orders", oid, {"_billing_address_clone_id": source})
        attempts[source] = r
        assert r.status_code == 422, r.text
    assert attempts[victim.billing].content == attempts[UNKNOWN].content


def test_the_other_mode_does_not_reach_the_order(victim: Victim, server: Server) -> None:
    shop = victim.shop
    slug = shop.creds["organization_slug"]
    live = asyncio.run(
        init_organization(Settings(database_url=server.database_url), slug, slug, mode="live")
    )
    live_shop = Shop.build(
        server, shop.processor, account="own-live-" + secrets.token_hex(4), creds=live
    )
    _cid, live_customer = live_shop.customer()
    for client in (live_shop.admin, live_shop.guest(), live_customer):
        hidden = client.get(f"/api/orders/{victim.order}", include="payment_source")
        _same_as_unknown(hidden, client.get(f"/api/orders/{UNKNOWN}", include="payment_source"))
        assert client.update("orders", victim.order, {"_place": True}).status_code == 404


def test_the_owner_and_the_integration_still_place_it(victim: Victim) -> None:
    # Last in this module, as it places the victim's order.
    r = victim.shop.place(victim.client, victim.order)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["status"] == "placed"
    authorize = victim.shop.calls("authorize")[-1]
    assert victim.card in str(authorize)
