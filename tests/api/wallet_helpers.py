"""Shared helpers for the wallet tests: request bodies, look-ups and error assertions."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from tests.shop import Shop
from tests.support import Client

SAVE = "_save_payment_source_to_customer_wallet"
REUSE = "_customer_payment_source_id"
INCLUDE = "available_customer_payment_sources"
T = TypeVar("T")


def save_body(oid: str) -> dict[str, Any]:
    """The seed's request (1), byte for byte the same document."""
    return {"data": {"type": "orders", "id": oid, "attributes": {SAVE: True}}}


def reuse_body(oid: str, entry_id: str) -> dict[str, Any]:
    """The seed's request (2)."""
    return {"data": {"type": "orders", "id": oid, "attributes": {REUSE: entry_id}}}


def save(client: Client, oid: str, include: bool = True) -> httpx.Response:
    params = {"include": INCLUDE} if include else {}
    return client.patch(f"/api/orders/{oid}", save_body(oid), **params)


def reuse(client: Client, oid: str, entry_id: str) -> httpx.Response:
    return client.patch(f"/api/orders/{oid}", reuse_body(oid, entry_id))


def saved_entry(response: httpx.Response) -> dict[str, Any]:
    """The one wallet entry a successful save (with the include) answered with."""
    assert response.status_code == 200, response.text
    included = response.json().get("included", [])
    entries = [i for i in included if i["type"] == "customer_payment_sources"]
    assert entries, response.text
    return entries[-1]


def entries_of(shop: Shop, customer_id: str) -> list[dict[str, Any]]:
    """The customer's wallet as the integration sees it."""
    r = shop.admin.get(
        "/api/customer_payment_sources", **{"filter[q][customer_id_eq]": customer_id}
    )
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


def available_ids(client: Client, oid: str) -> list[str]:
    r = client.get(f"/api/orders/{oid}", include=INCLUDE)
    assert r.status_code == 200, r.text
    return [d["id"] for d in r.json()["data"]["relationships"][INCLUDE]["data"]]


def gateway(shop: Shop) -> dict[str, Any]:
    r = shop.admin.get(f"/api/external_gateways/{shop.ids['gateway']}")
    assert r.status_code == 200, r.text
    return dict(r.json()["data"]["attributes"])


def order_state(shop: Shop, oid: str) -> tuple[str | None, str, str]:
    """(payment source id, status, payment_status) as the integration sees the order."""
    data = shop.order(oid, include="payment_source")["data"]
    source = data["relationships"]["payment_source"].get("data")
    attributes = data["attributes"]
    return (source or {}).get("id"), attributes["status"], attributes["payment_status"]


def create_entry(
    shop: Shop,
    customer_id: str,
    token: str = "pm_imported",
    method: bool = True,
    **attributes: Any,
) -> dict[str, Any]:
    """An imported wallet entry, created by the integration."""
    relationships: dict[str, Any] = {"customer": ("customers", customer_id)}
    if method:
        relationships["payment_method"] = ("payment_methods", shop.ids["payment_method"])
    return shop.admin.create(
        "customer_payment_sources",
        {"payment_source_token": token, **attributes},
        relationships,
    )


def integration_order(shop: Shop, email: str | None = None, pay: bool = True) -> str:
    """A pending order built with the integration token (no customer unless ``email``)."""
    a = shop.admin
    order = a.create("orders", {}, {"market": ("markets", shop.ids["market"])})
    oid = order["id"]
    a.create("line_items", {"sku_code": "TSHIRT-XL", "quantity": 1}, {"order": ("orders", oid)})
    if email:
        r = a.update("orders", oid, {"customer_email": email})
        assert r.status_code == 200, r.text
    r = a.update(
        "orders", oid, {}, {"payment_method": ("payment_methods", shop.ids["payment_method"])}
    )
    assert r.status_code == 200, r.text
    if pay:
        a.create(
            "external_payments", {"payment_source_token": "tok_int"}, {"order": ("orders", oid)}
        )
    return oid


def assert_error(
    response: httpx.Response,
    status: int,
    code: str,
    pointer: str | None = None,
    title: str | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """The first error object, checked against api-conventions §10.1."""
    assert response.status_code == status, response.text
    err = response.json()["errors"][0]
    assert err["status"] == str(status)
    assert err["code"] == code
    assert isinstance(err["title"], str) and isinstance(err["detail"], str)
    if status == 422:
        assert pointer is not None
        assert err["source"] == {"pointer": pointer}
        field = pointer.rsplit("/", 1)[1]
        assert err["detail"] == f"{field} - {err['title']}"
    if title is not None:
        assert err["title"] == title
    if error is not None:
        assert err["meta"]["error"] == error
    return dict(err)


def parallel(calls: list[Callable[[], T]], timeout: float = 60) -> list[T]:
    """Run every call in its own thread, released together; return results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    failures: list[BaseException] = []

    def run(index: int, call: Callable[[], T]) -> None:
        try:
            barrier.wait(timeout)
            results[index] = call()
        except BaseException as exc:  # reported to the test below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not failures, failures
    return results


def fresh_client(client: Client) -> Client:
    """Another connection with the same token: a separate socket for a concurrent caller."""
    return Client(client.base_url, client.token)
