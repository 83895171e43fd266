"""Lists count at most a threshold of rows, sort with one ``id`` tie-breaker, and page by
cursor: checked over HTTP on the statements a server logs (``KASSA_SQL_LOG``).

A second server on the same database runs with ``KASSA_EXACT_COUNT_LIMIT=5``, so a dozen
orders are "more than the threshold".
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.shop import Shop
from tests.support import Client, Server, error_of, free_port

LIMIT = 5
ORDERS = 12


@pytest.fixture(scope="module")
def counted(server: Server) -> Iterator[Server]:
    """A server over the same database that counts exactly up to ``LIMIT`` rows."""
    srv = Server(
        server.backend, server.database_url, f"http://127.0.0.1:{free_port()}", server.data_dir
    )
    srv.env = {**server.env, "KASSA_EXACT_COUNT_LIMIT": str(LIMIT), "KASSA_SQL_LOG": "1"}
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def big_shop(server: Server, processor: Any) -> Shop:
    shop = Shop.build(server, processor, account="scale")
    market = ("markets", shop.ids["market"])
    for n in range(ORDERS):
        attrs = {"customer_email": f"scale{n}@example.com"}
        if n % 3:
            attrs["reference"] = f"ref-{n % 4}"  # repeated values, and NULLs, to sort on
        shop.admin.create("orders", attrs, {"market": market})
    return shop


def _params(text: str) -> Any:
    """The logged parameters as values when they are plain literals (else the text)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


class Log:
    """The SQL a server logged while a block ran: ``(statement, parameters)`` pairs."""

    def __init__(self, srv: Server) -> None:
        self.path = srv.data_dir / f"server-{srv.base_url.rsplit(':', 1)[1]}.log"
        self.start = self.path.stat().st_size if self.path.exists() else 0

    def statements(self) -> list[tuple[str, Any]]:
        with open(self.path, "rb") as log:
            log.seek(self.start)
            text = log.read().decode()
        out = []
        for line in text.splitlines():
            if line.startswith("sql: "):
                sql, _, params = line[len("sql: ") :].rpartition(" | ")
                out.append((sql, _params(params)))
        return out


def get(client: Client, srv: Server, path: str, **params: str) -> tuple[dict[str, Any], Log]:
    log = Log(srv)
    other = Client(srv.base_url, client.token)
    r = other.get(path, **params)
    assert r.status_code == 200, r.text
    return r.json(), log


def page_of(link: str) -> int:
    return int(parse_qs(urlsplit(link).query)["page[number]"][0])


def counts(log: Log) -> list[tuple[str, Any]]:
    return [(s, p) for s, p in log.statements() if "count(" in s.lower() and "FROM orders" in s]


def test_a_small_match_is_counted_exactly(big_shop: Shop, counted: Server) -> None:
    doc, log = get(
        big_shop.admin,
        counted,
        "/api/orders",
        **{"filter[q][customer_email_in]": "scale1@example.com,scale2@example.com"},
    )
    assert doc["meta"] == {"record_count": 2, "page_count": 1}
    [(sql, params)] = counts(log)
    assert "LIMIT" in sql and LIMIT + 1 in params, (sql, params)


def test_a_big_match_is_bounded_and_estimated(big_shop: Shop, counted: Server) -> None:
    doc, log = get(big_shop.admin, counted, "/api/orders", **{"page[size]": "2"})
    meta = doc["meta"]
    assert meta["record_count_estimated"] is True
    assert meta["record_count"] > LIMIT
    if counted.backend == "sqlite":
        assert meta["record_count"] == LIMIT + 1  # the bounded count itself
    assert meta["page_count"] == math.ceil(meta["record_count"] / 2)
    assert page_of(doc["links"]["last"]) == meta["page_count"]
    assert page_of(doc["links"]["next"]) == 2
    # The statement level: one count of the orders, bounded by LIMIT + 1, never a full one.
    [(sql, params)] = counts(log)
    assert re.search(r"count\(\*\).*FROM \(SELECT 1\s+FROM orders.*LIMIT", sql), sql
    assert LIMIT + 1 in params, params
    if counted.backend == "postgres":
        explained = [s for s, _ in log.statements() if s.startswith("EXPLAIN")]
        assert len(explained) == 1 and "FROM orders" in explained[0]


