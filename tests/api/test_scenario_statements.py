"""The SQL statements of each ``make bench`` scenario, pinned per step and per backend.

The scenarios are the ones ``bench/run.py`` measures (``bench/scenarios.py``): the three
reads and, step by step, the checkout flow and the wallet story. The counts come from the
server's ``X-Kassa-Queries`` header (``KASSA_QUERY_COUNT_HEADER=1`` in the test servers);
SQLite counts its ``BEGIN`` statements too. A change in a count is a change in the cost of
what users do: when it is intended (the redesign lowers them), update the table here and
say so in the change.
"""

from __future__ import annotations

import httpx
from bench.scenarios import Call, checkout_flow, reads, run_sync, wallet_flow

from tests.shop import Shop
from tests.support import Client

# step -> statements, once the organization has its first order.
CHECKOUT = {
    # SQLite counts the BEGIN of each transaction (one per plain POST, answer included);
    # the token check's read runs without one.
    "sqlite": {
        "POST orders": 10,
        "POST line_items": 15,
        "POST addresses": 4,
        "PATCH billing address, shipping same": 22,
        "PATCH payment method": 14,
        "POST external_payments": 13,
        "PATCH _place": 29,
    },
    "postgres": {
        "POST orders": 9,
        "POST line_items": 14,
        "POST addresses": 3,
        "PATCH billing address, shipping same": 20,
        "PATCH payment method": 13,
        "POST external_payments": 12,
        "PATCH _place": 27,
    },
}


def wallet(backend: str, save: int, reuse: int, place: int) -> dict[str, int]:
    """The wallet story: order 1 is the checkout above, order 2 its cart without the
    external payment, paid from the wallet."""
    checkout = CHECKOUT[backend]
    cart = {
        k: v for k, v in checkout.items() if k not in ("POST external_payments", "PATCH _place")
    }
    return {
        **{f"order 1: {step}": n for step, n in checkout.items()},
        "order 1: PATCH _save_payment_source_to_customer_wallet": save,
        **{f"order 2: {step}": n for step, n in cart.items()},
        "order 2: PATCH _customer_payment_source_id": reuse,
        "order 2: PATCH _place": place,
    }


WALLET = {
    "sqlite": wallet("sqlite", save=30, reuse=17, place=29),
    "postgres": wallet("postgres", save=27, reuse=16, place=27),
}
READS = {
    "sqlite": {"retrieve": 6, "skus": 4, "orders": 4},
    "postgres": {"retrieve": 5, "skus": 3, "orders": 3},
}


def http(shop: Shop, client: Client) -> httpx.Client:
    return httpx.Client(
        base_url=shop.base_url, headers={"Authorization": f"Bearer {client.token}"}, timeout=60
    )


def statements(done: list[tuple[Call, httpx.Response]]) -> dict[str, int]:
    """Step -> the statements the server ran for it (the untimed clean-up left out)."""
    return {c.step: int(r.headers["X-Kassa-Queries"]) for c, r in done if c.timed}


def test_checkout_and_wallet_statements_per_step(shop: Shop) -> None:
    backend = shop.server.backend
    method = shop.ids["payment_method"]
    _, buyer = shop.customer()
    with http(shop, buyer) as session:
        # The organization's first order also creates its order-number sequence.
        run_sync(checkout_flow(method, "TSHIRT-XL"), session)
        checkout = statements(run_sync(checkout_flow(method, "TSHIRT-XL"), session))
    assert checkout == CHECKOUT[backend], repr(list(checkout.items()))
    with http(shop, buyer) as session:  # nothing in the wallet yet: checkouts do not save
        story = statements(run_sync(wallet_flow(method, "TSHIRT-XL"), session))
        story_again = statements(run_sync(wallet_flow(method, "TSHIRT-XL"), session))
    assert story == story_again, "every wallet story starts from an empty wallet"
    assert story == WALLET[backend], repr(list(story.items()))


def test_read_statements(shop: Shop) -> None:
    backend = shop.server.backend
    method = shop.ids["payment_method"]
    _, reader = shop.customer()
    with http(shop, reader) as session:
        done = run_sync(checkout_flow(method, "TSHIRT-XL"), session)
    oid = done[0][1].json()["data"]["id"]
    saved = reader.update("orders", oid, {"_save_payment_source_to_customer_wallet": True})
    assert saved.status_code == 200, saved.text
    a = shop.admin
    for n in range(2):  # several SKUs and placed orders in each list
        code = f"SKU-{n:03d}"
        rel = {"shipping_category": ("shipping_categories", shop.ids["shipping_category"])}
        a.create("skus", {"code": code, "name": f"Item {n}", "do_not_track": True}, rel)
        price = {"amount_cents": 1000 + n, "sku_code": code}
        a.create("prices", price, {"price_list": ("price_lists", shop.ids["price_list"])})
        with http(shop, reader) as session:
            run_sync(checkout_flow(method, "TSHIRT-XL"), session)
    who = {"customer": reader, "guest": shop.guest(), "integration": shop.admin}
    counted: dict[str, int] = {}
    for read in reads(oid):
        r = who[read.who].get(read.path, **read.params)
        assert r.status_code == 200, r.text
        if read.name != "retrieve":
            assert len(r.json()["data"]) == 3, read.name
        counted[read.name] = int(r.headers["X-Kassa-Queries"])
    assert counted == READS[backend], counted
