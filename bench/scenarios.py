"""The benchmark's scenarios: the reads it compares with a bare endpoint, and the write flows.

A write flow is a generator of :class:`Call` objects: it yields the next request and is sent
the parsed JSON answer, so one definition drives the load generator (``bench/load.py``,
asynchronous, many clients) and the tests that pin each step's SQL statement count
(``tests/api/test_scenario_statements.py``, one synchronous client).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

JSONAPI = "application/vnd.api+json"
HEADERS = {"Accept": JSONAPI, "Content-Type": JSONAPI}
ADDRESS = {
    "first_name": "John",
    "last_name": "Smith",
    "line_1": "Via Roma 1",
    "city": "Milano",
    "zip_code": "20100",
    "state_code": "MI",
    "country_code": "IT",
    "phone": "+39 02 1234567",
}
WALLET = "available_customer_payment_sources"


class FlowError(Exception):
    """A step answered, but not what the flow needs (a wrong status or state)."""


@dataclass(frozen=True)
class Call:
    step: str
    method: str
    path: str
    body: dict[str, Any] | None = None
    params: dict[str, str] = field(default_factory=dict)
    status: int = 200
    timed: bool = True
    """False for clean-up requests: sent, but left out of the step and flow figures."""


Flow = Generator[Call, dict[str, Any], None]


@dataclass(frozen=True)
class Read:
    """A read scenario: a GET whose answer the bare endpoint serves byte for byte."""

    name: str
    label: str
    path: str
    params: dict[str, str]
    who: str  # "customer", "guest" or "integration"


def reads(order_id: str) -> list[Read]:
    return [
        Read(
            "retrieve",
            f"GET /api/orders/:id?include=line_items,{WALLET} (customer)",
            f"/api/orders/{order_id}",
            {"include": f"line_items,{WALLET}"},
            "customer",
        ),
        Read(
            "skus",
            "GET /api/skus?page[size]=25 (guest)",
            "/api/skus",
            {"page[size]": "25"},
            "guest",
        ),
        Read(
            "orders",
            "GET /api/orders?filter[q][status_eq]=placed&sort=-created_at&page[size]=25 "
            "(integration)",
            "/api/orders",
            {"filter[q][status_eq]": "placed", "sort": "-created_at", "page[size]": "25"},
            "integration",
        ),
    ]


def _doc(
    type_: str, attributes: dict[str, Any], rels: dict[str, tuple[str, str]], id_: str = ""
) -> dict[str, Any]:
    data: dict[str, Any] = {"type": type_, "attributes": attributes}
    if id_:
        data["id"] = id_
    if rels:
        data["relationships"] = {k: {"data": {"type": t, "id": i}} for k, (t, i) in rels.items()}
    return {"data": data}


def _order_patch(step: str, oid: str, attributes: dict[str, Any], **rels: tuple[str, str]) -> Call:
    return Call(step, "PATCH", f"/api/orders/{oid}", _doc("orders", attributes, rels, oid))


def cart(payment_method: str, sku_code: str, prefix: str = "") -> Generator[Call, Any, str]:
    """Five requests: an order with a line item, billing address (shipping the same) and
    payment method, as a customer's storefront builds it. Returns the order's id."""
    order = yield Call(
        f"{prefix}POST orders", "POST", "/api/orders", _doc("orders", {}, {}), {}, 201
    )
    oid = str(order["data"]["id"])
    line = _doc("line_items", {"sku_code": sku_code, "quantity": 1}, {"order": ("orders", oid)})
    yield Call(f"{prefix}POST line_items", "POST", "/api/line_items", line, {}, 201)
    address = yield Call(
        f"{prefix}POST addresses", "POST", "/api/addresses", _doc("addresses", ADDRESS, {}), {}, 201
    )
    yield _order_patch(
        f"{prefix}PATCH billing address, shipping same",
        oid,
        {"_shipping_address_same_as_billing": True},
        billing_address=("addresses", str(address["data"]["id"])),
    )
    yield _order_patch(
        f"{prefix}PATCH payment method",
        oid,
        {},
        payment_method=("payment_methods", payment_method),
    )
    return oid


def place(oid: str, prefix: str = "") -> Generator[Call, Any, None]:
    placed = yield _order_patch(f"{prefix}PATCH _place", oid, {"_place": True})
    attributes = placed["data"]["attributes"]
    if (attributes["status"], attributes["payment_status"]) != ("placed", "authorized"):
        raise FlowError(f"order {oid}: {attributes['status']}/{attributes['payment_status']}")


def checkout(payment_method: str, sku_code: str, prefix: str = "") -> Generator[Call, Any, str]:
    """The full checkout, seven requests: :func:`cart`, a one-off external payment, ``_place``
    (authorized by the gateway's ``authorize_url``). Returns the order's id."""
    oid = yield from cart(payment_method, sku_code, prefix)
    source = _doc(
        "external_payments", {"payment_source_token": "tok_bench"}, {"order": ("orders", oid)}
    )
    yield Call(f"{prefix}POST external_payments", "POST", "/api/external_payments", source, {}, 201)
    yield from place(oid, prefix)
    return oid


def checkout_flow(payment_method: str, sku_code: str) -> Flow:
    yield from checkout(payment_method, sku_code)


def wallet_flow(payment_method: str, sku_code: str) -> Flow:
    """The seed's wallet story: order 1 checked out and placed, its payment source saved to
    the wallet (with the include of the seed's request), order 2 built without a payment,
    paid with the saved entry and placed. The entry is deleted afterwards (untimed), so every
    flow starts from an empty wallet and the documents keep their size."""
    first = yield from checkout(payment_method, sku_code, "order 1: ")
    saved = yield Call(
        "order 1: PATCH _save_payment_source_to_customer_wallet",
        "PATCH",
        f"/api/orders/{first}",
        _doc("orders", {"_save_payment_source_to_customer_wallet": True}, {}, first),
        {"include": WALLET},
    )
    entries = [i for i in saved.get("included", []) if i["type"] == "customer_payment_sources"]
    if not entries:
        raise FlowError(f"order {first}: the save answered no wallet entry")
    entry = str(entries[-1]["id"])
    second = yield from cart(payment_method, sku_code, "order 2: ")
    yield _order_patch(
        "order 2: PATCH _customer_payment_source_id",
        second,
        {"_customer_payment_source_id": entry},
    )
    yield from place(second, "order 2: ")
    yield Call(
        "clean-up: DELETE the wallet entry",
        "DELETE",
        f"/api/customer_payment_sources/{entry}",
        status=204,
        timed=False,
    )


FLOWS = {"checkout": checkout_flow, "wallet": wallet_flow}


def check(call: Call, status: int, content: bytes) -> dict[str, Any]:
    """The answer's JSON, or :class:`FlowError` when the status is not the expected one."""
    if status != call.status:
        text = content[:300].decode(errors="replace")
        raise FlowError(f"{call.step}: {status} {text}")
    return dict(orjson.loads(content)) if content else {}


def run_sync(flow: Flow, http: httpx.Client) -> list[tuple[Call, httpx.Response]]:
    """One flow, request after request, on a synchronous client (the tests)."""
    done: list[tuple[Call, httpx.Response]] = []
    call = next(flow)
    while True:
        body = None if call.body is None else orjson.dumps(call.body)
        response = http.request(
            call.method, call.path, params=call.params or None, content=body, headers=HEADERS
        )
        done.append((call, response))
        try:
            call = flow.send(check(call, response.status_code, response.content))
        except StopIteration:
            return done
