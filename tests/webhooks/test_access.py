"""Only the shop's integrations manage webhooks: attackers and bad input."""

from __future__ import annotations

import pytest

from tests.shop import Shop
from tests.support import Client, error_of, token_for
from tests.webhooks.helpers import subscribe
from tests.webhooks.receiver import Receiver

URL = "http://127.0.0.1:9/hook"


def _integration(shop: Shop, creds: dict[str, str]) -> Client:
    token = token_for(
        shop.base_url,
        {
            "grant_type": "client_credentials",
            "client_id": creds["integration_client_id"],
            "client_secret": creds["integration_client_secret"],
        },
    )
    return Client(shop.base_url, token)


def test_storefront_tokens_cannot_touch_webhooks(hshop: Shop) -> None:
    hook = subscribe(hshop.admin, "orders.place", URL)
    _cid, customer = hshop.customer()
    attributes = {"topic": "orders.place", "callback_url": URL}
    body = {"data": {"type": "webhooks", "attributes": attributes}}
    for caller in (hshop.guest(), customer):
        assert caller.get("/api/webhooks").status_code == 401
        assert caller.get(f"/api/webhooks/{hook['id']}").status_code == 401
        assert caller.get("/api/event_callbacks").status_code == 401
        assert caller.post("/api/webhooks", body).status_code == 401
        r = caller.update("webhooks", hook["id"], {"_reset_circuit": True})
        assert r.status_code == 401
        assert caller.delete(f"/api/webhooks/{hook['id']}").status_code == 401
    assert "shared_secret" in hshop.admin.get(f"/api/webhooks/{hook['id']}").text


def test_other_mode_and_other_organization_see_nothing(hshop: Shop) -> None:
    hook = subscribe(hshop.admin, "orders.place", URL)
    live = hshop.server.new_org(mode="live", slug=hshop.creds["organization_slug"])
    other = hshop.server.new_org()
    for admin in (_integration(hshop, live), _integration(hshop, other)):
        assert admin.get("/api/webhooks").json()["data"] == []
        assert admin.get(f"/api/webhooks/{hook['id']}").status_code == 404
        r = admin.update("webhooks", hook["id"], {"_disable": True})
        assert r.status_code == 404
        assert admin.get("/api/event_callbacks").json()["data"] == []


def test_event_callbacks_are_read_only(hshop: Shop) -> None:
    r = hshop.admin.post(
        "/api/event_callbacks", {"data": {"type": "event_callbacks", "attributes": {}}}
    )
    assert r.status_code == 405


@pytest.mark.parametrize(
    ("attributes", "pointer"),
    [
        ({"topic": "orders.explode", "callback_url": URL}, "/data/attributes/topic"),
        ({"topic": "skus.create", "callback_url": URL}, "/data/attributes/topic"),
        (
            {"topic": "orders.place", "callback_url": "ftp://example.com/x"},
            "/data/attributes/callback_url",
        ),
        (
            {"topic": "orders.place", "callback_url": "javascript:alert(1)"},
            "/data/attributes/callback_url",
        ),
        (
            {"topic": "orders.place", "callback_url": "http:///nohost"},
            "/data/attributes/callback_url",
        ),
        (
            {"topic": "orders.place", "callback_url": URL, "include_resources": ["nope"]},
            "/data/attributes/include_resources",
        ),
        ({"callback_url": URL}, "/data/attributes/topic"),
    ],
)
def test_bad_webhooks_are_422(hshop: Shop, attributes: dict[str, object], pointer: str) -> None:
    r = hshop.admin.post("/api/webhooks", {"data": {"type": "webhooks", "attributes": attributes}})
    assert r.status_code == 422, r.text
    assert error_of(r)["source"]["pointer"] == pointer


def test_update_checks_too_and_a_redirect_is_a_failure(hshop: Shop, receiver: Receiver) -> None:
    hook = subscribe(hshop.admin, "customers.create", URL)
    r = hshop.admin.update("webhooks", hook["id"], {"topic": "nope.nope"})
    assert r.status_code == 422 and error_of(r)["source"]["pointer"] == "/data/attributes/topic"
    r = hshop.admin.update("webhooks", hook["id"], {"callback_url": receiver.url})
    assert r.status_code == 200, r.text
    receiver.plan = [302]
    hshop.admin.create("customers", {"email": "redirected@example.com"})
    hits = receiver.wait(1)
    assert [h.status for h in receiver.all_hits()] == [302, 200]
    assert hits[0].doc["data"]["attributes"]["email"] == "redirected@example.com"
