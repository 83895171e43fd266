"""Webhook events reach loopback receivers: signed, once, retried, in order, never on rollback."""

from __future__ import annotations

import time
from typing import Any

from tests.shop import Shop
from tests.webhooks.helpers import new_customer, signed, subscribe, wait_until, webhook
from tests.webhooks.receiver import Receiver


def test_orders_place_arrives_once_signed_as_the_api_shows_it(
    hshop: Shop, receiver: Receiver
) -> None:
    hook = subscribe(hshop.admin, "orders.place", receiver.url, ["line_items", "customer"])
    secret = hook["attributes"]["shared_secret"]
    assert secret and hook["attributes"]["circuit_state"] == "closed"
    _cid, client = hshop.customer()
    oid = hshop.cart(client)
    r = hshop.place(client, oid)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["status"] == "placed"
    hits = receiver.wait(1)
    time.sleep(0.5)  # a second delivery would have arrived by now
    assert len(receiver.all_hits()) == 1
    hit = hits[0]
    assert hit.headers["x-commercelayer-topic"] == "orders.place"
    assert signed(hit.body, secret, hit.headers["x-commercelayer-signature"])
    assert not signed(hit.body + b" ", secret, hit.headers["x-commercelayer-signature"])
    assert hit.event_id.startswith("evt_")
    api = hshop.order(oid, include="line_items,customer")
    assert hit.doc == api
    assert {i["type"] for i in hit.doc["included"]} >= {"line_items", "customers"}
    path = f"/api/webhooks/{hook['id']}/last_event_callbacks"
    r = wait_until(lambda: r if (r := hshop.admin.get(path)).json().get("data") else None)
    assert r is not None and r.status_code == 200
    [callback] = r.json()["data"]
    assert callback["attributes"]["response_code"] == "200"
    assert callback["attributes"]["callback_url"] == receiver.url
    assert callback["attributes"]["payload"] == api


def test_fails_twice_then_succeeds_with_three_callbacks_and_one_event_id(
    hshop: Shop, receiver: Receiver
) -> None:
    hook = subscribe(hshop.admin, "customers.create", receiver.url)
    receiver.plan = [500, 503]
    customer = hshop.admin.create("customers", {"email": "thrice@example.com"})
    assert receiver.wait(1)
    hits = receiver.all_hits()
    assert [h.status for h in hits] == [500, 503, 200]
    assert len({h.event_id for h in hits}) == 1
    assert len({h.body for h in hits}) == 1  # the same bytes, so the same signature
    assert hits[-1].doc["data"]["id"] == customer["id"]

    def callbacks() -> list[dict[str, Any]]:
        r = hshop.admin.get(f"/api/webhooks/{hook['id']}", include="last_event_callbacks")
        return [i for i in r.json().get("included", []) if i["type"] == "event_callbacks"]

    # The worker records a round's outcomes once its sends are answered: the receiver can
    # see the third request a moment before the API shows its callback.
    recorded = wait_until(lambda: found if len(found := callbacks()) == 3 else None)
    assert recorded, callbacks()
    assert sorted(c["attributes"]["response_code"] for c in recorded) == ["200", "500", "503"]
    attributes = webhook(hshop.admin, hook["id"])
    assert attributes["circuit_failure_count"] == 0 and attributes["circuit_state"] == "closed"


def test_a_declined_place_sends_no_orders_place(hshop: Shop, receiver: Receiver) -> None:
    placed = Receiver()
    try:
        subscribe(hshop.admin, "orders.place", placed.url)
        subscribe(hshop.admin, "authorizations.failed", receiver.url)
        _cid, client = hshop.customer()
        oid = hshop.cart(client)
        hshop.behave("authorize", mode="decline", times=1)
        r = hshop.place(client, oid)
        assert r.status_code == 422, r.text
        # The failed authorization is kept and announced: the worker was running.
        [failed] = receiver.wait(1)
        assert failed.doc["data"]["type"] == "authorizations"
        time.sleep(0.5)
        assert placed.all_hits() == []
        assert hshop.order(oid)["data"]["attributes"]["status"] == "pending"
    finally:
        placed.close()


def test_thirty_failures_open_the_circuit_and_reset_drains_in_order(
    hshop: Shop, receiver: Receiver
) -> None:
    receiver.status = 500
    hook = subscribe(hshop.admin, "customers.create", receiver.url)
    ids = [new_customer(hshop)["id"] for _ in range(10)]
    opened = wait_until(lambda: webhook(hshop.admin, hook["id"])["circuit_state"] == "open")
    assert opened
    time.sleep(0.4)  # nothing is attempted while the circuit is open
    assert len(receiver.all_hits()) == 30
    assert webhook(hshop.admin, hook["id"])["circuit_failure_count"] == 30
    ids += [new_customer(hshop)["id"] for _ in range(3)]
    time.sleep(0.3)
    assert len(receiver.all_hits()) == 30
    receiver.status = 200
    r = hshop.admin.update("webhooks", hook["id"], {"_reset_circuit": True})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["circuit_state"] == "closed"
    hits = receiver.wait(13)
    assert [h.doc["data"]["id"] for h in hits] == ids
    assert len({h.event_id for h in hits}) == 13


def test_disabled_webhooks_record_nothing(hshop: Shop, receiver: Receiver) -> None:
    hook = subscribe(hshop.admin, "customers.create", receiver.url)
    r = hshop.admin.update("webhooks", hook["id"], {"_disable": True})
    assert r.json()["data"]["attributes"]["disabled_at"] is not None
    new_customer(hshop)
    r = hshop.admin.update("webhooks", hook["id"], {"_enable": True})
    assert r.json()["data"]["attributes"]["disabled_at"] is None
    customer = new_customer(hshop)
    [hit] = receiver.wait(1)
    time.sleep(0.3)
    assert len(receiver.all_hits()) == 1 and hit.doc["data"]["id"] == customer["id"]


def test_destroy_carries_only_the_id(hshop: Shop, receiver: Receiver) -> None:
    subscribe(hshop.admin, "customers.destroy", receiver.url)
    customer = new_customer(hshop)
    assert hshop.admin.delete(f"/api/customers/{customer['id']}").status_code == 204
    [hit] = receiver.wait(1)
    data = hit.doc["data"]
    assert data["id"] == customer["id"] and data["type"] == "customers"
    assert set(data["attributes"].values()) == {None}


def test_a_slow_receiver_gets_a_long_batch_over_several_rounds_in_order_once(
    hshop: Shop, receiver: Receiver
) -> None:
    # The test server leases a batch for 4 s with a 2 s timeout: a send starts only in the
    # first second after the claim, so at 0.4 s an answer a round sends about three of these
    # and hands the rest back, in order, to the next round.
    receiver.pace = 0.4
    hook = subscribe(hshop.admin, "customers.create", receiver.url)
    ids = [new_customer(hshop)["id"] for _ in range(8)]
    hits = receiver.wait(8, timeout=30)
    time.sleep(0.5)
    assert [h.doc["data"]["id"] for h in receiver.all_hits()] == ids
    assert len({h.event_id for h in hits}) == 8
    path = f"/api/webhooks/{hook['id']}/last_event_callbacks"

    def codes() -> list[str]:
        r = hshop.admin.get(path, **{"page[size]": 25})
        assert r.status_code == 200, r.text
        return [c["attributes"]["response_code"] for c in r.json()["data"]]

    # The last round's outcomes are recorded just after its sends are answered.
    assert wait_until(lambda: len(codes()) >= 8) and codes() == ["200"] * 8
