"""Attacks on ``customer_password_resets`` (issue: security, item 5).

The flow: an integration creates a reset for a customer's e-mail and gets the token once;
the shop delivers it; whoever holds it sends ``_reset_password_token`` + ``customer_password``
with any sales channel token. Nobody without the token sets a password, a token works once,
for a limited time, in its own organization and mode only, and a sales channel learns
nothing about which e-mails have an account.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.security.accounts_helpers import Org, document, error_at, extra_server
from tests.shop import Shop
from tests.support import Client, Server

TTL = 3
RESETS = "/api/customer_password_resets"


@pytest.fixture(scope="module")
def brief(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server process whose reset tokens expire after ``TTL`` seconds."""
    env = {"KASSA_PASSWORD_RESET_TTL": str(TTL)}
    with extra_server(server, tmp_path_factory.mktemp("brief"), env) as srv:
        yield srv


def login(base_url: str, creds: dict[str, Any], email: str, password: str) -> httpx.Response:
    body = {
        "grant_type": "password",
        "client_id": creds["sales_channel_client_id"],
        "username": email,
        "password": password,
    }
    return httpx.post(base_url + "/oauth/token", json=body, timeout=60)


def guest_of(base_url: str, creds: dict[str, Any]) -> Client:
    r = httpx.post(
        base_url + "/oauth/token",
        json={"grant_type": "client_credentials", "client_id": creds["sales_channel_client_id"]},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    return Client(base_url, r.json()["access_token"])


def new_customer(admin: Client, password: str | None = "old-password") -> tuple[str, str]:
    email = f"reset-{secrets.token_hex(4)}@example.com"
    attributes = {"email": email} | ({"password": password} if password else {})
    return admin.create("customers", attributes)["id"], email


def request_reset(admin: Client, email: str) -> tuple[str, str]:
    """An integration creates the reset: (reset id, token)."""
    r = admin.post(RESETS, document("customer_password_resets", {"customer_email": email}))
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    token = data["attributes"]["reset_password_token"]
    assert isinstance(token, str) and len(token) >= 32, data
    assert data["attributes"]["reset_password_at"] is None
    return data["id"], token


def reset(client: Client, reset_id: str, token: Any, password: Any) -> httpx.Response:
    attributes: dict[str, Any] = {}
    if token is not None:
        attributes["_reset_password_token"] = token
    if password is not None:
        attributes["customer_password"] = password
    return client.patch(
        f"{RESETS}/{reset_id}", document("customer_password_resets", attributes, reset_id)
    )


def assert_bad_token(r: httpx.Response) -> None:
    err = error_at(r, 422, "/data/attributes/_reset_password_token")
    assert err["title"] == "is invalid", err


# --- the flow -------------------------------------------------------------------------------


def test_reset_sets_the_password_once(shop: Shop) -> None:
    _, email = new_customer(shop.admin)
    reset_id, token = request_reset(shop.admin, email)
    # The token is shown once: reading the reset again never shows it (it is stored hashed).
    again = shop.admin.get(f"{RESETS}/{reset_id}").json()["data"]["attributes"]
    assert again["reset_password_token"] is None and again["customer_email"] == email
    guest = shop.guest()
    r = reset(guest, reset_id, token, "brand-new-password")
    assert r.status_code == 200, r.text
    attributes = r.json()["data"]["attributes"]
    assert attributes["reset_password_at"] and attributes["reset_password_token"] is None
    assert login(shop.base_url, shop.creds, email, "brand-new-password").status_code == 200
    assert login(shop.base_url, shop.creds, email, "old-password").status_code == 401
    # Single use: the same token again, even with another password, is refused.
    assert_bad_token(reset(guest, reset_id, token, "another-password"))
    assert login(shop.base_url, shop.creds, email, "another-password").status_code == 401


def test_wrong_tokens_and_missing_arguments_change_nothing(shop: Shop) -> None:
    _, email = new_customer(shop.admin)
    reset_id, token = request_reset(shop.admin, email)
    _, other_email = new_customer(shop.admin)
    other_id, other_token = request_reset(shop.admin, other_email)
    guest = shop.guest()
    for wrong in ("", "x", token[:-1], token + "x", token.upper(), other_token):
        assert_bad_token(reset(guest, reset_id, wrong, "attacker-password"))
    error_at(
        reset(guest, reset_id, None, "attacker-password"),
        422,
        "/data/attributes/_reset_password_token",
    )
    error_at(reset(guest, reset_id, token, None), 422, "/data/attributes/customer_password")
    r = guest.patch(
        f"{RESETS}/{reset_id}",
        document("customer_password_resets", {"metadata": {"owned": True}}, reset_id),
    )
    error_at(r, 422, "/data/attributes/_reset_password_token")
    err = error_at(
        reset(guest, reset_id, token, "short"), 422, "/data/attributes/customer_password"
    )
    assert err["title"] == "is too short (minimum is 8 characters)", err
    r = guest.patch(
        f"{RESETS}/{reset_id}",
        document("customer_password_resets", {"_reset_password_token": 5}, reset_id),
    )
    assert r.status_code == 400, r.text
    assert login(shop.base_url, shop.creds, email, "attacker-password").status_code == 401
    assert login(shop.base_url, shop.creds, email, "old-password").status_code == 200
    # The token still works after all that, and only for its own reset.
    assert_bad_token(reset(guest, other_id, token, "attacker-password"))
    assert reset(guest, reset_id, token, "brand-new-password").status_code == 200
    assert reset(guest, other_id, other_token, "other-new-password").status_code == 200


def test_a_newer_reset_voids_the_older_token(shop: Shop) -> None:
    _, email = new_customer(shop.admin)
    first_id, first = request_reset(shop.admin, email)
    second_id, second = request_reset(shop.admin, email)
    guest = shop.guest()
    assert_bad_token(reset(guest, first_id, first, "brand-new-password"))
    assert reset(guest, second_id, second, "brand-new-password").status_code == 200


def test_a_token_is_used_once_even_concurrently(shop: Shop) -> None:
    _, email = new_customer(shop.admin)
    reset_id, token = request_reset(shop.admin, email)
    guests = [shop.guest() for _ in range(6)]
    with ThreadPoolExecutor(6) as pool:
        answers = list(
            pool.map(lambda i: reset(guests[i], reset_id, token, f"password-{i}-x"), range(6))
        )
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] + [422] * 5, [r.text for r in answers]
    winner = next(i for i, r in enumerate(answers) if r.status_code == 200)
    assert login(shop.base_url, shop.creds, email, f"password-{winner}-x").status_code == 200


