"""What Kassa sends to the gateway, and asynchronous completion (payments-and-wallet §4, §9).

Checks 4, 5 and 18 of payments-and-wallet §13: the authorize body and its included
resources, the signature of every recorded call, and pending (HTTP 202) authorizations.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from kassa.payments.callouts import SIGNATURE_HEADER, sign
from tests.api.payflow import (
    assert_error_shape,
    attrs,
    gateway,
    placed,
    state,
    stock,
    txns,
)
from tests.shop import Shop
from tests.support import error_of


def _check_signatures(shop: Shop) -> None:
    secret = gateway(shop)["shared_secret"]
    calls = shop.calls()
    assert calls
    for call in calls:
        assert call["signature_valid"] is True
        assert call["signature"] == sign(secret, call["body"].encode())


def test_authorize_callout_body_and_includes(shop: Shop) -> None:
    customer_id, client = shop.customer()
    oid = shop.cart(client)
    order = shop.order(oid, include="line_items,billing_address,shipping_address")["data"]
    rels = order["relationships"]
    assert shop.place(client, oid).status_code == 200
    [call] = shop.calls("authorize")
    body = call["json"]
    assert body["data"]["type"] == "external_payments"
    source_id = shop.order(oid, include="payment_source")["included"][0]["id"]
    assert body["data"]["id"] == source_id
    assert body["data"]["attributes"]["payment_source_token"] == "tok_abc"
    assert body["data"]["meta"]["mode"] == "test"
    included = {(i["type"], i["id"]) for i in body["included"]}
    assert len(included) == len(body["included"]), "each included resource appears once"
    line_item_ids = {d["id"] for d in rels["line_items"]["data"]}
    assert {
        ("orders", oid),
        ("markets", shop.ids["market"]),
        ("customers", customer_id),
        ("addresses", rels["billing_address"]["data"]["id"]),
        ("addresses", rels["shipping_address"]["data"]["id"]),
        ("skus", shop.ids["sku"]),
    } <= included
    assert {("line_items", i) for i in line_item_ids} <= included
    sent_order = next(i for i in body["included"] if i["type"] == "orders")
    assert sent_order["attributes"]["total_amount_with_taxes_cents"] == 4900
    assert sent_order["attributes"]["currency_code"] == "EUR"
    _check_signatures(shop)
    assert call["signature"] == sign(gateway(shop)["shared_secret"], call["body"].encode())


def test_every_transaction_callout_is_signed_with_its_target(shop: Shop) -> None:
    oid, _client = placed(shop, quantity=2)
    assert shop.admin.update("orders", oid, {"_approve_and_capture": True}).status_code == 200
    [cap] = txns(shop, oid, "captures")
    r = shop.admin.update("captures", cap["id"], {"_refund": True, "_refund_amount_cents": 500})
    assert r.status_code == 200, r.text
    other, _ = placed(shop)
    assert shop.admin.update("orders", other, {"_cancel": True}).status_code == 200
    kinds = {c["action"]: c["json"]["data"]["type"] for c in shop.calls()}
    assert kinds == {
        "authorize": "external_payments",
        "capture": "authorizations",
        "refund": "captures",
        "void": "authorizations",
    }
    for call in shop.calls():
        types = {i["type"] for i in call["json"]["included"]}
        assert "orders" in types and "markets" in types
    _check_signatures(shop)


def test_external_includes_replace_the_default_list(shop: Shop) -> None:
    r = shop.admin.update(
        "external_gateways", shop.ids["gateway"], {"external_includes": ["order", "wallet"]}
    )
    assert r.status_code == 200, r.text
    client = shop.guest()
    oid = shop.cart(client)
    assert shop.place(client, oid).status_code == 200
    [call] = shop.calls("authorize")
    assert [i["type"] for i in call["json"]["included"]] == ["orders"]
    _check_signatures(shop)


def test_regenerated_secret_signs_the_next_callouts(shop: Shop) -> None:
    old = gateway(shop)["shared_secret"]
    gid = shop.ids["gateway"]
    r = shop.admin.update("external_gateways", gid, {"_regenerate_shared_secret": True})
    assert r.status_code == 200, r.text
    new = r.json()["data"]["attributes"]["shared_secret"]
    assert new and new != old
    httpx.put(f"{shop.processor.url}/_accounts/{shop.account}", json={"shared_secret": new})
    oid, _ = placed(shop)
    _check_signatures(shop)
    assert state(shop, oid) == ("placed", "authorized")


# --- asynchronous payments (check 18) --------------------------------------------------------


def _webhook(shop: Shop, body: dict[str, Any], secret: str | None = None) -> httpx.Response:
    raw = json.dumps(body).encode()
    secret = secret if secret is not None else gateway(shop)["shared_secret"]
    return httpx.post(
        f"{shop.base_url}/webhook_callbacks/external_gateways/{shop.ids['gateway']}",
        content=raw,
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, raw)},
    )


def _pending_order(shop: Shop) -> tuple[str, dict[str, Any], str]:
    shop.behave("authorize", mode="async", times=1)
    client = shop.guest()
    oid = shop.cart(client)
    before = stock(shop)
    r = shop.place(client, oid)
    assert r.status_code == 200, r.text
    a = r.json()["data"]["attributes"]
    assert (a["status"], a["payment_status"], a["editable"]) == ("placed", "unpaid", False)
    assert stock(shop) == before - 1
    [auth] = txns(shop, oid, "authorizations")
    assert auth["attributes"]["succeeded"] is False
    action_id = shop.calls("authorize")[-1]["response"]["data"]["action_id"]
    return oid, auth, action_id


def test_async_authorization_completed_by_signed_webhook(shop: Shop) -> None:
    oid, auth, action_id = _pending_order(shop)
    body = {"success": True, "data": {"action_id": action_id, "avs_code": "Y"}}
    bad = _webhook(shop, body, secret="not-the-secret")
    assert_error_shape(bad, 401)
    unsigned = httpx.post(
        f"{shop.base_url}/webhook_callbacks/external_gateways/{shop.ids['gateway']}",
        content=json.dumps(body),
    )
    assert unsigned.status_code == 401
    assert state(shop, oid) == ("placed", "unpaid")
    unknown = _webhook(shop, {"success": True, "data": {"action_id": "act_unknown"}})
    assert_error_shape(unknown, 404)
    r = _webhook(shop, body)
    assert r.status_code == 200, r.text
    assert r.json() == {}
    assert state(shop, oid) == ("placed", "authorized")
    [done] = txns(shop, oid, "authorizations")
    t = done["attributes"]
    assert (t["succeeded"], t["avs_code"]) == (True, "Y")
    assert t["amount_cents"] == auth["attributes"]["amount_cents"]
    assert t["token"] == auth["attributes"]["token"]
    assert t["capture_balance_cents"] == 4900
    again = _webhook(shop, body)
    assert again.status_code == 200
    assert len(txns(shop, oid)) == 1
    # The completed authorization can be captured like any other.
    assert shop.admin.update("orders", oid, {"_approve_and_capture": True}).status_code == 200
    assert state(shop, oid) == ("approved", "paid")


def test_async_failure_leaves_the_order_unpaid(shop: Shop) -> None:
    oid, _auth, action_id = _pending_order(shop)
    body = {
        "success": False,
        "data": {"action_id": action_id, "error": {"code": "EXPIRED", "message": "Expired"}},
    }
    r = _webhook(shop, body)
    assert r.status_code == 200, r.text
    assert state(shop, oid) == ("placed", "unpaid")
    [t] = [x["attributes"] for x in txns(shop, oid, "authorizations")]
    assert (t["succeeded"], t["error_code"], t["message"]) == (False, "EXPIRED", "Expired")


def test_async_authorization_forwarded(shop: Shop) -> None:
    oid, auth, _action_id = _pending_order(shop)
    denied = shop.guest().update("authorizations", auth["id"], {"_forward": True})
    assert_error_shape(denied, 401)
    r = shop.admin.update("authorizations", auth["id"], {"_forward": True})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["succeeded"] is True
    assert state(shop, oid) == ("placed", "authorized")
    assert attrs(shop, oid)["payment_updated_at"]


def test_webhook_rejects_malformed_bodies(shop: Shop) -> None:
    for body in ({"data": {"action_id": "x"}}, {"success": True, "data": {}}):
        r = _webhook(shop, body)
        assert_error_shape(r, 400)
    raw = b"not json"
    r = httpx.post(
        f"{shop.base_url}/webhook_callbacks/external_gateways/{shop.ids['gateway']}",
        content=raw,
        headers={SIGNATURE_HEADER: sign(gateway(shop)["shared_secret"], raw)},
    )
    assert_error_shape(r, 400)
    r = httpx.post(f"{shop.base_url}/webhook_callbacks/external_gateways/nope", content=b"{}")
    assert_error_shape(r, 404)
    assert error_of(r)["code"] == "RECORD_NOT_FOUND"


def test_async_capture_completed_by_webhook(shop: Shop) -> None:
    oid, _client = placed(shop)
    assert shop.admin.update("orders", oid, {"_approve": True}).status_code == 200
    shop.behave("capture", mode="async", times=1)
    r = shop.admin.update("orders", oid, {"_capture": True})
    assert r.status_code == 200, r.text
    assert state(shop, oid) == ("approved", "authorized")
    action_id = shop.calls("capture")[-1]["response"]["data"]["action_id"]
    r = _webhook(shop, {"success": True, "data": {"action_id": action_id}})
    assert r.status_code == 200, r.text
    assert state(shop, oid) == ("approved", "paid")
    [auth] = txns(shop, oid, "authorizations")
    assert auth["attributes"]["capture_balance_cents"] == 0
    assert attrs(shop, oid)["fulfillment_status"] in ("in_progress", "not_required")


def test_force_payments_puts_the_paid_source_back_on_the_order(shop: Shop) -> None:
    r = shop.admin.update("external_gateways", shop.ids["gateway"], {"force_payments": True})
    assert r.status_code == 200, r.text
    shop.behave("authorize", mode="async", times=1)
    guest = shop.guest()
    oid = shop.cart(guest, token="tok_first")
    first = shop.order(oid, include="payment_source")["included"][0]["id"]
    assert guest.update("orders", oid, {"_authorize": True}).status_code == 200
    assert state(shop, oid) == ("pending", "unpaid")
    guest.create(
        "external_payments", {"payment_source_token": "tok_other"}, {"order": ("orders", oid)}
    )
    action_id = shop.calls("authorize")[-1]["response"]["data"]["action_id"]
    r = _webhook(shop, {"success": True, "data": {"action_id": action_id}})
    assert r.status_code == 200, r.text
    assert state(shop, oid) == ("pending", "authorized")
    source = shop.order(oid, include="payment_source")["included"][0]
    assert source["id"] == first
