"""Helpers shared by the payment tests: reading orders, transactions and the gateway."""

from __future__ import annotations

from typing import Any

import httpx

from tests.shop import Shop
from tests.support import Client


def attrs(shop: Shop, oid: str) -> dict[str, Any]:
    """The order's attributes, read with the integration token."""
    return shop.order(oid)["data"]["attributes"]


def state(shop: Shop, oid: str) -> tuple[str, str]:
    a = attrs(shop, oid)
    return a["status"], a["payment_status"]


def txns(shop: Shop, oid: str, kind: str = "transactions") -> list[dict[str, Any]]:
    """The order's transactions of one kind (``transactions`` = all), oldest first."""
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        params = {"page[size]": "25", "page[number]": str(page)}
        r = shop.admin.get(f"/api/orders/{oid}/{kind}", **params)
        assert r.status_code == 200, r.text
        out += r.json()["data"]
        if page >= r.json()["meta"]["page_count"]:
            return out
        page += 1


def gateway(shop: Shop) -> dict[str, Any]:
    r = shop.admin.get(f"/api/external_gateways/{shop.ids['gateway']}")
    assert r.status_code == 200, r.text
    return dict(r.json()["data"]["attributes"])


def stock(shop: Shop) -> int:
    r = shop.admin.get(f"/api/stock_items/{shop.ids['stock_item']}")
    assert r.status_code == 200, r.text
    return int(r.json()["data"]["attributes"]["quantity"])


def placed(shop: Shop, quantity: int = 1, customer: bool = False) -> tuple[str, Client]:
    """An order placed and authorized by a guest (or a logged-in customer) and that client."""
    client = shop.customer()[1] if customer else shop.guest()
    oid = shop.cart(client, quantity=quantity)
    r = shop.place(client, oid)
    assert r.status_code == 200, r.text
    assert state(shop, oid) == ("placed", "authorized")
    return oid, client


def approved(shop: Shop, quantity: int = 1) -> str:
    oid, _ = placed(shop, quantity)
    r = shop.admin.update("orders", oid, {"_approve": True})
    assert r.status_code == 200, r.text
    return oid


def captured(shop: Shop, quantity: int = 1) -> tuple[str, dict[str, Any]]:
    """An approved, fully captured order and its capture."""
    oid = approved(shop, quantity)
    r = shop.admin.update("orders", oid, {"_capture": True})
    assert r.status_code == 200, r.text
    assert state(shop, oid) == ("approved", "paid")
    return oid, txns(shop, oid, "captures")[0]


def clear_calls(shop: Shop) -> None:
    httpx.delete(f"{shop.processor.url}/_accounts/{shop.account}/calls")


def assert_error_shape(response: httpx.Response, status: int) -> list[dict[str, Any]]:
    """api-conventions §10.1: string status, code, title, detail; a pointer on every 422."""
    assert response.status_code == status, response.text
    errors = response.json()["errors"]
    assert errors
    for error in errors:
        assert error["status"] == str(status)
        assert isinstance(error["code"], str) and error["code"]
        assert isinstance(error["title"], str) and error["title"]
        assert isinstance(error["detail"], str) and error["detail"]
        if status == 422:
            assert error["source"]["pointer"].startswith("/data/")
            assert error["meta"]["error"]
    return list(errors)