def test_tokens_expire(brief: Server) -> None:
    org = Org.new(brief)
    _, email = new_customer(org.admin)
    reset_id, token = request_reset(org.admin, email)
    time.sleep(TTL + 0.5)
    assert_bad_token(reset(org.guest(), reset_id, token, "brand-new-password"))
    assert login(org.base_url, org.creds, email, "old-password").status_code == 200
    # A fresh reset works at once.
    reset_id, token = request_reset(org.admin, email)
    assert reset(org.guest(), reset_id, token, "brand-new-password").status_code == 200


def test_a_token_works_only_in_its_organization_and_mode(server: Server, shop: Shop) -> None:
    _, email = new_customer(shop.admin)
    reset_id, token = request_reset(shop.admin, email)
    live = server.new_org("live", shop.creds["organization_slug"])
    elsewhere = server.new_org()
    for creds in (live, elsewhere):
        r = reset(guest_of(shop.base_url, creds), reset_id, token, "attacker-password")
        error_at(r, 404)
    assert login(shop.base_url, shop.creds, email, "old-password").status_code == 200
    assert reset(shop.guest(), reset_id, token, "brand-new-password").status_code == 200


# --- what a sales channel learns ------------------------------------------------------------


def test_sales_channels_never_see_a_token_nor_whether_the_email_exists(shop: Shop) -> None:
    """A sales channel may ask for a reset (the shop's backend acts on the request); the
    answer is the same for a customer's e-mail and an unknown one, and never has a token."""
    customer_id, email = new_customer(shop.admin)
    unknown = f"nobody-{secrets.token_hex(4)}@example.com"
    guest = shop.guest()
    shapes = []
    for address in (email, unknown, email.upper()):
        r = guest.post(RESETS, document("customer_password_resets", {"customer_email": address}))
        assert r.status_code == 201, r.text
        data = r.json()["data"]
        assert data["attributes"]["reset_password_token"] is None, data
        assert data["attributes"]["customer_email"] == address.lower()
        assert all("data" not in rel for rel in data["relationships"].values()), data
        shapes.append((sorted(data["attributes"]), sorted(data["relationships"])))
        # Nor can it read the reset back, list resets, or take the request over.
        assert guest.get(f"{RESETS}/{data['id']}").status_code == 401
        assert_bad_token(reset(guest, data["id"], "guess", "attacker-password"))
    assert shapes[0] == shapes[1] == shapes[2]
    assert guest.get(RESETS).status_code == 401
    included = [
        guest.post(
            RESETS + "?include=customer",
            document("customer_password_resets", {"customer_email": address}),
        )
        for address in (email, unknown)
    ]
    assert included[0].status_code == included[1].status_code
    assert "included" not in included[0].text and customer_id not in included[0].text
    # The shop's backend sees the requests, with the customer they concern.
    requests = shop.admin.get(RESETS, **{"filter[q][customer_email_eq]": email}).json()["data"]
    assert len(requests) >= 2
    # An integration is told when no customer has the e-mail.
    r = shop.admin.post(RESETS, document("customer_password_resets", {"customer_email": unknown}))
    error_at(r, 422, "/data/attributes/customer_email")
    assert login(shop.base_url, shop.creds, email, "old-password").status_code == 200


