"""Attacks on tokens: revoked, replayed and orphaned tokens, cached and malformed grants.

Every revocation is checked on a second ``kassa serve`` process sharing the database, so a
token refused by one worker is refused by all of them at once (issue: security, item 3).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.shop import Shop
from tests.support import JSONAPI, Client, Server, decode_jwt, free_port

INVALID_TOKEN = {
    "title": "Invalid token",
    "detail": "The access token you provided is invalid.",
    "code": "INVALID_TOKEN",
    "status": "401",
}
NOT_CACHED = {"cache-control": "no-store", "pragma": "no-cache"}


@pytest.fixture(scope="module")
def other(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A second server process on the same database: another worker as far as tokens go."""
    port = free_port()
    data_dir = tmp_path_factory.mktemp(f"kassa-second-{server.backend}")
    srv = Server(server.backend, server.database_url, f"http://127.0.0.1:{port}", data_dir)
    srv.env = {**server.env, "KASSA_DATA_DIR": str(data_dir)}
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def oauth(base_url: str, path: str, body: Any) -> httpx.Response:
    return httpx.post(
        base_url + path,
        content=json.dumps(body),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        timeout=30,
    )


def login(shop: Shop, email: str, password: str = "secret-pw") -> dict[str, Any]:
    r = oauth(
        shop.base_url,
        "/oauth/token",
        {
            "grant_type": "password",
            "client_id": shop.creds["sales_channel_client_id"],
            "username": email,
            "password": password,
            "scope": f"market:code:{shop.market_code}",
        },
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def refresh(base_url: str, shop: Shop, token: str) -> httpx.Response:
    return oauth(
        base_url,
        "/oauth/token",
        {
            "grant_type": "refresh_token",
            "client_id": shop.creds["sales_channel_client_id"],
            "refresh_token": token,
        },
    )


def revoke(base_url: str, body: dict[str, Any]) -> httpx.Response:
    r = oauth(base_url, "/oauth/revoke", body)
    assert r.status_code == 200, r.text
    assert r.json() == {}
    return r


def customer(shop: Shop) -> tuple[str, str]:
    email = f"victim-{secrets.token_hex(4)}@example.com"
    row = shop.admin.create("customers", {"email": email, "password": "secret-pw"})
    return row["id"], email


def assert_invalid_token(r: httpx.Response) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == JSONAPI
    assert r.json()["errors"] == [INVALID_TOKEN]


def assert_oauth_error(r: httpx.Response, status: int, title: str) -> dict[str, Any]:
    """The token endpoint's error document (api-conventions §3.3): integer ``status``."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"errors"} and len(body["errors"]) == 1, body
    err = body["errors"][0]
    assert set(err) == {"code", "title", "detail", "status"}, err
    assert err["status"] == status and err["title"] == title, err
    assert err["code"] == ("BAD_REQUEST" if status == 400 else "UNAUTHORIZED"), err
    assert isinstance(err["detail"], str) and err["detail"], err
    for leak in ("None", "True", "False", "'", "Traceback", "<class"):
        assert leak not in err["detail"], err
    return dict(err)


# --- revoking access tokens -----------------------------------------------------------------


def test_revoked_access_tokens_are_refused_by_every_process(shop: Shop, other: Server) -> None:
    _, email = customer(shop)
    guest = shop.guest()
    logged = login(shop, email)
    integration = oauth(
        shop.base_url,
        "/oauth/token",
        {
            "grant_type": "client_credentials",
            "client_id": shop.creds["integration_client_id"],
            "client_secret": shop.creds["integration_client_secret"],
        },
    ).json()["access_token"]
    tokens = {"guest": guest.token, "customer": logged["access_token"], "admin": integration}
    paths = {"guest": "/api/skus", "customer": "/api/orders", "admin": "/api/orders"}
    # Both processes accept (and so have verified and cached) every token first.
    for kind, token in tokens.items():
        for base in (shop.base_url, other.base_url):
            r = Client(base, token).get(paths[kind])
            assert r.status_code == 200, (kind, base, r.text)
    # Another application cannot revoke a token that is not its own.
    revoke(
        shop.base_url,
        {"client_id": shop.creds["sales_channel_client_id"], "token": integration},
    )
    assert Client(other.base_url, integration).get("/api/orders").status_code == 200

    sales_channel = shop.creds["sales_channel_client_id"]
    revoke(shop.base_url, {"client_id": sales_channel, "token": tokens["guest"]})
    revoke(shop.base_url, {"client_id": sales_channel, "token": tokens["customer"]})
    revoke(
        other.base_url,
        {
            "client_id": shop.creds["integration_client_id"],
            "client_secret": shop.creds["integration_client_secret"],
            "token": integration,
        },
    )
    for kind, token in tokens.items():
        for base in (shop.base_url, other.base_url):
            client = Client(base, token)
            assert_invalid_token(client.get(paths[kind]))
            assert_invalid_token(client.post("/api/addresses", {"data": {"type": "addresses"}}))
    # Revoking one token leaves the caller's other tokens alone.
    assert shop.admin.get("/api/orders").status_code == 200
    assert shop.guest().get("/api/skus").status_code == 200


def test_revoke_needs_the_integration_secret(shop: Shop, other: Server) -> None:
    token = shop.admin.token
    assert token is not None
    r = oauth(
        shop.base_url,
        "/oauth/revoke",
        {"client_id": shop.creds["integration_client_id"], "token": token},
    )
    assert_oauth_error(r, 401, "invalid_client")
    assert Client(other.base_url, token).get("/api/orders").status_code == 200


def test_revoking_a_refresh_token_logs_the_session_out(shop: Shop, other: Server) -> None:
    _, email = customer(shop)
    first = login(shop, email)
    second = refresh(shop.base_url, shop, first["refresh_token"]).json()
    revoke(
        shop.base_url,
        {"client_id": shop.creds["sales_channel_client_id"], "token": second["refresh_token"]},
    )
    assert_oauth_error(refresh(other.base_url, shop, second["refresh_token"]), 401, "invalid_grant")
    for token in (first["access_token"], second["access_token"]):
        assert_invalid_token(Client(other.base_url, token).get("/api/orders"))


# --- replaying a rotated refresh token ------------------------------------------------------


def test_replayed_refresh_token_revokes_its_family(shop: Shop, other: Server) -> None:
    customer_id, email = customer(shop)
    stolen = login(shop, email)
    bystander = login(shop, email)  # the same customer on another device: another family
    # The legitimate client rotates twice, on two different processes.
    r1 = refresh(shop.base_url, shop, stolen["refresh_token"])
    assert r1.status_code == 200, r1.text
    r2 = refresh(other.base_url, shop, r1.json()["refresh_token"])
    assert r2.status_code == 200, r2.text
    latest = r2.json()
    assert Client(other.base_url, latest["access_token"]).get("/api/orders").status_code == 200
    # The thief replays the stolen, already rotated refresh token.
    assert_oauth_error(refresh(other.base_url, shop, stolen["refresh_token"]), 401, "invalid_grant")
    # The whole family is gone: the newest refresh token and every access token minted from it.
    assert_oauth_error(refresh(shop.base_url, shop, latest["refresh_token"]), 401, "invalid_grant")
    for token in (stolen["access_token"], r1.json()["access_token"], latest["access_token"]):
        for base in (shop.base_url, other.base_url):
            assert_invalid_token(Client(base, token).get(f"/api/customers/{customer_id}"))
    # The customer's other session is untouched.
    assert Client(other.base_url, bystander["access_token"]).get("/api/orders").status_code == 200
    again = refresh(other.base_url, shop, bystander["refresh_token"])
    assert again.status_code == 200, again.text


# --- a deleted customer ---------------------------------------------------------------------


def test_deleted_customers_tokens_are_invalid(shop: Shop, other: Server) -> None:
    customer_id, email = customer(shop)
    session = login(shop, email)
    token = session["access_token"]
    assert Client(other.base_url, token).get(f"/api/customers/{customer_id}").status_code == 200
    assert shop.admin.delete(f"/api/customers/{customer_id}").status_code == 204
    order = {"data": {"type": "orders", "attributes": {}}}
    address = {"data": {"type": "addresses", "attributes": {"first_name": "X"}}}
    for base in (shop.base_url, other.base_url):
        client = Client(base, token)
        assert_invalid_token(client.get(f"/api/customers/{customer_id}"))
        assert_invalid_token(client.get("/api/skus"))
        assert_invalid_token(client.post("/api/orders", order))
        assert_invalid_token(client.post("/api/addresses", address))
        assert_invalid_token(client.patch(f"/api/customers/{customer_id}", {"data": {}}))
    assert_oauth_error(refresh(shop.base_url, shop, session["refresh_token"]), 401, "invalid_grant")


# --- token responses are never cached -------------------------------------------------------


def test_token_responses_are_not_cacheable(shop: Shop) -> None:
    _, email = customer(shop)
    sales_channel = shop.creds["sales_channel_client_id"]
    responses = [
        oauth(
            shop.base_url,
            "/oauth/token",
            {"grant_type": "client_credentials", "client_id": sales_channel},
        ),
        oauth(
            shop.base_url,
            "/oauth/token",
            {
                "grant_type": "password",
                "client_id": sales_channel,
                "username": email,
                "password": "secret-pw",
            },
        ),
        oauth(
            shop.base_url, "/oauth/token", {"grant_type": "client_credentials", "client_id": "nope"}
        ),
        oauth(shop.base_url, "/oauth/token", {}),
        httpx.post(
            shop.base_url + "/oauth/token",
            content=b"{",
            headers={"Content-Type": "application/json"},
        ),
        oauth(shop.base_url, "/oauth/revoke", {"client_id": sales_channel, "token": "x"}),
        oauth(shop.base_url, "/oauth/revoke", {"client_id": "nope", "token": "x"}),
    ]
    assert [r.status_code for r in responses] == [200, 200, 401, 400, 400, 200, 401]
    for r in responses:
        assert {k: r.headers.get(k) for k in NOT_CACHED} == NOT_CACHED, (r.status_code, r.text)


# --- malformed grants: clean 400/401, never a 500 or a Python value -------------------------


def test_non_string_parameters_are_rejected_cleanly(shop: Shop) -> None:
    customer_id, email = customer(shop)
    session = login(shop, email)
    sales_channel = shop.creds["sales_channel_client_id"]
    integration = {
        "grant_type": "client_credentials",
        "client_id": shop.creds["integration_client_id"],
        "client_secret": shop.creds["integration_client_secret"],
    }
    password = {
        "grant_type": "password",
        "client_id": sales_channel,
        "username": email,
        "password": "secret-pw",
    }
    refreshing = {
        "grant_type": "refresh_token",
        "client_id": sales_channel,
        "refresh_token": session["refresh_token"],
    }
    # (valid body, field, expected status, expected title)
    cases = [
        (integration, "client_secret", 401, "invalid_client"),
        (integration, "client_id", 401, "invalid_client"),
        (integration, "grant_type", 400, "invalid_request"),
        (integration, "scope", 400, "invalid_scope"),
        (password, "username", 401, "invalid_grant"),
        (password, "password", 401, "invalid_grant"),
        (password, "scope", 400, "invalid_scope"),
        (refreshing, "refresh_token", 401, "invalid_grant"),
    ]
    for body, field, status, title in cases:
        for value in (12345, 1.5, True, False, None, [], ["x"], {"a": 1}, -1):
            if value is None and field in ("scope",):
                continue  # an absent scope is valid
            r = oauth(shop.base_url, "/oauth/token", {**body, field: value})
            assert_oauth_error(r, status, title)
    # Nothing above spent the refresh token or locked the account.
    assert refresh(shop.base_url, shop, session["refresh_token"]).status_code == 200
    assert login(shop, email)["owner_id"] == customer_id


def test_empty_and_odd_bodies_never_show_python_values(shop: Shop) -> None:
    url = shop.base_url + "/oauth/token"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    responses = [
        httpx.post(url),
        httpx.post(url, content=b"", headers={"Content-Type": "application/json"}),
        httpx.post(url, content=b"", headers=form),
        httpx.post(url, content=b"{}", headers={"Content-Type": "application/json"}),
        httpx.post(url, content=b"null", headers={"Content-Type": "application/json"}),
        httpx.post(url, content=b"grant_type=", headers=form),
        httpx.post(url, content=b"\xff\xfe", headers=form),
        httpx.post(url, content=b"\xff\xfe", headers={"Content-Type": "application/json"}),
    ]
    for r in responses:
        assert r.status_code == 400, r.text
        err = assert_oauth_error(r, 400, r.json()["errors"][0]["title"])
        assert err["title"] in ("invalid_request", "unsupported_grant_type"), err
    none = assert_oauth_error(responses[0], 400, "invalid_request")
    assert "grant_type" in none["detail"]
    odd = oauth(shop.base_url, "/oauth/token", {"grant_type": "magic'None", "client_id": "x"})
    assert odd.status_code == 400, odd.text
    assert odd.json()["errors"][0]["title"] == "unsupported_grant_type"
    # The revoke endpoint answers the same shapes.
    for body in (b"", b"{}", b"[]", b'{"client_id": 5, "token": 5}'):
        r = httpx.post(
            shop.base_url + "/oauth/revoke",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code in (400, 401), r.text
        assert_oauth_error(r, r.status_code, r.json()["errors"][0]["title"])


def test_issued_tokens_carry_a_unique_id(shop: Shop) -> None:
    tokens = [shop.guest().token for _ in range(3)]
    ids = {decode_jwt(t or "")["jti"] for t in tokens}
    assert len(ids) == 3 and all(isinstance(i, str) and len(i) >= 16 for i in ids)


def test_racing_a_refresh_token_leaves_no_session(shop: Shop, other: Server) -> None:
    """The thief and the owner refresh at the same moment, on two processes: one of them
    wins the rotation, and the replay ends the login for both."""
    _, email = customer(shop)
    session = login(shop, email)
    bases = [shop.base_url, other.base_url] * 4
    with ThreadPoolExecutor(len(bases)) as pool:
        answers = list(pool.map(lambda b: refresh(b, shop, session["refresh_token"]), bases))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] + [401] * (len(bases) - 1), [r.text for r in answers]
    [won] = [r.json() for r in answers if r.status_code == 200]
    assert_oauth_error(refresh(other.base_url, shop, won["refresh_token"]), 401, "invalid_grant")
    for token in (session["access_token"], won["access_token"]):
        assert_invalid_token(Client(shop.base_url, token).get("/api/orders"))


def test_a_refresh_storm_does_not_drain_the_connection_pool(shop: Shop) -> None:
    """Each refresh waits for the write lock without holding a pooled connection, so more
    concurrent refreshes than the pool has connections all go through, and promptly."""
    _, email = customer(shop)
    sessions = [login(shop, email) for _ in range(24)]
    with ThreadPoolExecutor(len(sessions)) as pool:
        answers = list(
            pool.map(lambda s: refresh(shop.base_url, shop, s["refresh_token"]), sessions)
        )
    assert [r.status_code for r in answers] == [200] * len(sessions), [
        r.text for r in answers if r.status_code != 200
    ]
    assert max(r.elapsed.total_seconds() for r in answers) < 15
