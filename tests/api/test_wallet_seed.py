"""The seed use case, "Reusing the payment source", exactly as written, over real HTTP."""

from __future__ import annotations

from typing import Any

from tests.shop import Shop

SEED_ORDER_RELATIONSHIPS = {
    "market",
    "customer",
    "shipping_address",
    "billing_address",
    "available_payment_methods",
    "available_customer_payment_sources",
    "payment_method",
    "payment_source",
    "line_items",
    "shipments",
}
SEED_ENTRY_ATTRIBUTES = {
    "customer_token",
    "name",
    "payment_source_token",
    "created_at",
    "updated_at",
    "reference",
    "metadata",
}


def save_body(oid: str) -> dict[str, Any]:
    return {
        "data": {
            "type": "orders",
            "id": oid,
            "attributes": {"_save_payment_source_to_customer_wallet": True},
        }
    }


def reuse_body(oid: str, entry_id: str) -> dict[str, Any]:
    return {
        "data": {
            "type": "orders",
            "id": oid,
            "attributes": {"_customer_payment_source_id": entry_id},
        }
    }


def assert_seed_order_shape(doc: dict[str, Any], oid: str, base_url: str) -> None:
    data = doc["data"]
    assert data["id"] == oid
    assert data["type"] == "orders"
    assert data["links"] == {"self": f"{base_url}/api/orders/{oid}"}
    assert data["meta"]["mode"] == "test"
    assert set(data["relationships"]) >= SEED_ORDER_RELATIONSHIPS
    for name, rel in data["relationships"].items():
        assert set(rel["links"]) == {"self", "related"}
        assert rel["links"]["related"] == f"{base_url}/api/orders/{oid}/{name}"


def test_seed_flow_save_after_purchase_then_reuse(shop: Shop) -> None:
    _customer_id, client = shop.customer()
    oid = shop.cart(client)
    placed = shop.place(client, oid)
    assert placed.status_code == 200, placed.text
    assert placed.json()["data"]["attributes"]["status"] == "placed"

    # 1. Save the payment source into the customer wallet.
    r = client.patch(
        f"/api/orders/{oid}", save_body(oid), include="available_customer_payment_sources"
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    assert_seed_order_shape(doc, oid, shop.base_url)
    rel = doc["data"]["relationships"]["available_customer_payment_sources"]
    assert len(rel["data"]) == 1
    entry_ref = rel["data"][0]
    assert entry_ref["type"] == "customer_payment_sources"
    # Only the included relationship carries data, as in the seed response.
    others = {k for k, v in doc["data"]["relationships"].items() if "data" in v}
    assert others == {"available_customer_payment_sources"}
    included = doc["included"]
    assert [(i["type"], i["id"]) for i in included] == [(entry_ref["type"], entry_ref["id"])]
    entry = included[0]
    assert set(entry["attributes"]) >= SEED_ENTRY_ATTRIBUTES
    assert {"customer", "payment_source"} <= set(entry["relationships"])
    assert entry["links"]["self"] == f"{shop.base_url}/api/customer_payment_sources/{entry['id']}"
    assert entry["meta"]["mode"] == "test"
    token_calls = shop.calls("token")
    assert len(token_calls) == 1
    assert token_calls[0]["signature_valid"] is True
    assert token_calls[0]["json"]["data"]["type"] == "external_payments"
    answered = token_calls[0]["response"]["data"]
    assert entry["attributes"]["customer_token"] == answered["customer_token"]
    assert entry["attributes"]["payment_source_token"] == answered["payment_source_token"]
    assert entry["attributes"]["name"] == "External Payment"

    # 2. Reuse it on the customer's next order.
    next_oid = shop.cart(client, pay=False)
    r = client.patch(f"/api/orders/{next_oid}", reuse_body(next_oid, entry["id"]))
    assert r.status_code == 200, r.text
    assert_seed_order_shape(r.json(), next_oid, shop.base_url)
    order = shop.order(next_oid, client, include="payment_source")
    source = order["included"][0]
    assert source["type"] == "external_payments"
    assert source["attributes"]["payment_source_token"] == answered["payment_source_token"]
    wallet = client.get(f"/api/external_payments/{source['id']}", include="wallet").json()
    assert wallet["data"]["relationships"]["wallet"]["data"]["id"] == entry["id"]

    placed = shop.place(client, next_oid)
    assert placed.status_code == 200, placed.text
    attributes = placed.json()["data"]["attributes"]
    assert (attributes["status"], attributes["payment_status"]) == ("placed", "authorized")
    authorize = shop.calls("authorize")[-1]
    assert authorize["json"]["data"]["id"] == source["id"]
    sent_token = authorize["json"]["data"]["attributes"]["payment_source_token"]
    assert sent_token == answered["payment_source_token"]
    assert len(shop.calls("token")) == 1


def test_seed_literal_sequence_on_one_pending_order(shop: Shop) -> None:
    _, client = shop.customer()
    oid = shop.cart(client)
    r = client.patch(
        f"/api/orders/{oid}", save_body(oid), include="available_customer_payment_sources"
    )
    assert r.status_code == 200, r.text
    entry_id = r.json()["data"]["relationships"]["available_customer_payment_sources"]["data"][0][
        "id"
    ]
    original = shop.order(oid, client)["data"]
    r = client.patch(f"/api/orders/{oid}", reuse_body(oid, entry_id))
    assert r.status_code == 200, r.text
    after = shop.order(oid, client, include="payment_source")
    assert after["included"][0]["id"] != original["relationships"]["payment_source"].get(
        "data", {}
    ).get("id", "x")
    placed = shop.place(client, oid)
    assert placed.status_code == 200, placed.text
    assert placed.json()["data"]["attributes"]["payment_status"] == "authorized"
