"""What the events say along an order's life, and the password reset token for the shop."""

from __future__ import annotations

from typing import Any

from tests.shop import Shop
from tests.support import Client
from tests.webhooks.helpers import new_customer, subscribe
from tests.webhooks.receiver import Hit, Receiver

TOPICS = [
    "orders.place",
    "orders.authorize",
    "orders.approve",
    "orders.pay",
    "authorizations.create",
    "authorizations.succeeded",
    "captures.create",
    "captures.succeeded",
]
"""The test shop's SKU needs no shipping: no fulfilment or shipment events."""


def _topics(hits: list[Hit], kind: str) -> list[str]:
    return [h.headers["x-commercelayer-topic"] for h in hits if h.doc["data"]["type"] == kind]


def test_an_order_life_in_order_on_one_receiver(hshop: Shop, receiver: Receiver) -> None:
    for topic in TOPICS:
        subscribe(hshop.admin, topic, receiver.url)
    _cid, client = hshop.customer()
    oid = hshop.cart(client)
    assert hshop.place(client, oid).status_code == 200
    r = hshop.admin.update("orders", oid, {"_approve": True})
    assert r.status_code == 200, r.text
    r = hshop.admin.update("orders", oid, {"_capture": True})
    assert r.status_code == 200, r.text
    hits = receiver.wait(len(TOPICS))
    assert sorted(h.headers["x-commercelayer-topic"] for h in hits) == sorted(TOPICS)
    assert _topics(hits, "orders") == [
        "orders.place",
        "orders.authorize",
        "orders.approve",
        "orders.pay",
    ]
    assert _topics(hits, "authorizations") == ["authorizations.create", "authorizations.succeeded"]
    assert _topics(hits, "captures") == ["captures.create", "captures.succeeded"]


def _reset(client: Client, email: str) -> dict[str, Any]:
    return client.create("customer_password_resets", {"customer_email": email})


def test_a_storefront_reset_gives_the_shop_its_token(hshop: Shop, receiver: Receiver) -> None:
    subscribe(hshop.admin, "customer_password_resets.create", receiver.url)
    subscribe(hshop.admin, "customer_password_resets.reset_password", receiver.url)
    email = new_customer(hshop)["attributes"]["email"]
    guest = hshop.guest()
    asked = _reset(guest, email)
    assert asked["attributes"].get("reset_password_token") is None  # never to the storefront
    unknown = _reset(guest, "nobody-here@example.com")  # no customer: an event, no token
    hits = receiver.wait(2)
    by_id = {h.doc["data"]["id"]: h.doc["data"]["attributes"] for h in hits}
    assert by_id[unknown["id"]].get("reset_password_token") is None
    token = by_id[asked["id"]]["reset_password_token"]
    assert token
    r = guest.update(
        "customer_password_resets",
        asked["id"],
        {"_reset_password_token": token, "customer_password": "a-new-password-1"},
    )
    assert r.status_code == 200, r.text
    last = receiver.wait(3)[2]
    assert last.headers["x-commercelayer-topic"] == "customer_password_resets.reset_password"
    assert last.doc["data"]["id"] == asked["id"]
    assert last.doc["data"]["attributes"].get("reset_password_token") is None
