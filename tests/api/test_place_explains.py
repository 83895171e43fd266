"""A ``_place`` whose gateway fails says why, in that response.

The order stays ``pending``/``unpaid`` (200), so without a hint a client cannot tell a
failed gateway from a no-op. The response's order carries the Kassa extension
``meta.kassa_last_payment_error`` (action, code, message, the failed transaction), and
``include=authorizations,payment_source`` in the same PATCH shows the failed authorization
and the source it was tried with. Later reads carry no hint: the transaction is the record.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.payflow import state, txns
from tests.shop import Shop
from tests.support import Client, error_of, free_port

HINT = "kassa_last_payment_error"
INCLUDE = "authorizations,payment_source"


def _place(client: Client, oid: str) -> dict[str, Any]:
    r = client.update("orders", oid, {"_place": True}, include=INCLUDE)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _included(doc: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [x for x in doc.get("included", []) if x["type"] == type_]


@pytest.mark.parametrize(
    ("behaviour", "code", "message"),
    [
        (None, "CONNECTION_ERROR", "connection error"),
        ({"mode": "timeout", "seconds": 2.5}, "TIMEOUT", "timeout"),
        ({"mode": "http_error", "status": 503}, "HTTP_503", "HTTP 503"),
    ],
    ids=["unreachable", "timeout", "http-503"],
)
def test_failed_place_explains_itself(
    shop: Shop, behaviour: dict[str, Any] | None, code: str, message: str
) -> None:
    if behaviour is None:
        url = f"http://127.0.0.1:{free_port()}/authorize"
        r = shop.admin.update("external_gateways", shop.ids["gateway"], {"authorize_url": url})
        assert r.status_code == 200, r.text
    else:
        shop.behave("authorize", times=1, **behaviour)
    guest = shop.guest()
    oid = shop.cart(guest)
    doc = _place(guest, oid)
    order = doc["data"]
    assert (order["attributes"]["status"], order["attributes"]["payment_status"]) == (
        "pending",
        "unpaid",
    )
    [failed] = txns(shop, oid, "authorizations")
    assert order["meta"][HINT] == {
        "action": "authorize",
        "code": code,
        "message": message,
        "transaction": {"type": "authorizations", "id": failed["id"]},
    }
    assert order["meta"]["mode"] == "test"  # the usual members stay
    # The failed authorization and the payment source, in the same response.
    [auth] = _included(doc, "authorizations")
    assert auth["id"] == failed["id"]
    assert (auth["attributes"]["succeeded"], auth["attributes"]["error_code"]) == (False, code)
    assert order["relationships"]["authorizations"]["data"] == [
        {"type": "authorizations", "id": failed["id"]}
    ]
    source = order["relationships"]["payment_source"]["data"]
    assert source is not None and source["type"] == "external_payments"
    assert [x["id"] for x in _included(doc, "external_payments")] == [source["id"]]
    # Only that response: a later read shows the order as it is, without the hint.
    later = guest.get(f"/api/orders/{oid}", include=INCLUDE).json()["data"]
    assert HINT not in later["meta"]
    assert HINT not in shop.admin.get(f"/api/orders/{oid}").json()["data"]["meta"]


def test_successful_place_has_no_hint(shop: Shop) -> None:
    guest = shop.guest()
    oid = shop.cart(guest)
    order = _place(guest, oid)["data"]
    assert order["attributes"]["status"] == "placed"
    assert HINT not in order["meta"]


def test_a_retry_that_succeeds_has_no_hint(shop: Shop) -> None:
    shop.behave("authorize", mode="http_error", status=500, times=1)
    guest = shop.guest()
    oid = shop.cart(guest)
    assert _place(guest, oid)["data"]["meta"][HINT]["code"] == "HTTP_500"
    again = _place(guest, oid)["data"]
    assert again["attributes"]["status"] == "placed"
    assert HINT not in again["meta"]


def test_decline_is_still_a_422_naming_the_reason(shop: Shop) -> None:
    shop.behave("authorize", mode="decline", times=1)
    guest = shop.guest()
    oid = shop.cart(guest)
    r = guest.update("orders", oid, {"_place": True}, include=INCLUDE)
    assert r.status_code == 422, r.text
    assert error_of(r)["meta"]["error"] == "CARD_DECLINED"
    assert state(shop, oid) == ("pending", "unpaid")


def test_failed_automatic_capture_explains_itself(shop: Shop) -> None:
    r = shop.admin.update("payment_methods", shop.ids["payment_method"], {"auto_capture": True})
    assert r.status_code == 200, r.text
    shop.behave("capture", mode="http_error", status=502, times=1)
    _cid, customer = shop.customer()
    oid = shop.cart(customer)
    r = customer.update("orders", oid, {"_place": True})
    assert r.status_code == 200, r.text
    order = r.json()["data"]
    assert (order["attributes"]["status"], order["attributes"]["payment_status"]) == (
        "placed",
        "authorized",
    )
    [capture] = txns(shop, oid, "captures")
    assert order["meta"][HINT] == {
        "action": "capture",
        "code": "HTTP_502",
        "message": "HTTP 502",
        "transaction": {"type": "captures", "id": capture["id"]},
    }


def test_failed_authorize_trigger_explains_itself(shop: Shop) -> None:
    shop.behave("authorize", mode="garbage", times=1)
    guest = shop.guest()
    oid = shop.cart(guest)
    r = guest.update("orders", oid, {"_authorize": True})
    assert r.status_code == 200, r.text
    hint = r.json()["data"]["meta"][HINT]
    assert (hint["action"], hint["code"]) == ("authorize", "INVALID_RESPONSE")
