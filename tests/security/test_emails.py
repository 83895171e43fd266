"""E-mail addresses are validated wherever they are written (issue: security, item 10).

``customers.email``, ``orders.customer_email`` (on create and update, by guests and
integrations) and ``customer_password_resets.customer_email`` refuse anything that is not
an address with 422 "is invalid" at the attribute, and store a valid one trimmed and in
lower case; nothing is stored when the address is refused.
"""

from __future__ import annotations

import secrets
from typing import Any

from tests.security.accounts_helpers import document, error_at
from tests.shop import Shop

NOT_EMAILS: list[Any] = [
    "plainaddress",
    "@example.com",
    "jane@",
    "jane@example",
    "jane@@example.com",
    "jane@exa@mple.com",
    "jane doe@example.com",
    "jane@exa mple.com",
    ".jane@example.com",
    "jane.@example.com",
    "ja..ne@example.com",
    "jane@example..com",
    "jane@-example.com",
    "jane@example-.com",
    "jane@exam_ple.com",
    "jane@example.123",
    "<script>@example.com",
    'jane"@example.com',
    "jane@example.com<script>",
    "jane@[127.0.0.1]",
    "jane\u200b@example.com",
    "jäne@example.com",
    "j" * 65 + "@example.com",
    "jane@" + "a" * 64 + ".com",
    "jane@" + ".".join(["a" * 60, "b" * 60, "c" * 60, "d" * 63]) + ".com",  # 255 characters
]


def unique(local: str = "jane") -> str:
    return f"{local}-{secrets.token_hex(4)}@example.com"


def assert_invalid(r: Any, name: str) -> None:
    err = error_at(r, 422, f"/data/attributes/{name}")
    assert err["title"] == "is invalid" and err["detail"] == f"{name} - is invalid", err


def test_every_written_email_must_be_an_address(shop: Shop) -> None:
    guest = shop.guest()
    customer_id, me = shop.customer()
    order = guest.create("orders", {})
    for bad in NOT_EMAILS:
        r = guest.post("/api/customers", document("customers", {"email": bad}))
        assert_invalid(r, "email")
        r = shop.admin.post("/api/customers", document("customers", {"email": bad}))
        assert_invalid(r, "email")
        assert_invalid(me.update("customers", customer_id, {"email": bad}), "email")
        assert_invalid(shop.admin.update("customers", customer_id, {"email": bad}), "email")
        r = guest.post("/api/orders", document("orders", {"customer_email": bad}))
        assert_invalid(r, "customer_email")
        r = guest.update("orders", order["id"], {"customer_email": bad})
        assert_invalid(r, "customer_email")
        r = shop.admin.update("orders", order["id"], {"customer_email": bad})
        assert_invalid(r, "customer_email")
        r = guest.post(
            "/api/customer_password_resets",
            document("customer_password_resets", {"customer_email": bad}),
        )
        assert_invalid(r, "customer_email")
    stored = guest.get(f"/api/orders/{order['id']}").json()["data"]["attributes"]
    assert stored["customer_email"] is None
    assert me.get(f"/api/customers/{customer_id}").json()["data"]["attributes"]["email"]
    found = shop.admin.get("/api/customers", **{"filter[q][email_cont]": "script"})
    assert found.json()["data"] == []


def test_non_strings_and_empty_addresses(shop: Shop) -> None:
    guest = shop.guest()
    for bad in (5, ["a@b.com"], {"a": "b"}, True):
        r = guest.post("/api/customers", document("customers", {"email": bad}))
        assert r.status_code in (400, 422), r.text
        r = guest.post("/api/orders", document("orders", {"customer_email": bad}))
        assert r.status_code in (400, 422), r.text
    order = guest.create("orders", {})
    assert_invalid(guest.update("orders", order["id"], {"customer_email": ""}), "customer_email")
    assert_invalid(guest.update("orders", order["id"], {"customer_email": "  "}), "customer_email")
    r = guest.post("/api/customers", document("customers", {"email": ""}))
    error_at(r, 422, "/data/attributes/email")
    r = guest.post(
        "/api/customer_password_resets",
        document("customer_password_resets", {"customer_email": ""}),
    )
    error_at(r, 422, "/data/attributes/customer_email")


def test_valid_addresses_are_stored_trimmed_and_lower_case(shop: Shop) -> None:
    guest = shop.guest()
    local = f"First.Last+tag-{secrets.token_hex(3)}"
    sent = f"  {local}@Mail.Example.co.uk "
    created = guest.create("customers", {"email": sent})
    assert created["attributes"]["email"] == f"{local.lower()}@mail.example.co.uk"
    for address in (
        unique("o'brien"),
        f"x-{secrets.token_hex(3)}@bücher.de",
        f"{secrets.token_hex(3)}!#$%&*+/=?^_`{{|}}~@example.com",
    ):
        order = guest.create("orders", {"customer_email": address})
        assert order["attributes"]["customer_email"] == address.lower()
    # The same address in another case is the same customer, not a second one.
    again = guest.post("/api/customers", document("customers", {"email": sent.upper()}))
    err = error_at(again, 422, "/data/attributes/email")
    assert err["meta"]["error"] == "taken", err
