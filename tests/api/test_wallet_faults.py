"""The token callout going wrong: declines, timeouts, bad answers and an open circuit.

payments-and-wallet §6.3 and §10.1 rows 4–5: a decline answers 422 with the gateway's code
and message; a transport failure answers 422 "customer token request failed" and counts
towards the circuit breaker. Either way nothing is saved and the order is left as it was.
"""

from __future__ import annotations

from typing import Any

from tests.api.wallet_helpers import (
    SAVE,
    assert_error,
    entries_of,
    gateway,
    order_state,
    save,
    saved_entry,
)
from tests.shop import Shop
from tests.support import Client

POINTER = f"/data/attributes/{SAVE}"
FAILED = "customer token request failed"


def _unsaved(shop: Shop, client: Client, customer_id: str, oid: str) -> None:
    """No wallet entry anywhere, and the order's payment source has no wallet."""
    assert entries_of(shop, customer_id) == []
    source = order_state(shop, oid)[0]
    r = client.get(f"/api/external_payments/{source}", include="wallet")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["relationships"]["wallet"]["data"] is None
    assert "included" not in r.json()


def test_declined_token_request(shop: Shop) -> None:
    customer_id, client = shop.customer()
    oid = shop.cart(client)
    assert shop.place(client, oid).status_code == 200
    before = order_state(shop, oid)
    # A transport failure first: the decline, a well-formed answer, resets the count.
    shop.behave("token", mode="http_error", status=500, times=1)
    assert_error(save(client, oid), 422, "VALIDATION_ERROR", POINTER, FAILED, "HTTP_500")
    assert gateway(shop)["circuit_failure_count"] == 1
    shop.behave("token", mode="decline", code="CUSTOMER_BLOCKED", message="Customer is blocked")
    r = save(client, oid)
    err = assert_error(
        r, 422, "VALIDATION_ERROR", POINTER, "Customer is blocked", "CUSTOMER_BLOCKED"
    )
    assert err["detail"] == f"{SAVE} - Customer is blocked"
    assert len(r.json()["errors"]) == 1
    assert gateway(shop)["circuit_failure_count"] == 0
    assert order_state(shop, oid) == before
    _unsaved(shop, client, customer_id, oid)
    calls = shop.calls("token")
    assert len(calls) == 2 and all(c["signature_valid"] for c in calls)
    # Once the gateway approves, the very same request saves the source.
    shop.behave("token", mode="approve")
    entry = saved_entry(save(client, oid))
    assert [e["id"] for e in entries_of(shop, customer_id)] == [entry["id"]]
    assert order_state(shop, oid) == before


TRANSPORT_FAILURES: list[tuple[dict[str, Any], str]] = [
    ({"mode": "timeout", "seconds": 3}, "TIMEOUT"),
    ({"mode": "http_error", "status": 500}, "HTTP_500"),
    ({"mode": "http_error", "status": 503}, "HTTP_503"),
    ({"mode": "http_error", "status": 404}, "HTTP_404"),
    ({"mode": "garbage"}, "INVALID_RESPONSE"),
]


def test_token_request_transport_failures(shop: Shop) -> None:
    customer_id, client = shop.customer()
    oid = shop.cart(client)
    before = order_state(shop, oid)
    for count, (behaviour, error_code) in enumerate(TRANSPORT_FAILURES, start=1):
        shop.behave("token", **behaviour, times=1)
        r = save(client, oid)
        assert_error(r, 422, "VALIDATION_ERROR", POINTER, FAILED, error_code)
        assert len(shop.calls("token")) == count
        state = gateway(shop)
        assert (state["circuit_state"], state["circuit_failure_count"]) == ("closed", count)
        assert order_state(shop, oid) == before
        _unsaved(shop, client, customer_id, oid)
    # The next, well-formed answer saves and resets the count.
    saved_entry(save(client, oid))
    assert gateway(shop)["circuit_failure_count"] == 0
    assert order_state(shop, oid) == before


def test_open_circuit_skips_the_token_request(shop: Shop) -> None:
    customer_id, client = shop.customer()
    oid = shop.cart(client)
    assert shop.place(client, oid).status_code == 200
    before = order_state(shop, oid)
    shop.behave("token", mode="http_error", status=502)
    for count in range(1, 32):
        r = save(client, oid)
        assert_error(r, 422, "VALIDATION_ERROR", POINTER, FAILED, "HTTP_502")
        if count in (1, 30):
            state = gateway(shop)
            assert (state["circuit_state"], state["circuit_failure_count"]) == ("closed", count)
    state = gateway(shop)
    assert (state["circuit_state"], state["circuit_failure_count"]) == ("open", 31)
    calls = len(shop.calls("token"))
    assert calls == 31
    # Open: no HTTP request, the same 422 with the circuit's code, the count stays.
    shop.behave("token", mode="approve")
    r = save(client, oid)
    assert_error(r, 422, "VALIDATION_ERROR", POINTER, FAILED, "CIRCUIT_OPEN")
    assert len(shop.calls("token")) == calls
    assert gateway(shop)["circuit_failure_count"] == 31
    assert order_state(shop, oid) == before
    _unsaved(shop, client, customer_id, oid)
    r = shop.admin.update("external_gateways", shop.ids["gateway"], {"_reset_circuit": True})
    assert r.status_code == 200, r.text
    saved_entry(save(client, oid))
    assert len(shop.calls("token")) == calls + 1
    assert order_state(shop, oid) == before
