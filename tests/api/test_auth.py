"""OAuth2 token endpoint, JWT claims and bearer verification (api-conventions §3, §11).

Acceptance checks 1–5, 7 (tokens) and 19 of api-conventions §14.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.shop import Shop
from tests.support import JSONAPI, Client, Server, decode_jwt, error_of, free_port

ISSUER = "https://auth.kassa.localhost"
INVALID_CLIENT_DETAIL = (
    "Client authentication failed due to unknown client, no client authentication included, "
    "or unsupported authentication method."
)


def oauth(base_url: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        base_url + "/oauth/token", json=body, headers={"Accept": "application/json"}, timeout=30
    )


def guest_body(shop: Shop, scope: str | None = None) -> dict[str, Any]:
    return {
        "grant_type": "client_credentials",
        "client_id": shop.creds["sales_channel_client_id"],
        "scope": scope or f"market:code:{shop.market_code}",
    }


def integration_body(shop: Shop, **extra: Any) -> dict[str, Any]:
    return {
        "grant_type": "client_credentials",
        "client_id": shop.creds["integration_client_id"],
        "client_secret": shop.creds["integration_client_secret"],
        **extra,
    }


def password_body(shop: Shop, email: str, password: str = "secret-pw") -> dict[str, Any]:
    return {
        "grant_type": "password",
        "client_id": shop.creds["sales_channel_client_id"],
        "username": email,
        "password": password,
        "scope": f"market:code:{shop.market_code}",
    }


def new_customer(shop: Shop, password: str = "secret-pw") -> tuple[str, str]:
    email = f"jane-{secrets.token_hex(3)}@example.com"
    customer = shop.admin.create("customers", {"email": email, "password": password})
    return customer["id"], email


def assert_token_error(r: httpx.Response, status: int, code: str, title: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert len(body["errors"]) == 1
    err = body["errors"][0]
    assert (err["code"], err["title"], err["status"]) == (code, title, status)
    assert isinstance(err["detail"], str) and err["detail"]


def assert_invalid_token(r: httpx.Response) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == JSONAPI
    assert error_of(r) == {
        "title": "Invalid token",
        "detail": "The access token you provided is invalid.",
        "code": "INVALID_TOKEN",
        "status": "401",
    }


# --- check 1 and 2: client credentials ---------------------------------------------------


def test_sales_channel_client_credentials(shop: Shop) -> None:
    r = oauth(shop.base_url, guest_body(shop))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "created_at"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 14400
    assert body["scope"] == f"market:code:{shop.market_code}"
    assert isinstance(body["created_at"], int)
    assert abs(body["created_at"] - time.time()) < 60
    claims = decode_jwt(body["access_token"])
    assert claims["application"]["kind"] == "sales_channel"
    assert claims["application"]["public"] is True
    assert "owner" not in claims
    assert claims["market"]["id"] == [shop.ids["market"]]
    assert claims["market"]["stock_location_ids"] == [shop.ids["stock_location"]]
    assert claims["exp"] - claims["iat"] == 14400
    assert claims["iss"] == ISSUER
    assert claims["organization"]["slug"] == shop.creds["organization_slug"]
    assert "client_id" not in claims["application"]


def test_integration_client_credentials(shop: Shop) -> None:
    r = oauth(shop.base_url, integration_body(shop))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["expires_in"] == 7200
    assert body["scope"] == "market:all"
    assert "refresh_token" not in body
    claims = decode_jwt(body["access_token"])
    assert claims["application"]["kind"] == "integration"
    assert claims["application"]["public"] is False
    assert claims["scope"] == "market:all"
    assert "market" not in claims and "owner" not in claims
    assert claims["exp"] - claims["iat"] == 7200


def test_form_encoded_token_request(shop: Shop) -> None:
    r = httpx.post(shop.base_url + "/oauth/token", data=guest_body(shop))
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "bearer"


def test_wrong_secret_unknown_client_and_missing_secret(shop: Shop) -> None:
    expected = {
        "errors": [
            {
                "code": "UNAUTHORIZED",
                "title": "invalid_client",
                "detail": INVALID_CLIENT_DETAIL,
                "status": 401,
            }
        ]
    }
    bodies = [
        integration_body(shop, client_secret="not-the-secret"),
        integration_body(shop, client_secret=None),
        {"grant_type": "client_credentials", "client_id": shop.creds["integration_client_id"]},
        {"grant_type": "client_credentials", "client_id": "no-such-client"},
        {"grant_type": "client_credentials"},
        {"grant_type": "client_credentials", "client_id": 12345},
    ]
    for body in bodies:
        r = oauth(shop.base_url, body)
        assert r.status_code == 401, (body, r.text)
        assert r.json() == expected


def test_grant_errors(shop: Shop) -> None:
    _, email = new_customer(shop)
    r = oauth(shop.base_url, {**guest_body(shop), "grant_type": "magic"})
    assert r.status_code == 400
    assert r.json()["errors"][0]["status"] == 400
    r = oauth(shop.base_url, password_body(shop, email, "wrong-password"))
    assert_token_error(r, 401, "UNAUTHORIZED", "invalid_grant")
    r = oauth(shop.base_url, password_body(shop, "nobody@example.com"))
    assert_token_error(r, 401, "UNAUTHORIZED", "invalid_grant")
    r = oauth(shop.base_url, {**password_body(shop, email), "password": 123})
    assert_token_error(r, 401, "UNAUTHORIZED", "invalid_grant")
    r = oauth(
        shop.base_url,
        {**integration_body(shop), "grant_type": "password", "username": email, "password": "x"},
    )
    assert_token_error(r, 401, "UNAUTHORIZED", "unauthorized_client")
    r = oauth(
        shop.base_url,
        {**guest_body(shop), "grant_type": "refresh_token", "refresh_token": "bogus"},
    )
    assert_token_error(r, 401, "UNAUTHORIZED", "invalid_grant")
    for raw in (b"not json", b"[1, 2]", b'"text"', b"{"):
        r = httpx.post(
            shop.base_url + "/oauth/token",
            content=raw,
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 400, r.text
        assert r.json()["errors"][0]["status"] == 400


# --- check 3 and 4: password grant, refresh, revoke ---------------------------------------


def test_password_grant_claims(shop: Shop) -> None:
    customer_id, email = new_customer(shop)
    r = oauth(shop.base_url, password_body(shop, email.upper()))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["owner_id"] == customer_id
    assert body["owner_type"] == "customer"
    assert isinstance(body["refresh_token"], str) and body["refresh_token"]
    assert body["expires_in"] == 14400
    claims = decode_jwt(body["access_token"])
    assert claims["owner"] == {"id": customer_id, "type": "Customer"}
    assert claims["application"]["kind"] == "sales_channel"
    assert claims["application"]["public"] is True
    assert isinstance(claims["market"]["id"], list)
    assert claims["market"]["id"] == [shop.ids["market"]]
    assert claims["test"] is True
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert claims["scope"] == f"market:code:{shop.market_code}"


def test_refresh_then_revoke(shop: Shop) -> None:
    customer_id, email = new_customer(shop)
    first = oauth(shop.base_url, password_body(shop, email)).json()
    refresh = {
        "grant_type": "refresh_token",
        "client_id": shop.creds["sales_channel_client_id"],
        "refresh_token": first["refresh_token"],
    }
    r = oauth(shop.base_url, refresh)
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert second["scope"] == first["scope"]
    assert (second["owner_id"], second["owner_type"]) == (customer_id, "customer")
    claims = decode_jwt(second["access_token"])
    assert claims["scope"] == decode_jwt(first["access_token"])["scope"]
    assert claims["owner"] == {"id": customer_id, "type": "Customer"}
    assert claims["market"]["id"] == [shop.ids["market"]]
    # The refreshed token keeps the permissions of the original one.
    me = Client(shop.base_url, second["access_token"]).get(f"/api/customers/{customer_id}")
    assert me.status_code == 200, me.text
    # A used refresh token is spent.
    assert_token_error(oauth(shop.base_url, refresh), 401, "UNAUTHORIZED", "invalid_grant")

    r = httpx.post(
        shop.base_url + "/oauth/revoke",
        json={
            "client_id": shop.creds["sales_channel_client_id"],
            "token": second["refresh_token"],
        },
    )
    assert r.status_code == 200, r.text
    assert r.json() == {}
    r = oauth(shop.base_url, {**refresh, "refresh_token": second["refresh_token"]})
    assert_token_error(r, 401, "UNAUTHORIZED", "invalid_grant")


def test_revoke_needs_a_known_client(shop: Shop) -> None:
    r = httpx.post(shop.base_url + "/oauth/revoke", json={"client_id": "nope", "token": "x"})
    assert_token_error(r, 401, "UNAUTHORIZED", "invalid_client")


# --- check 5: scopes -------------------------------------------------------------------------


def test_legacy_and_id_scopes_name_the_same_market(shop: Shop) -> None:
    market_id = shop.ids["market"]
    scopes = [
        f"market:{shop.ids['market_number']}",
        f"market:id:{market_id}",
        f"market:code:{shop.market_code}",
    ]
    for scope in scopes:
        r = oauth(shop.base_url, guest_body(shop, scope))
        assert r.status_code == 200, (scope, r.text)
        assert r.json()["scope"] == scope
        claims = decode_jwt(r.json()["access_token"])
        assert claims["market"]["id"] == [market_id], scope
        assert claims["scope"] == scope
    with_location = f"market:id:{market_id} stock_location:id:{shop.ids['stock_location']}"
    r = oauth(shop.base_url, guest_body(shop, with_location))
    assert r.status_code == 200, r.text


def test_invalid_scopes(shop: Shop) -> None:
    location = shop.ids["stock_location"]
    other = shop.admin.create(
        "stock_locations",
        {"name": "Elsewhere", "code": "elsewhere-" + secrets.token_hex(3)},
        {"address": ("addresses", shop.admin.create("addresses", _address())["id"])},
    )
    second_market = shop.admin.create(
        "markets",
        {"name": "Second", "code": "second-" + secrets.token_hex(3)},
        {
            "merchant": ("merchants", shop.ids["merchant"]),
            "price_list": ("price_lists", shop.ids["price_list"]),
            "inventory_model": ("inventory_models", shop.ids["inventory_model"]),
        },
    )
    bad = [
        f"stock_location:id:{location}",
        f"stock_location:code:wh-{shop.market_code}",
        f"market:code:{shop.market_code} stock_location:id:{other['id']}",
        f"market:code:{shop.market_code} stock_location:id:nope",
        "market:code:no-such-market",
        "market:id:NoSuchMkt",
        "market:999999999",
        "market:banana",
        "shop:all",
        f"market:code:{shop.market_code} market:id:{second_market['id']}",
    ]
    for scope in bad:
        r = oauth(shop.base_url, guest_body(shop, scope))
        assert_token_error(r, 400, "BAD_REQUEST", "invalid_scope")


def _address() -> dict[str, Any]:
    from tests.shop import ADDRESS

    return dict(ADDRESS)


# --- JWT format, JWKS, bearer verification (check 7) ----------------------------------------


def test_jwks_verifies_every_issued_token(shop: Shop) -> None:
    _, email = new_customer(shop)
    customer = oauth(shop.base_url, password_body(shop, email)).json()
    refreshed = oauth(
        shop.base_url,
        {
            "grant_type": "refresh_token",
            "client_id": shop.creds["sales_channel_client_id"],
            "refresh_token": customer["refresh_token"],
        },
    ).json()
    tokens = [
        oauth(shop.base_url, guest_body(shop)).json()["access_token"],
        oauth(shop.base_url, integration_body(shop)).json()["access_token"],
        customer["access_token"],
        refreshed["access_token"],
    ]
    tokens += [oauth(shop.base_url, guest_body(shop)).json()["access_token"] for _ in range(8)]
    r = httpx.get(shop.base_url + "/.well-known/jwks.json")
    assert r.status_code == 200
    keys = r.json()["keys"]
    assert len(keys) >= 1
    by_kid = {k["kid"]: k for k in keys}
    for token in tokens:
        header = jwt.get_unverified_header(token)
        assert header["alg"] == "RS512" and header["typ"] == "JWT"
        jwk = by_kid[header["kid"]]
        assert (jwk["kty"], jwk["alg"]) == ("RSA", "RS512")
        key = jwt.PyJWK(jwk).key
        claims = jwt.decode(token, key, algorithms=["RS512"], issuer=ISSUER)
        assert claims["iss"] == ISSUER
        assert decode_jwt(token) == claims  # plain base64, as the TypeScript SDK decodes it
        assert isinstance(claims["rand"], float)
        assert claims["organization"]["id"] == shop.creds["organization_id"]


def _sign(claims: dict[str, Any], key: Any, kid: str = "x") -> str:
    return jwt.encode(claims, key, algorithm="RS512", headers={"kid": kid})


def test_missing_malformed_and_forged_tokens(shop: Shop) -> None:
    guest = shop.guest()
    assert guest.token is not None
    token = guest.token
    head, payload, signature = token.split(".")
    claims = decode_jwt(token)
    foreign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elevated = {**claims, "application": {**claims["application"], "kind": "integration"}}
    tampered_payload = base64.urlsafe_b64encode(json.dumps(elevated).encode()).rstrip(b"=")
    now = int(time.time())
    forged = [
        None,
        "",
        "garbage",
        "a.b.c",
        f"{head}.{tampered_payload.decode()}.{signature}",
        f"{head}.{payload}.{signature[:-4]}AAAA",
        f"{head}.{payload}.",
        _sign(claims, foreign_key),
        _sign({**claims, "exp": now - 10, "iat": now - 100}, foreign_key),
        jwt.encode(claims, "s" * 64, algorithm="HS512"),
        jwt.encode(claims, None, algorithm="none"),
    ]
    orders = Client(shop.base_url, token).get("/api/orders")
    assert orders.status_code == 401 and error_of(orders)["code"] == "UNAUTHORIZED"
    for bad in forged:
        client = Client(shop.base_url, bad)
        assert_invalid_token(client.get("/api/skus"))
        assert_invalid_token(client.get("/api/orders"))
    for header in (f"Basic {token}", f"Bearer{token}", "Bearer", f"Token {token}"):
        r = httpx.get(shop.base_url + "/api/skus", headers={"Authorization": header})
        assert_invalid_token(r)
    assert guest.get("/api/skus").status_code == 200


# --- a dedicated server: rate limit (check 19) and token expiry (check 7) -------------------


@dataclass
class Limited:
    """A second ``kassa serve`` on the session database, rate limited and with 1 s tokens."""

    server: Server
    token_calls: int = 0

    def token(self, body: dict[str, Any]) -> httpx.Response:
        self.token_calls += 1
        return oauth(self.server.base_url, body)


@pytest.fixture(scope="module")
def limited(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Limited]:
    port = free_port()
    data_dir = tmp_path_factory.mktemp(f"kassa-limited-{server.backend}")
    srv = Server(server.backend, server.database_url, f"http://127.0.0.1:{port}", data_dir)
    srv.env = {
        **server.env,
        "KASSA_DATA_DIR": str(data_dir),
        "KASSA_RATE_LIMIT": "1",
        "KASSA_SALES_CHANNEL_TOKEN_TTL": "1",
        "KASSA_INTEGRATION_TOKEN_TTL": "1",
    }
    srv.start()
    try:
        yield Limited(srv)
    finally:
        srv.stop()


def test_expired_token_is_invalid(limited: Limited, shop: Shop) -> None:
    r = limited.token(guest_body(shop))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["expires_in"] == 1
    token = body["access_token"]
    client = Client(limited.server.base_url, token)
    claims = decode_jwt(token)
    assert claims["exp"] - claims["iat"] == 1
    time.sleep(max(0.0, claims["exp"] + 1.05 - time.time()))
    assert_invalid_token(client.get("/api/skus"))
    assert_invalid_token(Client(shop.base_url, token).get("/api/skus"))


def test_token_rate_limit(limited: Limited, shop: Shop) -> None:
    statuses = []
    for _ in range(40):
        statuses.append(limited.token(guest_body(shop)).status_code)
        if statuses[-1] == 429:
            break
    allowed = 30 - (limited.token_calls - len(statuses))
    assert statuses[:allowed] == [200] * allowed
    assert statuses[allowed:] == [429]
    r = limited.token(integration_body(shop))
    assert r.status_code == 429
    err = r.json()["errors"][0]
    assert (err["code"], err["status"]) == ("TOO_MANY_REQUESTS", 429)
    # The API itself is not limited by the token endpoint's window.
    assert Client(limited.server.base_url, shop.admin.token).get("/api/skus").status_code == 200


def test_api_rate_limit_headers_and_burst(limited: Limited, shop: Shop) -> None:
    assert shop.admin.token is not None
    client = Client(limited.server.base_url, shop.admin.token)
    r = client.get("/api/orders")
    assert r.status_code == 200, r.text
    assert r.headers["X-Ratelimit-Limit"] == "100"
    assert r.headers["X-Ratelimit-Interval"] == "60"
    remaining = int(r.headers["X-Ratelimit-Remaining"])
    assert 0 < remaining < 100
    assert "X-Ratelimit-Reset" not in r.headers
    # Test mode: 25 uncacheable reads per 10 s; the 26th within the burst window gets 429.
    statuses = [client.get("/api/orders").status_code for _ in range(30)]
    first = statuses.index(429)
    assert 0 < first <= 24 and set(statuses[first:]) == {429}
    r = client.get("/api/orders")
    err = error_of(r)
    assert r.headers["content-type"] == JSONAPI
    assert (err["code"], err["status"], err["title"]) == (
        "TOO_MANY_REQUESTS",
        "429",
        "Too many requests",
    )
    assert "source" not in err
    assert int(r.headers["X-Ratelimit-Remaining"]) == remaining - first
    # Cacheable reads and writes have windows of their own.
    assert client.get("/api/skus").headers["X-Ratelimit-Limit"] == "500"
    created = client.post(
        "/api/addresses", {"data": {"type": "addresses", "attributes": _address()}}
    )
    assert created.status_code == 201, created.text
    # The main test server has rate limiting disabled.
    assert "X-Ratelimit-Limit" not in shop.admin.get("/api/orders").headers


def test_payload_stays_plain_base64_for_any_market_code(shop: Shop) -> None:
    code = "eu~?>" + secrets.token_hex(2) + "~~~"
    market = shop.admin.create(
        "markets",
        {"name": "Odd", "code": code},
        {
            "merchant": ("merchants", shop.ids["merchant"]),
            "price_list": ("price_lists", shop.ids["price_list"]),
            "inventory_model": ("inventory_models", shop.ids["inventory_model"]),
        },
    )
    r = oauth(shop.base_url, guest_body(shop, f"market:code:{code}"))
    assert r.status_code == 200, r.text
    claims = decode_jwt(r.json()["access_token"])
    assert claims["scope"] == f"market:code:{code}"
    assert claims["market"]["id"] == [market["id"]]
