"""A big shop: list cases and a customer's checkout at several sizes, on PostgreSQL.

Usage: ``python bench/scale.py [--sizes 0,10000,100000,1000000] [--requests 200]
[--flows 200] [--cases lists,checkout] [--revisions head] [--backends postgres]
[--database SIZE=URL] [--out FILE]``.

Each combination of backend, schema revision and size is a *target*: a fresh database (or
one given with ``--database``, reused and kept), migrated to the revision with Alembic, the
shop of ``kassa seed`` (loaded in-process by :func:`kassa.seed.seed`; none at size 0), one
``kassa serve`` worker.

- ``lists`` (PostgreSQL at head, seeded sizes): every list case as sequential requests on
  one keep-alive connection, after a warm-up; p50/p99 beside the figures measured before
  this work (the ``before`` column, from the issue that asked for it).
- ``checkout``: a logged-in customer's whole checkout over HTTP (order, line item, billing
  address used for shipping, payment method, external payment, ``_place`` authorized by the
  reference processor on loopback), one flow after the other. Once every target is up, the
  flows are interleaved across targets (round robin), so a busy moment of the machine falls
  on all of them alike. p50/p99 of the flow and of ``_place``, and the SQL statements they
  run (``X-Kassa-Queries``).

Writes the Markdown tables to ``bench/results/scale-postgres.md`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alembic import command  # noqa: E402
from tests.shop import ADDRESS, Shop  # noqa: E402
from tests.support import (  # noqa: E402
    Client,
    Server,
    create_postgres_database,
    drop_postgres_database,
    free_port,
    token_for,
)

from kassa.bootstrap import init_organization  # noqa: E402
from kassa.engine.keyset import cursor_for  # noqa: E402
from kassa.fake_processor import ProcessorServer  # noqa: E402
from kassa.resources.registry import build_registry  # noqa: E402
from kassa.seed import SeedError, seed  # noqa: E402
from kassa.settings import Settings  # noqa: E402
from kassa.store.migrate import alembic_config  # noqa: E402

PAGE = "page[number]"
# name -> (query, who, p99 at 1 M / at 100 k before this work, in ms)
BEFORE: dict[str, tuple[float, float]] = {
    "status": (168, 32),
    "status_deep": (182, 60),
    "email_eq": (722, 52),
    "number_eq": (437, 59),
    "updated": (314, 54),
    "email_cont": (1278, 127),
    "customer": (230, 12),
}
LABELS = {
    "status": "`filter[q][status_eq]=placed&sort=-created_at`",
    "status_deep": "the same, `page[number]=2000`",
    "status_after": "the same, `page[after]=` a cursor 2000 pages deep",
    "email_eq": "`filter[q][customer_email_eq]=` (about 20 matches)",
    "number_eq": "`filter[q][number_eq]=`",
    "updated": "`sort=-updated_at`",
    "email_cont": "`filter[q][customer_email_cont]=`",
    "customer": "a customer with a tenth of all orders: `GET /api/orders`",
    "create": "`POST /api/orders` (a write, for comparison)",
}


def cases(size: int, deep_cursor: str) -> dict[str, tuple[str, dict[str, str], str]]:
    placed = {"filter[q][status_eq]": "placed", "sort": "-created_at"}
    return {
        "status": ("/api/orders", placed, "admin"),
        "status_deep": ("/api/orders", {**placed, PAGE: "2000"}, "admin"),
        "status_after": ("/api/orders", {**placed, "page[after]": deep_cursor}, "admin"),
        "email_eq": (
            "/api/orders",
            {"filter[q][customer_email_eq]": "shopper7@example.com"},
            "admin",
        ),
        "number_eq": ("/api/orders", {"filter[q][number_eq]": str(size // 2)}, "admin"),
        "updated": ("/api/orders", {"sort": "-updated_at"}, "admin"),
        "email_cont": ("/api/orders", {"filter[q][customer_email_cont]": "opper17@"}, "admin"),
        "customer": ("/api/orders", {}, "whale"),
    }


async def _deep_cursor(url: str, org: str) -> str:
    """The cursor after the last row of page 2000 of the first case (10 rows a page)."""
    orders = build_registry()["orders"].table
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(orders.c.created_at, orders.c.id)
                    .where(orders.c.organization_id == org, orders.c.status == "placed")
                    .order_by(orders.c.created_at.desc(), orders.c.id.desc())
                    .offset(2000 * 10 - 1)
                    .limit(1)
                )
            ).first()
    finally:
        await engine.dispose()
    if row is None:
        return ""
    return cursor_for([("created_at", True), ("id", True)], dict(row._mapping))


def measure(client: httpx.Client, path: str, params: dict[str, str], n: int) -> dict[str, float]:
    for _ in range(max(n // 10, 3)):
        r = client.get(path, params=params)
        assert r.status_code == 200, r.text
    times = []
    for _ in range(n):
        start = time.perf_counter()
        r = client.get(path, params=params)
        times.append((time.perf_counter() - start) * 1000)
        assert r.status_code == 200, r.text
    times.sort()
    return {
        "p50": statistics.median(times),
        "p99": times[min(len(times) - 1, int(len(times) * 0.99))],
        "queries": float(r.headers.get("X-Kassa-Queries", "0")),
        "records": float(r.json()["meta"]["record_count"]),
    }


def measure_writes(client: httpx.Client, market: str, n: int) -> dict[str, float]:
    body = {
        "data": {
            "type": "orders",
            "attributes": {"customer_email": "bench@example.com"},
            "relationships": {"market": {"data": {"type": "markets", "id": market}}},
        }
    }
    times = []
    for _ in range(n):
        start = time.perf_counter()
        r = client.post("/api/orders", json=body)
        times.append((time.perf_counter() - start) * 1000)
        assert r.status_code == 201, r.text
    times.sort()
    return {
        "p50": statistics.median(times),
        "p99": times[min(len(times) - 1, int(len(times) * 0.99))],
        "queries": float(r.headers.get("X-Kassa-Queries", "0")),
        "records": 0.0,
    }


HEADERS = {"Accept": "application/vnd.api+json", "Content-Type": "application/vnd.api+json"}


@dataclass
class Target:
    """One database and its ``kassa serve`` worker: a backend, a schema revision, a size."""

    backend: str
    revision: str
    size: int
    url: str = ""
    keep: bool = False
    data_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kassa-scale-")))
    creds: dict[str, Any] = field(default_factory=dict)
    server: Server | None = None
    seconds_to_seed: float = 0.0
    order_indexes: int = 0

    @property
    def name(self) -> str:
        return f"{self.backend}/{self.revision}/{self.size}"

    def prepare(self) -> None:
        """Database, migrations up to the revision, organization, seed, server."""
        if not self.url:
            self.url = (
                create_postgres_database()
                if self.backend == "postgres"
                else f"sqlite+aiosqlite:///{self.data_dir / 'kassa.sqlite3'}"
            )
        command.upgrade(alembic_config(self.url), self.revision)
        self.order_indexes = asyncio.run(_count_indexes(self.url, "orders"))
        settings = Settings(database_url=self.url)
        # An existing organization is reused (its integration secret is rotated).
        self.creds = asyncio.run(init_organization(settings, "scale-shop", "Scale Shop"))
        if self.size:
            started = time.monotonic()
            try:
                asyncio.run(seed(settings, self.creds["organization_id"], "test", self.size))
            except SeedError as exc:
                if not self.keep:
                    raise
                print(f"{self.name}: reusing the seeded database ({exc})", flush=True)
            else:
                self.seconds_to_seed = time.monotonic() - started
                print(f"{self.name}: seeded in {self.seconds_to_seed:.0f} s", flush=True)
        self.server = start_server(self.url, self.data_dir)

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
        if self.backend == "postgres" and self.url and not self.keep:
            drop_postgres_database(self.url)


async def _count_indexes(url: str, table: str) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            found = await conn.run_sync(lambda c: sa.inspect(c).get_indexes(table))
    finally:
        await engine.dispose()
    return len(found)


def start_server(url: str, data_dir: Path) -> Server:
    """One ``kassa serve`` worker on the database as it is (no ``kassa migrate``: a target
    may be at an older revision on purpose)."""
    server = Server("bench", url, f"http://127.0.0.1:{free_port()}", data_dir)
    env = {
        **os.environ,
        "KASSA_DATABASE_URL": url,
        "KASSA_DATA_DIR": str(data_dir),
        "KASSA_QUERY_COUNT_HEADER": "1",
    }
    log = open(data_dir / "server.log", "ab")  # noqa: SIM115
    cmd = [sys.executable, "-m", "kassa", "serve", "--port", server.base_url.rsplit(":", 1)[1]]
    server.process = subprocess.Popen(
        [*cmd, "--workers", "1", "--log-level", "warning"], env=env, stdout=log, stderr=log
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.process.poll() is None:
        try:
            if httpx.get(server.base_url + "/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"server did not start; see {data_dir / 'server.log'}")


def measure_lists(target: Target, requests: int) -> dict[str, dict[str, float]]:
    assert target.server is not None
    base = target.server.base_url
    creds = target.creds
    admin_token = token_for(
        base,
        {
            "grant_type": "client_credentials",
            "client_id": creds["integration_client_id"],
            "client_secret": creds["integration_client_secret"],
        },
    )
    admin = httpx.Client(
        base_url=base, headers={**HEADERS, "Authorization": f"Bearer {admin_token}"}, timeout=60
    )
    whale = admin.get("/api/customers", params={"filter[q][email_eq]": "whale@example.com"})
    whale_id = whale.json()["data"][0]["id"]
    patch = {
        "data": {"type": "customers", "id": whale_id, "attributes": {"password": "bench-pw-1"}}
    }
    assert admin.patch(f"/api/customers/{whale_id}", json=patch).status_code == 200
    market = admin.get("/api/markets").json()["data"][0]  # the seeded one, oldest
    customer_token = token_for(
        base,
        {
            "grant_type": "password",
            "client_id": creds["sales_channel_client_id"],
            "username": "whale@example.com",
            "password": "bench-pw-1",
            "scope": f"market:code:{market['attributes']['code']}",
        },
    )
    clients = {
        "admin": admin,
        "whale": httpx.Client(
            base_url=base,
            headers={**HEADERS, "Authorization": f"Bearer {customer_token}"},
            timeout=60,
        ),
    }
    deep = asyncio.run(_deep_cursor(target.url, creds["organization_id"]))
    out: dict[str, dict[str, float]] = {}
    for name, (path, params, who) in cases(target.size, deep).items():
        out[name] = measure(clients[who], path, params, requests)
        print(f"  {target.size:>9,} {name:<13} {out[name]}", flush=True)
    out["create"] = measure_writes(admin, market["id"], max(requests // 4, 20))
    print(f"  {target.size:>9,} create        {out['create']}", flush=True)
    return out


# --- checkout --------------------------------------------------------------------------------

STEPS = (
    "POST orders",
    "POST line_items",
    "POST addresses",
    "PATCH billing address, shipping same",
    "PATCH payment method",
    "POST external_payments",
    "PATCH _place",
)


def _doc(
    type_: str, attributes: dict[str, Any], rels: dict[str, tuple[str, str]], id_: str = ""
) -> dict[str, Any]:
    data: dict[str, Any] = {"type": type_, "attributes": attributes}
    if id_:
        data["id"] = id_
    if rels:
        data["relationships"] = {k: {"data": {"type": t, "id": i}} for k, (t, i) in rels.items()}
    return {"data": data}


def checkout_shop(target: Target, processor: ProcessorServer) -> tuple[Shop, Client]:
    """A market with a SKU, stock, and an external gateway on the reference processor, built
    through the API in the target's organization (next to the seeded one), and a customer."""
    assert target.server is not None
    if target.keep:  # a reused database may hold the SKU of an earlier run: rename it
        admin = Client(
            target.server.base_url,
            token_for(
                target.server.base_url,
                {
                    "grant_type": "client_credentials",
                    "client_id": target.creds["integration_client_id"],
                    "client_secret": target.creds["integration_client_secret"],
                },
            ),
        )
        for sku in admin.get("/api/skus", **{"filter[q][code_eq]": "TSHIRT-XL"}).json()["data"]:
            renamed = {"code": "TSHIRT-XL-" + secrets.token_hex(3)}
            assert admin.update("skus", sku["id"], renamed).status_code == 200
    shop = Shop.build(target.server, processor, "bench-" + secrets.token_hex(4), creds=target.creds)
    stock = {"quantity": 10_000_000}
    assert shop.admin.update("stock_items", shop.ids["stock_item"], stock).status_code == 200
    _, customer = shop.customer(f"checkout-{secrets.token_hex(3)}@example.com")
    return shop, customer


