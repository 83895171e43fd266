"""Compound documents cost a fixed number of SQL statements, whatever the page size."""

from __future__ import annotations

from tests.shop import Shop
from tests.support import Client


def queries(client: Client, path: str, **params: str) -> int:
    r = client.get(path, **params)
    assert r.status_code == 200, r.text
    return int(r.headers["X-Kassa-Queries"])


def test_list_with_includes_has_a_fixed_query_count(shop: Shop) -> None:
    a = shop.admin
    market = ("markets", shop.ids["market"])
    for n in range(20):
        order = a.create("orders", {"customer_email": f"q{n}@example.com"}, {"market": market})
        a.create(
            "line_items",
            {"sku_code": "TSHIRT-XL", "quantity": 1 + n % 3},
            {"order": ("orders", order["id"])},
        )
    params = {"include": "line_items.item,market"}
    small = a.get("/api/orders", **params, **{"page[size]": "2"})
    big = a.get("/api/orders", **params, **{"page[size]": "20"})
    assert len(small.json()["data"]) == 2 and len(big.json()["data"]) == 20
    included = {i["type"] for i in big.json()["included"]}
    assert included == {"line_items", "skus", "markets"}
    assert len([i for i in big.json()["included"] if i["type"] == "line_items"]) == 20
    assert small.headers["X-Kassa-Queries"] == big.headers["X-Kassa-Queries"]
    assert queries(a, "/api/orders", **params, **{"page[size]": "25"}) == int(
        big.headers["X-Kassa-Queries"]
    )
    others = {"include": "available_payment_methods,payment_method,customer,shipments"}
    assert queries(a, "/api/orders", **others, **{"page[size]": "2"}) == queries(
        a, "/api/orders", **others, **{"page[size]": "20"}
    )
    # The same holds for a plain list and for a single order.
    assert queries(a, "/api/orders", **{"page[size]": "2"}) == queries(
        a, "/api/orders", **{"page[size]": "20"}
    )
    oid = big.json()["data"][0]["id"]
    one = queries(a, f"/api/orders/{oid}", **params)
    assert one <= int(big.headers["X-Kassa-Queries"])
