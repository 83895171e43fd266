"""Gateway faults leave orders consistent (payments-and-wallet §4.4–§4.6, §10).

Checks 7–11 of payments-and-wallet §13 and orders-and-checkout §16 check 21: declines,
timeouts, HTTP errors, invalid bodies, unreachable gateways and the circuit breaker.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.payflow import (
    approved,
    assert_error_shape,
    attrs,
    captured,
    gateway,
    placed,
    state,
    stock,
    txns,
)
from tests.shop import Shop
from tests.support import error_of, free_port


def _unchanged_after_failed_place(shop: Shop, oid: str, before: int) -> dict[str, Any]:
    """The order is still pending/unpaid and editable, the stock is back, one failed auth."""
    a = attrs(shop, oid)
    assert (a["status"], a["payment_status"], a["editable"]) == ("pending", "unpaid", True)
    assert a["placed_at"] is None
    assert stock(shop) == before
    [auth] = txns(shop, oid)
    assert auth["type"] == "authorizations"
    assert auth["attributes"]["succeeded"] is False
    assert auth["attributes"]["capture_balance_cents"] == 0
    return dict(auth["attributes"])


def test_decline_answers_422_and_keeps_the_failed_authorization(shop: Shop) -> None:
    shop.behave("authorize", mode="decline", code="DO_NOT_HONOR", message="Do not honor", times=1)
    guest = shop.guest()
    oid = shop.cart(guest)
    before = stock(shop)
    r = shop.place(guest, oid)
    [error] = assert_error_shape(r, 422)
    assert error == {
        "title": "Do not honor",
        "detail": "payment_source - Do not honor",
        "code": "VALIDATION_ERROR",
        "source": {"pointer": "/data/relationships/payment_source"},
        "status": "422",
        "meta": {"error": "DO_NOT_HONOR"},
    }
    t = _unchanged_after_failed_place(shop, oid, before)
    assert (t["error_code"], t["message"]) == ("DO_NOT_HONOR", "Do not honor")
    assert t["token"] == shop.calls("authorize")[-1]["response"]["data"]["transaction_token"]
    assert gateway(shop)["circuit_failure_count"] == 0
    # The customer may simply try again.
    again = shop.place(guest, oid)
    assert again.status_code == 200, again.text
    assert state(shop, oid) == ("placed", "authorized")
    assert [x["attributes"]["succeeded"] for x in txns(shop, oid)] == [False, True]
    assert txns(shop, oid)[1]["attributes"]["number"].endswith("/T/002")


@pytest.mark.parametrize(
    ("behaviour", "code", "message"),
    [
        ({"mode": "timeout", "seconds": 2.5}, "TIMEOUT", "timeout"),
        ({"mode": "http_error", "status": 500}, "HTTP_500", "HTTP 500"),
        ({"mode": "garbage"}, "INVALID_RESPONSE", "invalid response"),
    ],
    ids=["timeout", "http-500", "invalid-json"],
)
def test_transport_failure_answers_200_and_counts(
    shop: Shop, behaviour: dict[str, Any], code: str, message: str
) -> None:
    shop.behave("authorize", times=1, **behaviour)
    client = shop.guest()
    oid = shop.cart(client)
    before = stock(shop)
    r = shop.place(client, oid)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["status"] == "pending"
    t = _unchanged_after_failed_place(shop, oid, before)
    assert (t["error_code"], t["message"], t["error_detail"]) == (code, message, message)
    assert t["token"] is None
    assert t["amount_cents"] == 4900
    g = gateway(shop)
    assert (g["circuit_state"], g["circuit_failure_count"]) == ("closed", 1)
    # A well-formed answer resets the count.
    again = shop.place(client, oid)
    assert again.status_code == 200, again.text
    assert state(shop, oid) == ("placed", "authorized")
    assert gateway(shop)["circuit_failure_count"] == 0


def test_unreachable_gateway(shop: Shop) -> None:
    url = f"http://127.0.0.1:{free_port()}/authorize"
    r = shop.admin.update("external_gateways", shop.ids["gateway"], {"authorize_url": url})
    assert r.status_code == 200, r.text
    guest = shop.guest()
    oid = shop.cart(guest)
    before = stock(shop)
    assert shop.place(guest, oid).status_code == 200
    t = _unchanged_after_failed_place(shop, oid, before)
    assert t["error_code"] == "CONNECTION_ERROR"
    assert gateway(shop)["circuit_failure_count"] == 1


def test_blank_authorize_url_is_a_decline(shop: Shop) -> None:
    r = shop.admin.update("external_gateways", shop.ids["gateway"], {"authorize_url": None})
    assert r.status_code == 200, r.text
    guest = shop.guest()
    oid = shop.cart(guest)
    before = stock(shop)
    r = shop.place(guest, oid)
    [error] = assert_error_shape(r, 422)
    assert error["meta"]["error"] == "MISSING_URL"
    assert error["source"]["pointer"] == "/data/relationships/payment_source"
    assert _unchanged_after_failed_place(shop, oid, before)["error_code"] == "MISSING_URL"
    assert shop.calls() == []
    assert gateway(shop)["circuit_failure_count"] == 0


def test_decline_resets_the_failure_count(shop: Shop) -> None:
    shop.behave("authorize", mode="http_error", status=503, times=2)
    guest = shop.guest()
    oid = shop.cart(guest)
    for _ in range(2):
        assert guest.update("orders", oid, {"_authorize": True}).status_code == 200
    assert gateway(shop)["circuit_failure_count"] == 2
    assert [t["attributes"]["error_code"] for t in txns(shop, oid)] == ["HTTP_503", "HTTP_503"]
    shop.behave("authorize", mode="decline", times=1)
    r = guest.update("orders", oid, {"_authorize": True})
    assert error_of(r)["meta"]["error"] == "CARD_DECLINED"
    assert gateway(shop)["circuit_failure_count"] == 0
    assert state(shop, oid) == ("pending", "unpaid")


def test_circuit_opens_after_31_failures_and_reset_closes_it(shop: Shop) -> None:
    shop.behave("authorize", mode="http_error", status=500, times=31)
    guest = shop.guest()
    oid = shop.cart(guest)
    for n in range(1, 32):
        r = guest.update("orders", oid, {"_authorize": True})
        assert r.status_code == 200, r.text
        if n == 30:
            g = gateway(shop)
            assert (g["circuit_state"], g["circuit_failure_count"]) == ("closed", 30)
    g = gateway(shop)
    assert (g["circuit_state"], g["circuit_failure_count"]) == ("open", 31)
    assert len(shop.calls("authorize")) == 31
    before = stock(shop)
    r = shop.place(guest, oid)
    assert r.status_code == 200, r.text
    assert state(shop, oid) == ("pending", "unpaid")
    assert stock(shop) == before
    assert len(shop.calls("authorize")) == 31, "an open circuit sends nothing"
    last = txns(shop, oid)[-1]["attributes"]
    assert (last["succeeded"], last["error_code"]) == (False, "CIRCUIT_OPEN")
    assert last["message"] == "circuit breaker open"
    assert len(txns(shop, oid)) == 32
    assert gateway(shop)["circuit_failure_count"] == 31
    listed = shop.admin.get("/api/external_gateways", **{"filter[q][circuit_state_eq]": "open"})
    assert [g["id"] for g in listed.json()["data"]] == [shop.ids["gateway"]]

    denied = guest.update("external_gateways", shop.ids["gateway"], {"_reset_circuit": True})
    assert_error_shape(denied, 401)
    assert gateway(shop)["circuit_state"] == "open"
    r = shop.admin.update("external_gateways", shop.ids["gateway"], {"_reset_circuit": True})
    assert r.status_code == 200, r.text
    a = r.json()["data"]["attributes"]
    assert (a["circuit_state"], a["circuit_failure_count"]) == ("closed", 0)
    r = shop.place(guest, oid)
    assert r.status_code == 200, r.text
    assert state(shop, oid) == ("placed", "authorized")
    assert len(shop.calls("authorize")) == 32
    g = gateway(shop)
    assert (g["circuit_state"], g["circuit_failure_count"]) == ("closed", 0)


def test_open_circuit_on_capture_and_cancel(shop: Shop) -> None:
    oid = approved(shop)
    other, _ = placed(shop)
    shop.behave("capture", mode="http_error", status=502, times=31)
    for _ in range(31):
        assert shop.admin.update("orders", oid, {"_capture": True}).status_code == 200
    assert gateway(shop)["circuit_state"] == "open"
    assert state(shop, oid) == ("approved", "authorized")
    [auth] = txns(shop, oid, "authorizations")
    assert auth["attributes"]["capture_balance_cents"] == 4900
    before = stock(shop)
    r = shop.admin.update("orders", other, {"_cancel": True})
    assert r.status_code == 200, r.text
    assert state(shop, other) == ("placed", "authorized")
    assert stock(shop) == before
    [void] = txns(shop, other, "voids")
    assert void["attributes"]["error_code"] == "CIRCUIT_OPEN"
    assert shop.calls("void") == []


# --- faults after placement -----------------------------------------------------------------


def test_capture_faults(shop: Shop) -> None:
    oid = approved(shop)
    shop.behave("capture", mode="timeout", seconds=2.5, times=1)
    r = shop.admin.update("orders", oid, {"_capture": True})
    assert r.status_code == 200, r.text
    assert state(shop, oid) == ("approved", "authorized")
    assert attrs(shop, oid)["fulfillment_status"] == "not_required"
    [failed] = txns(shop, oid, "captures")
    assert (failed["attributes"]["succeeded"], failed["attributes"]["error_code"]) == (
        False,
        "TIMEOUT",
    )
    shop.behave("capture", mode="decline", message="Too late", code="EXPIRED", times=1)
    r = shop.admin.update("orders", oid, {"_capture": True})
    [error] = assert_error_shape(r, 422)
    assert (error["title"], error["meta"]["error"]) == ("Too late", "EXPIRED")
    assert error["source"]["pointer"] == "/data/relationships/payment_source"
    [auth] = txns(shop, oid, "authorizations")
    r = shop.admin.update("authorizations", auth["id"], {"_capture": True})
    assert r.status_code == 200, r.text
    assert state(shop, oid) == ("approved", "paid")
    captures = txns(shop, oid, "captures")
    assert [c["attributes"]["succeeded"] for c in captures] == [False, False, True]


def test_approve_and_capture_decline_keeps_the_order_placed(shop: Shop) -> None:
    oid, _ = placed(shop)
    shop.behave("capture", mode="decline", times=1)
    r = shop.admin.update("orders", oid, {"_approve_and_capture": True})
    assert assert_error_shape(r, 422)[0]["meta"]["error"] == "CARD_DECLINED"
    assert state(shop, oid) == ("placed", "authorized")
    assert attrs(shop, oid)["approved_at"] is None
    r = shop.admin.update("orders", oid, {"_approve_and_capture": True})
    assert r.status_code == 200, r.text
    assert state(shop, oid) == ("approved", "paid")


def test_void_faults_keep_the_order_placed(shop: Shop) -> None:
    oid, client = placed(shop, quantity=2, customer=True)
    before = stock(shop)
    shop.behave("void", mode="http_error", status=500, times=1)
    r = client.update("orders", oid, {"_cancel": True})
    assert r.status_code == 200, r.text
    assert state(shop, oid) == ("placed", "authorized")
    assert stock(shop) == before
    shop.behave("void", mode="decline", times=1)
    r = client.update("orders", oid, {"_cancel": True})
    [error] = assert_error_shape(r, 422)
    assert error["source"]["pointer"] == "/data/relationships/payment_source"
    assert state(shop, oid) == ("placed", "authorized")
    assert stock(shop) == before
    voids = txns(shop, oid, "voids")
    assert [v["attributes"]["error_code"] for v in voids] == ["HTTP_500", "CARD_DECLINED"]
    [auth] = txns(shop, oid, "authorizations")
    assert auth["attributes"]["void_balance_cents"] == 9800
    r = client.update("orders", oid, {"_cancel": True})
    assert r.status_code == 200, r.text
    assert state(shop, oid) == ("cancelled", "voided")
    assert stock(shop) == before + 2


def test_refund_decline_on_the_capture(shop: Shop) -> None:
    oid, cap = captured(shop)
    shop.behave("refund", mode="decline", message="No refunds", code="NO", times=1)
    r = shop.admin.update("captures", cap["id"], {"_refund": True})
    [error] = assert_error_shape(r, 422)
    assert (error["title"], error["source"]["pointer"]) == (
        "No refunds",
        "/data/attributes/_refund",
    )
    assert state(shop, oid) == ("approved", "paid")
    shop.behave("refund", mode="garbage", times=1)
    r = shop.admin.update("orders", oid, {"_refund": True})
    assert r.status_code == 200, r.text
    assert state(shop, oid) == ("approved", "paid")
    refunds = txns(shop, oid, "refunds")
    assert [x["attributes"]["error_code"] for x in refunds] == ["NO", "INVALID_RESPONSE"]
    refreshed = shop.admin.get(f"/api/captures/{cap['id']}").json()["data"]["attributes"]
    assert refreshed["refund_balance_cents"] == 4900