def checkout(shop: Shop, client: Client) -> list[tuple[float, int]]:
    """One checkout; (milliseconds, SQL statements) for each of :data:`STEPS`."""
    steps: list[tuple[float, int]] = []

    def timed(call: Callable[[], httpx.Response], status: int) -> dict[str, Any]:
        start = time.perf_counter()
        r = call()
        steps.append(((time.perf_counter() - start) * 1000, int(r.headers["X-Kassa-Queries"])))
        assert r.status_code == status, r.text
        return dict(r.json())

    oid = timed(lambda: client.post("/api/orders", _doc("orders", {}, {})), 201)["data"]["id"]
    order = ("orders", oid)
    line = _doc("line_items", {"sku_code": "TSHIRT-XL", "quantity": 1}, {"order": order})
    timed(lambda: client.post("/api/line_items", line), 201)
    address = timed(lambda: client.post("/api/addresses", _doc("addresses", ADDRESS, {})), 201)
    billing = _doc(
        "orders",
        {"_shipping_address_same_as_billing": True},
        {"billing_address": ("addresses", address["data"]["id"])},
        oid,
    )
    timed(lambda: client.patch(f"/api/orders/{oid}", billing), 200)
    method = ("payment_methods", shop.ids["payment_method"])
    pay = _doc("orders", {}, {"payment_method": method}, oid)
    timed(lambda: client.patch(f"/api/orders/{oid}", pay), 200)
    source = _doc("external_payments", {"payment_source_token": "tok_bench"}, {"order": order})
    timed(lambda: client.post("/api/external_payments", source), 201)
    place = _doc("orders", {"_place": True}, {}, oid)
    placed = timed(lambda: client.patch(f"/api/orders/{oid}", place), 200)
    attributes = placed["data"]["attributes"]
    assert (attributes["status"], attributes["payment_status"]) == ("placed", "authorized")
    return steps


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def measure_checkouts(
    shops: dict[str, tuple[Shop, Client]], flows: int
) -> dict[str, dict[str, float]]:
    """``flows`` checkouts per target after a warm-up, interleaved round robin."""
    names = list(shops)
    for _ in range(max(flows // 10, 5)):
        for name in names:
            checkout(*shops[name])
    samples: dict[str, list[list[tuple[float, int]]]] = {name: [] for name in names}
    for i in range(flows):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            samples[name].append(checkout(*shops[name]))
    out: dict[str, dict[str, float]] = {}
    for name, runs in samples.items():
        totals = [sum(ms for ms, _ in run) for run in runs]
        places = [run[-1][0] for run in runs]
        statements = [sum(q for _, q in run) for run in runs]
        place_statements = [run[-1][1] for run in runs]
        out[name] = {
            "flow_p50": statistics.median(totals),
            "flow_p99": _p(totals, 0.99),
            "place_p50": statistics.median(places),
            "place_p99": _p(places, 0.99),
            "place_queries": statistics.median(place_statements),
            "place_queries_max": float(max(place_statements)),
            "flow_queries": statistics.median(statements),
        }
        for k in range(len(STEPS)):
            out[name][f"step{k}_p50"] = statistics.median(run[k][0] for run in runs)
            out[name][f"step{k}_queries"] = statistics.median(run[k][1] for run in runs)
        print(f"  checkout {name}: {out[name]}", flush=True)
    return out


# --- tables ----------------------------------------------------------------------------------


def size_label(size: int) -> str:
    if size == 0:
        return "0"
    return f"{size // 1_000_000} M" if size >= 1_000_000 else f"{size // 1000} k"


def machine() -> str:
    return f"{os.cpu_count()} cores ({platform.machine()}, {platform.system()})"


def table(results: dict[int, dict[str, dict[str, float]]], requests: int) -> str:
    sizes = sorted(results)
    head = "| list (integration unless noted) |"
    rule = "| --- |"
    for size in sizes:
        label = size_label(size)
        head += f" p50 at {label} | p99 at {label} |"
        rule += " ---: | ---: |"
    head += " p99 before, 1 M / 100 k |"
    rule += " ---: |"
    lines = [head, rule]
    for name, label in LABELS.items():
        row = f"| {label} |"
        for size in sizes:
            r = results[size].get(name)
            row += f" {r['p50']:.1f} | {r['p99']:.1f} |" if r else " – | – |"
        before = BEFORE.get(name)
        row += f" {before[0]:.0f} / {before[1]:.0f} |" if before else " – |"
        lines.append(row)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    return "\n".join(
        [
            f"Kassa scale benchmark, {stamp}: PostgreSQL, one worker, {requests} sequential "
            f"requests a case after a warm-up; {machine()}. Times in ms.",
            "",
            *lines,
            "",
        ]
    )


def checkout_table(targets: list[Target], results: dict[str, dict[str, float]], flows: int) -> str:
    lines = [
        "| database | schema (indexes on orders) | orders in the shop | flow p50 | flow p99 "
        "| `_place` p50 | `_place` p99 | statements: `_place` / flow |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for t in targets:
        r = results[t.name]
        lines.append(
            f"| {'PostgreSQL' if t.backend == 'postgres' else 'SQLite'} "
            f"| {t.revision} ({t.order_indexes}) "
            f"| {size_label(t.size)} | {r['flow_p50']:.1f} | {r['flow_p99']:.1f} "
            f"| {r['place_p50']:.1f} | {r['place_p99']:.1f} "
            f"| {r['place_queries']:.0f} / {r['flow_queries']:.0f} |"
        )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    return "\n".join(
        [
            f"Checkout, {stamp}: a logged-in customer's checkout, {len(STEPS)} requests "
            f"({', '.join(STEPS)}); one worker per database, {flows} flows each after a "
            f"warm-up, interleaved across the rows; {machine()}. Times in ms.",
            "",
            *lines,
            "",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="0,10000,100000,1000000")
    parser.add_argument("--requests", type=int, default=200, help="requests per list case")
    parser.add_argument("--flows", type=int, default=200, help="checkouts per target")
    parser.add_argument("--cases", default="lists,checkout")
    parser.add_argument("--revisions", default="head", help="schema revisions, comma-separated")
    parser.add_argument("--backends", default="postgres", help="postgres and/or sqlite")
    parser.add_argument(
        "--database",
        action="append",
        default=[],
        metavar="SIZE=URL",
        help="reuse (and keep) this database, seeded or to be seeded, for SIZE",
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "scale-postgres.md"
    )
    args = parser.parse_args()
    wanted = set(args.cases.split(","))
    given = {int(k): v for k, v in (d.split("=", 1) for d in args.database)}
    targets = [
        Target(backend, revision, size, url=given.get(size, ""), keep=size in given)
        for backend in args.backends.split(",")
        for revision in args.revisions.split(",")
        for size in (int(s) for s in args.sizes.split(","))
    ]
    lists: dict[int, dict[str, dict[str, float]]] = {}
    parts: list[str] = []
    processor = ProcessorServer().start()
    try:
        for target in targets:
            target.prepare()
            at_head = target.backend == "postgres" and target.revision == "head"
            if "lists" in wanted and target.size and at_head:
                lists[target.size] = measure_lists(target, args.requests)
        if lists:
            parts.append(table(lists, args.requests))
        if "checkout" in wanted:
            shops = {t.name: checkout_shop(t, processor) for t in targets}
            parts.append(checkout_table(targets, measure_checkouts(shops, args.flows), args.flows))
    finally:
        for target in targets:
            target.close()
        processor.stop()
    text = "\n".join(parts)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