def test_pages_past_the_estimate_stay_consistent(big_shop: Shop, counted: Server) -> None:
    """The rows a page shows raise the estimate (page_count never lags behind the page)
    and the last page knows the exact count."""
    for number in (3, 4, 5):
        doc, _ = get(
            big_shop.admin,
            counted,
            "/api/orders",
            **{"page[size]": "2", "page[number]": str(number)},
        )
        meta, links = doc["meta"], doc["links"]
        assert len(doc["data"]) == 2 and meta["record_count_estimated"] is True
        assert meta["page_count"] > number  # the SDK's hasNextPage() stays true
        assert page_of(links["last"]) == meta["page_count"]
        assert page_of(links["next"]) == number + 1
    doc, _ = get(big_shop.admin, counted, "/api/orders", **{"page[size]": "2", "page[number]": "6"})
    assert doc["meta"] == {"record_count": ORDERS, "page_count": 6}
    assert "next" not in doc["links"] and page_of(doc["links"]["last"]) == 6


def test_the_tie_breaker_is_id_once(big_shop: Shop, counted: Server) -> None:
    def order_by(**params: str) -> str:
        _, log = get(big_shop.admin, counted, "/api/orders", **params)
        [sql] = [
            s for s, _ in log.statements() if s.startswith("SELECT orders.id") and "ORDER BY" in s
        ]
        return sql.split("ORDER BY ", 1)[1].split(" LIMIT")[0]

    assert order_by() == "orders.created_at ASC, orders.id ASC"
    assert order_by(sort="-created_at") == "orders.created_at DESC, orders.id DESC"
    assert (
        order_by(sort="number,-updated_at")
        == "orders.number ASC NULLS LAST, orders.updated_at DESC, orders.id DESC"
    )
    assert order_by(sort="-id") == "orders.id DESC"


def walk(client: Client, srv: Server, **params: str) -> tuple[list[str], list[tuple[str, Any]]]:
    """Every id of a list, page by page; and the SQL of the cursor pages."""
    ids: list[str] = []
    sql: list[tuple[str, Any]] = []
    doc, _ = get(client, srv, "/api/orders", **params, **{"page[after]": ""})
    while True:
        ids += [o["id"] for o in doc["data"]]
        assert "prev" not in doc["links"]
        if "next" not in doc["links"]:
            return ids, sql
        cursor = parse_qs(urlsplit(doc["links"]["next"]).query)["page[after]"][0]
        doc, log = get(client, srv, "/api/orders", **params, **{"page[after]": cursor})
        sql += [(s, p) for s, p in log.statements() if s.startswith("SELECT orders.id")]


def numbered(client: Client, srv: Server, **params: str) -> list[str]:
    ids: list[str] = []
    for number in range(1, ORDERS):
        doc, _ = get(client, srv, "/api/orders", **params, **{"page[number]": str(number)})
        ids += [o["id"] for o in doc["data"]]
        if not doc["data"]:
            break
    return ids


@pytest.mark.parametrize("sort", ["", "-created_at", "reference", "-reference,created_at"])
def test_cursor_pages_walk_the_list_like_page_numbers(
    big_shop: Shop, counted: Server, sort: str
) -> None:
    params = {"page[size]": "5", **({"sort": sort} if sort else {})}
    by_cursor, sql = walk(big_shop.admin, counted, **params)
    assert len(by_cursor) == ORDERS == len(set(by_cursor))
    assert by_cursor == numbered(big_shop.admin, counted, **params)
    # No OFFSET (SQLite's compiler always writes one: it is 0 there).
    assert sql and all("OFFSET" not in s or p[-1] == 0 for s, p in sql), sql


def test_bad_cursors_are_refused(big_shop: Shop, counted: Server) -> None:
    client = Client(counted.base_url, big_shop.admin.token)
    doc, _ = get(big_shop.admin, counted, "/api/orders", **{"page[size]": "5", "page[after]": ""})
    cursor = parse_qs(urlsplit(doc["links"]["next"]).query)["page[after]"][0]
    for params in (
        {"page[after]": "not a cursor"},
        {"page[after]": "eyJrIjpbImlkIl0sInYiOlsxXX0"},  # {"k":["id"],"v":[1]}: wrong type
        {"page[after]": cursor, "sort": "-created_at"},  # another sort's cursor
    ):
        r = client.get("/api/orders", **params)
        assert r.status_code == 400, r.text
        assert error_of(r)["code"] == "INVALID_PAGE_VALUE"
    r = client.get("/api/orders", **{"page[after]": cursor, "page[number]": "2"})
    assert r.status_code == 400 and error_of(r)["code"] == "INVALID_PAGE_OBJECT"
