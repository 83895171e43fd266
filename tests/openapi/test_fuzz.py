"""Fuzz the live server with cases generated from its own ``/openapi.json``.

On each backend: every documented operation, as every kind of token that may call it
(integration, sales channel, customer), against a populated shop; then a stateful run that
creates resources and follows the document's links to update and delete them.

``KASSA_FUZZ_EXAMPLES`` sets the examples per operation and token kind (``make fuzz`` raises
it); ``KASSA_FUZZ_REPORT`` names a file to append the figures to.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest

from kassa.fake_processor import ProcessorServer
from tests.openapi.fuzzing import Fuzzer, Report, examples, stateful
from tests.shop import ADDRESS, Shop
from tests.support import Client, Server

SALES_CHANNEL_KINDS = ("sales_channel", "customer")


def populate(shop: Shop) -> dict[str, str]:
    """Orders in several states, a customer with addresses and tags: rows to aim at.

    Returns the tokens of the three kinds of caller."""
    a = shop.admin
    guest = shop.guest()
    customer_id, customer = shop.customer()
    placed = shop.cart(guest)
    assert shop.place(guest, placed).status_code == 200
    shop.cart(guest, pay=False)
    mine = shop.cart(customer)
    assert shop.place(customer, mine).status_code == 200
    shop.cart(customer)
    address = a.create("addresses", ADDRESS)
    a.create(
        "customer_addresses",
        {},
        {
            "customer": ("customers", customer_id),
            "address": ("addresses", address["id"]),
        },
    )
    a.create("tags", {"name": "fuzz"})
    a.create("customer_groups", {"name": "VIP"})
    a.create("shipping_zones", {"name": "Italy", "country_code_regex": "IT"})
    a.create("manual_gateways", {"name": "Bank transfer"})
    assert guest.token and customer.token and a.token
    return {"integration": a.token, "sales_channel": guest.token, "customer": customer.token}


def harvest(base_url: str, token: str, document: dict[str, Any]) -> dict[str, list[str]]:
    """The ids of every listable resource, as the integration sees them."""
    client = Client(base_url, token)
    ids: dict[str, list[str]] = {}
    for path, item in document["paths"].items():
        parts = path.split("/")
        if len(parts) == 3 and parts[1] == "api" and "get" in item:
            r = client.get(path, **{"page[size]": "25"})
            assert r.status_code == 200, r.text
            data = r.json()["data"]
            if isinstance(data, list):
                ids[parts[2]] = [obj["id"] for obj in data]
    return ids


def _record(server: Server, name: str, report: Report) -> None:
    target = os.environ.get("KASSA_FUZZ_REPORT")
    if target:
        with open(target, "a") as fh:
            fh.write(f"## {name} ({server.backend})\n{report.summary()}\n\n")


@pytest.fixture
def fuzz_shop(server: Server, processor: ProcessorServer) -> tuple[Shop, dict[str, str]]:
    shop = Shop.build(server, processor, account="acct-fuzz-" + server.backend)
    return shop, populate(shop)


def test_every_operation_as_every_caller(fuzz_shop: tuple[Shop, dict[str, str]]) -> None:
    shop, tokens = fuzz_shop
    document = httpx.get(shop.base_url + "/openapi.json").json()
    fuzzer = Fuzzer(
        document, shop.base_url, tokens, harvest(shop.base_url, tokens["integration"], document)
    )
    count = examples(3)
    plan: list[tuple[Any, str | None, int, bool]] = []
    for op in fuzzer.operations():
        kinds = op.definition.raw.get("x-kassa-access") or [None]
        writes = op.method.upper() in ("POST", "PATCH") or "{" not in op.path
        related = op.path.count("/") == 4  # /api/<type>/{id}/<relationship>
        for kind in kinds:
            plan.append((op, kind, max(1, count // 3) if related else count, False))
            if writes:  # documents and query strings that break the schema on purpose
                plan.append((op, kind, count, True))
        if None not in kinds and not set(kinds) & set(SALES_CHANNEL_KINDS):
            plan.append((op, "sales_channel", 1, False))  # refused, as documented
    report = fuzzer.run(plan)
    _record(shop.server, "stateless", report)
    assert report.operations == fuzzer.labels()
    assert not report.failures, report.summary()


def test_stateful_links(fuzz_shop: tuple[Shop, dict[str, str]]) -> None:
    """Create → update → delete chains through the ``links`` of each create response."""
    shop, tokens = fuzz_shop
    document = httpx.get(shop.base_url + "/openapi.json").json()
    report = Report()
    for kind, token in tokens.items():
        report.add(stateful(document, shop.base_url, kind, token, examples(3)))
    _record(shop.server, "stateful", report)
    assert report.transitions, report.summary()
    assert not report.failures, report.summary()
