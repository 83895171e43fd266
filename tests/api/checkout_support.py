"""Helpers shared by the catalog, cart and checkout tests: extra markets, SKUs, snapshots."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from tests.shop import ADDRESS, Shop
from tests.support import Client, token_for


@dataclass
class Market:
    id: str
    code: str
    price_list: str
    location: str
    category: str


def add_market(shop: Shop, currency: str = "EUR", tax_included: bool = True) -> Market:
    """A second market of the shop's organization with its own price list and warehouse."""
    a = shop.admin
    code = "other-" + secrets.token_hex(3)
    pl = a.create(
        "price_lists",
        {
            "name": code,
            "code": "pl-" + code,
            "currency_code": currency,
            "tax_included": tax_included,
        },
    )
    place = a.create("addresses", ADDRESS)
    market, _model, location = shop.market_stack(
        code, code, pl["id"], shop.ids["merchant"], place["id"]
    )
    return Market(market["id"], code, pl["id"], location["id"], shop.ids["shipping_category"])


def add_sku(
    shop: Shop,
    code: str,
    *,
    price: int | None = 1000,
    stock: int | None = 50,
    price_list: str | None = None,
    location: str | None = None,
    do_not_ship: bool = True,
    do_not_track: bool = False,
    category: str | None = None,
) -> str:
    """A SKU, optionally priced in a price list and stocked in a location (shop's by default)."""
    a = shop.admin
    sku = a.create(
        "skus",
        {
            "code": code,
            "name": f"Item {code}",
            "do_not_ship": do_not_ship,
            "do_not_track": do_not_track,
            "image_url": f"https://img.example.com/{code}.png",
        },
        {"shipping_category": ("shipping_categories", category or shop.ids["shipping_category"])},
    )
    if price is not None:
        a.create(
            "prices",
            {"amount_cents": price, "sku_code": code},
            {"price_list": ("price_lists", price_list or shop.ids["price_list"])},
        )
    if stock is not None:
        a.create(
            "stock_items",
            {"quantity": stock, "sku_code": code},
            {"stock_location": ("stock_locations", location or shop.ids["stock_location"])},
        )
    return str(sku["id"])


def guest_of(shop: Shop, market_code: str) -> Client:
    token = token_for(
        shop.base_url,
        {
            "grant_type": "client_credentials",
            "client_id": shop.creds["sales_channel_client_id"],
            "scope": f"market:code:{market_code}",
        },
    )
    return Client(shop.base_url, token)


def body(
    type_: str,
    attributes: dict[str, Any] | None = None,
    relationships: dict[str, tuple[str, str] | None] | None = None,
    id_: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"type": type_, "attributes": attributes or {}}
    if id_ is not None:
        data["id"] = id_
    if relationships:
        data["relationships"] = {
            k: {"data": {"type": v[0], "id": v[1]} if v else None} for k, v in relationships.items()
        }
    return {"data": data}


def new_order(client: Client, **relationships: tuple[str, str]) -> str:
    return str(client.create("orders", {}, relationships or None)["id"])


def add_item(
    client: Client, oid: str, code: str = "TSHIRT-XL", quantity: int = 1
) -> httpx.Response:
    return client.post(
        "/api/line_items",
        body("line_items", {"sku_code": code, "quantity": quantity}, {"order": ("orders", oid)}),
    )


def address(client: Client, **overrides: Any) -> str:
    return str(client.create("addresses", {**ADDRESS, **overrides})["id"])


def attrs(shop: Shop, oid: str, client: Client | None = None) -> dict[str, Any]:
    return dict(shop.order(oid, client)["data"]["attributes"])


def snapshot(shop: Shop, oid: str) -> dict[str, Any]:
    """What a failed write must leave untouched: totals, status and every line item."""
    doc = shop.order(oid, include="line_items,shipments")
    a = doc["data"]["attributes"]
    keys = [k for k in a if k.endswith("_cents") or k.endswith("_count")]
    keys += ["status", "customer_email", "updated_at"]
    items = sorted(
        (
            i["id"],
            i["attributes"]["sku_code"],
            i["attributes"]["quantity"],
            i["attributes"]["total_amount_cents"],
        )
        for i in doc.get("included", [])
        if i["type"] == "line_items"
    )
    shipments = sorted(i["id"] for i in doc.get("included", []) if i["type"] == "shipments")
    rels = {k: v.get("data") for k, v in doc["data"]["relationships"].items() if "data" in v}
    return {"attributes": {k: a[k] for k in keys}, "items": items, "shipments": shipments, **rels}


def assert_422(
    response: httpx.Response, pointer: str, error: str, title: str | None = None
) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    matching = [e for e in errors if e["source"]["pointer"] == pointer]
    assert matching, errors
    err = matching[0]
    assert err["status"] == "422"
    assert err["code"] == "VALIDATION_ERROR"
    assert err["meta"]["error"] == error, err
    if title is not None:
        assert err["title"] == title
    assert err["detail"] == f"{pointer.rsplit('/', 1)[-1]} - {err['title']}"
    return dict(err)


def assert_status(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    err = response.json()["errors"][0]
    assert (err["status"], err["code"]) == (str(status), code)
