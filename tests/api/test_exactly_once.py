"""Concurrent payment triggers on one order charge exactly once (ARCHITECTURE principle 5).

Many real connections hit one order at the same time while the gateway answers slowly,
so the first callout is still in flight when the others arrive.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.api.payflow import approved, captured, state, stock, txns
from tests.shop import Shop
from tests.support import JSONAPI, Client

SLOW = {"mode": "timeout", "seconds": 0.3, "times": 1}


def _storm(client: Client, type_: str, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    """PATCH every body at once, each on its own connection (the pool allows them all)."""
    headers = {
        "Accept": JSONAPI,
        "Content-Type": JSONAPI,
        "Authorization": f"Bearer {client.token}",
    }

    async def send(http: httpx.AsyncClient, attributes: dict[str, Any]) -> httpx.Response:
        attributes = dict(attributes)
        oid = attributes.pop("id")
        body = {"data": {"type": type_, "id": oid, "attributes": attributes}}
        return await http.patch(f"/api/{type_}/{oid}", content=json.dumps(body), headers=headers)

    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=client.base_url, timeout=60, limits=limits) as http:
            return list(await asyncio.gather(*(send(http, b) for b in bodies)))

    return asyncio.run(run())


def _no_server_errors(responses: list[httpx.Response]) -> Counter[int]:
    statuses = Counter(r.status_code for r in responses)
    assert all(s < 500 for s in statuses), [r.text for r in responses if r.status_code >= 500]
    return statuses


def test_fifty_concurrent_place_authorize_once(shop: Shop) -> None:
    _cid, client = shop.customer()  # a customer may re-send _place on its placed order
    oid = shop.cart(client, quantity=2)
    before = stock(shop)
    shop.behave("authorize", **SLOW)
    responses = _storm(client, "orders", [{"id": oid, "_place": True} for _ in range(50)])
    assert _no_server_errors(responses) == {200: 50}
    for r in responses:
        assert r.json()["data"]["attributes"]["status"] == "placed"
    assert len(shop.calls("authorize")) == 1
    [auth] = txns(shop, oid)
    assert auth["attributes"]["succeeded"] is True
    assert state(shop, oid) == ("placed", "authorized")
    assert stock(shop) == before - 2


def test_fifty_concurrent_capture_capture_once(shop: Shop) -> None:
    oid = approved(shop)
    shop.behave("capture", **SLOW)
    responses = _storm(shop.admin, "orders", [{"id": oid, "_capture": True} for _ in range(50)])
    assert _no_server_errors(responses) == {200: 1, 422: 49}
    for r in responses:
        if r.status_code == 422:
            assert r.json()["errors"][0]["meta"]["error"] == "invalid_transition"
    assert len(shop.calls("capture")) == 1
    assert [c["attributes"]["succeeded"] for c in txns(shop, oid, "captures")] == [True]
    assert state(shop, oid) == ("approved", "paid")


def test_concurrent_refunds_never_exceed_the_capture(shop: Shop) -> None:
    oid, cap = captured(shop, quantity=2)
    shop.behave("refund", **SLOW)
    partial = [{"id": cap["id"], "_refund": True, "_refund_amount_cents": 1000} for _ in range(20)]
    responses = _storm(shop.admin, "captures", partial)
    statuses = _no_server_errors(responses)
    assert statuses == {200: 9, 422: 11}
    for r in responses:
        if r.status_code == 422:
            assert r.json()["errors"][0]["source"]["pointer"] == (
                "/data/attributes/_refund_amount_cents"
            )
    refunds = [x["attributes"] for x in txns(shop, oid, "refunds")]
    assert [x["amount_cents"] for x in refunds] == [1000] * 9
    assert len(shop.calls("refund")) == 9
    assert state(shop, oid) == ("approved", "partially_refunded")


def test_mixed_concurrent_refunds_refund_exactly_the_capture(shop: Shop) -> None:
    oid, cap = captured(shop, quantity=2)
    shop.behave("refund", **SLOW)
    on_capture = [{"id": cap["id"], "_refund": True, "_refund_amount_cents": 3000}] * 10
    on_order = [{"id": oid, "_refund": True}] * 10
    with ThreadPoolExecutor(max_workers=2) as pool:
        a = pool.submit(_storm, shop.admin, "captures", on_capture)
        b = pool.submit(_storm, shop.admin, "orders", on_order)
        responses = a.result() + b.result()
    _no_server_errors(responses)
    refunded = sum(
        x["attributes"]["amount_cents"]
        for x in txns(shop, oid, "refunds")
        if x["attributes"]["succeeded"]
    )
    assert refunded == 9800
    assert len(shop.calls("refund")) == len(txns(shop, oid, "refunds"))
    assert state(shop, oid) == ("cancelled", "refunded")
