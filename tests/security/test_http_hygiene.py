"""HTTP hygiene: nosniff everywhere, links never built from a forged Host, one error shape.

Attacks: a request with ``Host: evil.test`` hoping the API writes that name into the
``links`` it returns (cache poisoning, phishing links); probing unknown routes and methods
for a non-JSON:API error page; sending ``null``/``true`` values hoping an error message
echoes them in Python's spelling (``None``, ``True``), which tells what runs behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.shop import ADDRESS, Shop
from tests.support import JSONAPI, Server, free_port

PYTHON_SPELLINGS = ("None", "True", "False")


def links_of(value: Any) -> list[str]:
    """Every string under a ``links`` member anywhere in a document."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "links" and isinstance(item, dict):
                found += [v for v in item.values() if isinstance(v, str)]
                found += [v["href"] for v in item.values() if isinstance(v, dict) and "href" in v]
            else:
                found += links_of(item)
    elif isinstance(value, list):
        for item in value:
            found += links_of(item)
    return found


def assert_error_doc(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == JSONAPI, r.text
    assert r.headers["x-content-type-options"] == "nosniff"
    [err] = r.json()["errors"]
    assert err["status"] == str(status)
    for key in ("title", "detail", "code"):
        assert isinstance(err[key], str) and err[key]
    if code is not None:
        assert err["code"] == code, r.text
    return dict(err)


def start(server: Server, tmp: pytest.TempPathFactory, name: str, port: int, **env: str) -> Server:
    data_dir = tmp.mktemp(f"kassa-{name}-{server.backend}")
    srv = Server(server.backend, server.database_url, f"http://127.0.0.1:{port}", data_dir)
    srv.env = {**server.env, "KASSA_DATA_DIR": str(data_dir), **env}
    srv.start()
    return srv


@pytest.fixture(scope="module")
def listed(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A process answering the names on its list (and its own address), nothing else."""
    port = free_port()
    hosts = f"Shop.Test, 127.0.0.1:{port},[::1]:{port}"
    srv = start(server, tmp_path_factory, "listed", port, KASSA_ALLOWED_HOSTS=hosts)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def public(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A process behind a proxy: links always use the public base URL."""
    base = "https://api.shop.test/"
    srv = start(server, tmp_path_factory, "public", free_port(), KASSA_PUBLIC_BASE_URL=base)
    try:
        yield srv
    finally:
        srv.stop()


def get(base_url: str, path: str, token: str | None, host: str | None = None) -> httpx.Response:
    headers = {"Accept": JSONAPI}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if host is not None:
        headers["Host"] = host
    return httpx.get(base_url + path, headers=headers, timeout=30)


# --- Host and links -----------------------------------------------------------------------


def test_default_server_refuses_unknown_hosts(shop: Shop) -> None:
    token = shop.admin.token
    own = urlsplit(shop.base_url).netloc
    port = urlsplit(shop.base_url).port
    for host in ("evil.test", f"evil.test:{port}", f"127.0.0.1.evil.test:{port}", "127.0.0.1"):
        for path in ("/api/skus", "/health", "/.well-known/jwks.json"):
            r = get(shop.base_url, path, token, host)
            err = assert_error_doc(r, 400, "INVALID_HOST")
            assert "evil" not in err["detail"]
        r = httpx.post(
            shop.base_url + "/oauth/token",
            json={"grant_type": "client_credentials"},
            headers={"Host": host},
        )
        assert_error_doc(r, 400, "INVALID_HOST")
    for host in (own, f"localhost:{port}", f"LOCALHOST:{port}"):
        r = get(shop.base_url, "/api/skus", token, host)
        assert r.status_code == 200, r.text
        links = links_of(r.json())
        assert links and all(link.startswith(f"http://{host.lower()}/api/") for link in links)


def test_listed_hosts_are_answered_and_used_in_links(shop: Shop, listed: Server) -> None:
    token = shop.admin.token
    for host, base in (
        ("shop.test", "http://shop.test"),
        ("SHOP.test:8443", "http://shop.test:8443"),
    ):
        r = get(listed.base_url, f"/api/skus/{shop.ids['sku']}", token, host)
        assert r.status_code == 200, r.text
        links = links_of(r.json())
        assert links and all(link.startswith(base + "/api/") for link in links), links
    for host in ("evil.test", "shop.test.evil.test", "evil.test#shop.test", ""):
        assert_error_doc(get(listed.base_url, "/api/skus", token, host), 400, "INVALID_HOST")


def test_public_base_url_wins_over_any_host(shop: Shop, public: Server) -> None:
    token = shop.admin.token
    for host in ("evil.test", urlsplit(public.base_url).netloc):
        r = get(public.base_url, "/api/skus?include=prices", token, host)
        assert r.status_code == 200, r.text
        links = links_of(r.json())
        assert links and all(link.startswith("https://api.shop.test/api/") for link in links)


# --- headers and error documents ----------------------------------------------------------


def test_nosniff_on_every_response(shop: Shop) -> None:
    base = shop.base_url
    responses = [
        shop.admin.get("/api/skus"),
        shop.admin.get("/api/skus/nope"),
        shop.admin.post("/api/addresses", {"data": {"type": "addresses", "attributes": {}}}),
        shop.admin.post("/api/addresses", {"data": {"type": "addresses", "attributes": ADDRESS}}),
        httpx.get(base + "/api/skus"),
        httpx.get(base + "/health"),
        httpx.get(base + "/.well-known/jwks.json"),
        httpx.get(base + "/nope"),
        httpx.post(base + "/oauth/token", json={"grant_type": "nope"}),
        httpx.post(
            base + "/oauth/token",
            json={
                "grant_type": "client_credentials",
                "client_id": shop.creds["sales_channel_client_id"],
                "scope": f"market:code:{shop.market_code}",
            },
        ),
        httpx.post(base + f"/webhook_callbacks/external_gateways/{shop.ids['gateway']}"),
    ]
    assert {r.status_code for r in responses} >= {200, 201, 400, 401, 404, 422}
    for r in responses:
        assert r.headers.get("x-content-type-options") == "nosniff", (r.request.url, r.text)


def test_router_refusals_are_json_api_errors(shop: Shop) -> None:
    base = shop.base_url
    for path in ("/nope", "/api", "/oauth", "/oauth/nope", "/webhook_callbacks/x", "/.env"):
        assert_error_doc(httpx.get(base + path), 404, "RECORD_NOT_FOUND")
        assert_error_doc(httpx.post(base + path, content=b"{}"), 404, "RECORD_NOT_FOUND")
    for method, path in (
        ("GET", "/oauth/token"),
        ("PUT", "/oauth/revoke"),
        ("DELETE", "/health"),
        ("POST", "/.well-known/jwks.json"),
        ("GET", f"/webhook_callbacks/external_gateways/{shop.ids['gateway']}"),
    ):
        r = httpx.request(method, base + path)
        assert_error_doc(r, 405, "METHOD_NOT_ALLOWED")
        assert r.headers["allow"]


def test_error_messages_never_spell_python_values(shop: Shop) -> None:
    a = shop.admin
    sku = shop.ids["sku"]
    bad_values: list[Any] = [None, True, False, {"a": None}, [None, True], 1.5]
    responses = []
    for value in bad_values:
        responses += [
            a.post(
                "/api/addresses",
                {"data": {"type": "addresses", "attributes": {**ADDRESS, "city": value}}},
            ),
            a.patch(f"/api/skus/{sku}", {"data": {"type": "skus", "id": value, "attributes": {}}}),
            a.patch(f"/api/skus/{sku}", {"data": {"type": value, "id": sku}}),
            a.patch(
                f"/api/skus/{sku}",
                {"data": {"type": "skus", "id": sku, "attributes": {"pieces_per_pack": value}}},
            ),
            a.patch(
                f"/api/skus/{sku}",
                {"data": {"type": "skus", "id": sku, "attributes": {"do_not_ship": value}}},
            ),
            a.patch(
                f"/api/skus/{sku}",
                {
                    "data": {
                        "type": "skus",
                        "id": sku,
                        "relationships": {
                            "shipping_category": {"data": {"type": value, "id": "x"}}
                        },
                    }
                },
            ),
            httpx.post(shop.base_url + "/oauth/token", json={"grant_type": value}),
        ]
    refused = [r for r in responses if r.status_code >= 400]
    assert len(refused) >= len(bad_values) * 6
    for r in refused:
        assert r.status_code < 500, r.text
        for err in r.json().get("errors", []):
            text = f"{err.get('title')} {err.get('detail')}"
            for spelling in PYTHON_SPELLINGS:
                assert spelling not in text, (r.request.url, text)
    r = a.patch(f"/api/skus/{sku}", {"data": {"type": "skus", "id": None}})
    assert r.json()["errors"][0]["detail"] == "data.id null is not the id in the URL."