def test_a_customer_token_cannot_reset_another_customer(shop: Shop) -> None:
    _, victim = new_customer(shop.admin)
    _, me = shop.customer()
    reset_id, _token = request_reset(shop.admin, victim)
    assert_bad_token(reset(me, reset_id, "guess-token", "attacker-password"))
    assert me.get(f"{RESETS}/{reset_id}").status_code == 401
    assert login(shop.base_url, shop.creds, victim, "old-password").status_code == 200


# --- guest checkouts and sessions -----------------------------------------------------------


def test_a_guest_checkout_email_is_claimed_through_a_reset(shop: Shop) -> None:
    email = f"guest-{secrets.token_hex(4)}@example.com"
    guest = shop.guest()
    r = guest.post("/api/orders", document("orders", {"customer_email": email}))
    assert r.status_code == 201, r.text
    order_id = r.json()["data"]["id"]
    # The e-mail now has a customer record without a password: nobody can log in as it,
    # and signing up again with it does not set one either.
    for password in ("", "any-password", "x" * 12):
        assert login(shop.base_url, shop.creds, email, password).status_code == 401
    r = guest.post(
        "/api/orders",
        document("orders", {"customer_email": email, "customer_password": "attacker-pw"}),
    )
    assert r.status_code == 201, r.text
    assert login(shop.base_url, shop.creds, email, "attacker-pw").status_code == 401
    reset_id, token = request_reset(shop.admin, email)
    assert reset(guest, reset_id, token, "claimed-password").status_code == 200
    r = login(shop.base_url, shop.creds, email, "claimed-password")
    assert r.status_code == 200, r.text
    me = Client(shop.base_url, r.json()["access_token"])
    ids = [o["id"] for o in me.get("/api/orders").json()["data"]]
    assert order_id in ids
    customer = me.get(f"/api/customers/{r.json()['owner_id']}").json()["data"]
    assert customer["attributes"]["has_password"] is True


def refresh(shop: Shop, token: str) -> httpx.Response:
    body = {
        "grant_type": "refresh_token",
        "client_id": shop.creds["sales_channel_client_id"],
        "refresh_token": token,
    }
    return httpx.post(shop.base_url + "/oauth/token", json=body, timeout=60)


def test_a_reset_revokes_the_customers_refresh_tokens(shop: Shop) -> None:
    _, email = new_customer(shop.admin)
    stolen = login(shop.base_url, shop.creds, email, "old-password").json()["refresh_token"]
    _, bystander = new_customer(shop.admin)
    kept = login(shop.base_url, shop.creds, bystander, "old-password").json()["refresh_token"]
    reset_id, token = request_reset(shop.admin, email)
    assert reset(shop.guest(), reset_id, token, "brand-new-password").status_code == 200
    assert refresh(shop, stolen).status_code == 401
    assert refresh(shop, kept).status_code == 200


def test_a_password_change_revokes_the_customers_refresh_tokens(shop: Shop) -> None:
    customer_id, email = new_customer(shop.admin)
    first = login(shop.base_url, shop.creds, email, "old-password").json()
    other_login = login(shop.base_url, shop.creds, email, "old-password").json()
    stolen = other_login["refresh_token"]
    thief = Client(shop.base_url, other_login["access_token"])
    assert thief.get(f"/api/customers/{customer_id}").status_code == 200
    me = Client(shop.base_url, first["access_token"])
    assert me.update("customers", customer_id, {"password": "changed-password"}).status_code == 200
    assert refresh(shop, stolen).status_code == 401
    assert refresh(shop, first["refresh_token"]).status_code == 401
    # Every login ends at once, its access tokens too, not when they expire.
    assert thief.get(f"/api/customers/{customer_id}").status_code == 401
    # An integration's change revokes too.
    fresh = login(shop.base_url, shop.creds, email, "changed-password").json()["refresh_token"]
    r = shop.admin.update("customers", customer_id, {"password": "changed-again-pw"})
    assert r.status_code == 200, r.text
    assert refresh(shop, fresh).status_code == 401
    # Changing something else does not.
    fresh = login(shop.base_url, shop.creds, email, "changed-again-pw").json()["refresh_token"]
    assert shop.admin.update("customers", customer_id, {"reference": "x"}).status_code == 200
    assert refresh(shop, fresh).status_code == 200
