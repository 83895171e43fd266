"""Limits: oversized bodies are refused before they are read, free-form JSON is bounded.

Attacks: a client announcing a 64 MiB body, or streaming one in chunks without end, to every
route that reads a body (``/api/*``, ``/oauth/token``, ``/oauth/revoke``, the gateways'
completion callback); ``metadata`` of hundreds of kilobytes or nested hundreds of levels deep
by an integration or a storefront guest.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.shop import ADDRESS, Shop
from tests.support import JSONAPI, Client

MAX_BODY = 1024 * 1024
MAX_JSON_BYTES = 16 * 1024
MAX_JSON_DEPTH = 10


def exchange(
    base_url: str, head: str, chunks: Iterable[bytes] = (), timeout: float = 20
) -> tuple[int, dict[str, str], bytes]:
    """One request over a raw socket, read until the server closes the connection."""
    parts = urlsplit(base_url)
    assert parts.hostname and parts.port
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n")
        for chunk in chunks:
            sock.sendall(chunk)
        data = b""
        while True:
            part = sock.recv(65536)
            if not part:
                break
            data += part
    head_bytes, _, body = data.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def request_head(base_url: str, path: str, *extra: str) -> str:
    host = urlsplit(base_url).netloc
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Type: {JSONAPI}", *extra]
    return "\n".join(lines) + "\n"


def assert_too_large(status: int, headers: dict[str, str], body: bytes) -> None:
    assert status == 413, body
    assert headers["content-type"] == JSONAPI
    assert headers["x-content-type-options"] == "nosniff"
    [error] = json.loads(body)["errors"]
    assert error["status"] == "413"
    assert error["code"] == "REQUEST_ENTITY_TOO_LARGE"
    assert str(MAX_BODY) in error["detail"]


def body_paths(shop: Shop) -> list[str]:
    return [
        "/api/addresses",
        f"/api/skus/{shop.ids['sku']}",
        "/oauth/token",
        "/oauth/revoke",
        f"/webhook_callbacks/external_gateways/{shop.ids['gateway']}",
    ]


def test_announced_oversized_body_is_refused_without_reading_it(shop: Shop) -> None:
    for path in body_paths(shop):
        head = request_head(shop.base_url, path, f"Content-Length: {64 * MAX_BODY}")
        started = time.monotonic()
        # Not one byte of the announced 64 MiB is sent: the answer cannot wait for them.
        status, headers, body = exchange(shop.base_url, head)
        assert_too_large(status, headers, body)
        assert time.monotonic() - started < 5


def test_streamed_oversized_body_is_refused_once_past_the_limit(shop: Shop) -> None:
    piece = b" " * 65536
    # Exactly one byte past the limit, then nothing: no chunk terminator, no closing
    # zero-length chunk. The server cannot wait for the end of the body; and since it must
    # read every byte sent to pass the limit, the connection closes cleanly after the 413.
    chunks = [b"%x\r\n%s\r\n" % (len(piece), piece)] * (MAX_BODY // len(piece))
    chunks.append(b"1\r\nX")
    for path in body_paths(shop):
        head = request_head(shop.base_url, path, "Transfer-Encoding: chunked")
        status, headers, body = exchange(shop.base_url, head, chunks)
        assert_too_large(status, headers, body)


def test_body_just_under_the_limit_is_read_whole(shop: Shop) -> None:
    doc = json.dumps({"data": {"type": "addresses", "attributes": ADDRESS}}).encode()
    padded = doc[:-1] + b" " * (MAX_BODY - len(doc)) + b"}"
    assert len(padded) == MAX_BODY
    r = shop.admin.http.post("/api/addresses", content=padded, headers=shop.admin.headers())
    assert r.status_code == 201, r.text
    assert r.json()["data"]["attributes"]["city"] == ADDRESS["city"]
    chunked = (padded[i : i + 65536] for i in range(0, len(padded), 65536))
    r = shop.admin.http.post("/api/addresses", content=chunked, headers=shop.admin.headers())
    assert r.status_code == 201, r.text


# --- free-form JSON -----------------------------------------------------------------------


def nested(depth: int) -> Any:
    """An object ``depth`` levels deep: ``{"a": {"a": ... {} }}``."""
    value: Any = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def address(client: Client, **attributes: Any) -> httpx.Response:
    return client.post(
        "/api/addresses", {"data": {"type": "addresses", "attributes": {**ADDRESS, **attributes}}}
    )


def sku_update(shop: Shop, **attributes: Any) -> httpx.Response:
    return shop.admin.update("skus", shop.ids["sku"], attributes)


def assert_validation(r: httpx.Response, pointer: str, error: str) -> dict[str, Any]:
    assert r.status_code == 422, r.text
    [err] = r.json()["errors"]
    assert err["source"] == {"pointer": pointer}
    assert err["meta"]["error"] == error
    assert err["detail"] == f"{pointer.rsplit('/', 1)[1]} - {err['title']}"
    return dict(err)


def assert_too_deep(r: httpx.Response, pointer: str | None) -> None:
    assert r.status_code == 400, r.text
    [err] = r.json()["errors"]
    assert err["code"] == "INVALID_DATA_FORMAT"
    assert err["status"] == "400"
    assert "nested too deeply" in err["detail"]
    assert err.get("source") == ({"pointer": pointer} if pointer else None)


def test_oversized_metadata_is_a_422_on_the_attribute(shop: Shop) -> None:
    big = {"big": "m" * MAX_JSON_BYTES}
    for client in (shop.admin, shop.guest()):
        err = assert_validation(
            address(client, metadata=big), "/data/attributes/metadata", "too_long"
        )
        assert err["meta"]["count"] == MAX_JSON_BYTES
    assert_validation(sku_update(shop, metadata=big), "/data/attributes/metadata", "too_long")
    # Many small keys add up just the same.
    many = {f"k{i}": i for i in range(MAX_JSON_BYTES // 8)}
    assert_validation(sku_update(shop, metadata=many), "/data/attributes/metadata", "too_long")
    # Nothing was written.
    sku = shop.admin.get(f"/api/skus/{shop.ids['sku']}").json()["data"]["attributes"]
    assert sku["metadata"] in ({}, None)
    # Just under the limit is fine.
    fits = {"big": "m" * (MAX_JSON_BYTES - 20)}
    r = sku_update(shop, metadata=fits)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["metadata"] == fits


def test_other_free_form_attributes_are_bounded_too(shop: Shop) -> None:
    pointer = "/data/attributes/external_includes"
    gid = shop.ids["gateway"]
    paths = [f"order.line_items.{i:05d}" for i in range(1000)]
    r = shop.admin.update("external_gateways", gid, {"external_includes": paths})
    assert_validation(r, pointer, "too_long")
    r = shop.admin.update("external_gateways", gid, {"external_includes": [nested(10)]})
    assert_too_deep(r, pointer)


def test_deeply_nested_metadata_is_a_400(shop: Shop) -> None:
    for client in (shop.admin, shop.guest()):
        assert_too_deep(
            address(client, metadata=nested(MAX_JSON_DEPTH + 1)), "/data/attributes/metadata"
        )
        deep_list: Any = [1]
        for _ in range(MAX_JSON_DEPTH):
            deep_list = [deep_list]
        assert_too_deep(address(client, metadata={"l": deep_list}), "/data/attributes/metadata")
    r = address(shop.admin, metadata=nested(MAX_JSON_DEPTH))
    assert r.status_code == 201, r.text
    assert r.json()["data"]["attributes"]["metadata"] == nested(MAX_JSON_DEPTH)


def test_deeply_nested_document_is_a_400(shop: Shop) -> None:
    a = shop.admin
    doc = {"data": {"type": "addresses", "attributes": ADDRESS, "meta": nested(40)}}
    assert_too_deep(a.post("/api/addresses", doc), None)
    for depth in (2_000, 100_000):
        bomb = "[" * depth + "]" * depth
        r = a.http.post("/api/addresses", content=bomb, headers=a.headers())
        assert r.status_code == 400, r.text
        assert r.json()["errors"][0]["code"] == "INVALID_DATA_FORMAT"


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke"])
def test_oauth_endpoints_survive_deep_bodies(shop: Shop, path: str) -> None:
    bomb = '{"grant_type":' + "[" * 50_000 + "]" * 50_000 + "}"
    r = httpx.post(
        shop.base_url + path,
        content=bomb,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert 400 <= r.status_code < 500, r.text
