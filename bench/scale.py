"""Lists on a big shop: the cases of the scale benchmark at several sizes, on PostgreSQL.

Usage: ``python bench/scale.py [--sizes 10000,100000,1000000] [--requests 200]``.

For each size: a fresh PostgreSQL database, ``kassa migrate``, the shop of ``kassa seed``
(loaded in-process by :func:`kassa.seed.seed`), one ``kassa serve`` worker, then every case
as sequential requests on one keep-alive connection (after a warm-up). Writes a Markdown
table of p50/p99 latencies to ``bench/results/scale-postgres.md``, with the figures measured
before this work (the ``before`` column, from the issue that asked for it) beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import (  # noqa: E402
    Server,
    create_postgres_database,
    drop_postgres_database,
    free_port,
    token_for,
)

from kassa.bootstrap import init_organization  # noqa: E402
from kassa.engine.keyset import cursor_for  # noqa: E402
from kassa.resources.registry import build_registry  # noqa: E402
from kassa.seed import seed  # noqa: E402
from kassa.settings import Settings  # noqa: E402

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


def run_size(size: int, requests: int) -> dict[str, dict[str, float]]:
    url = create_postgres_database()
    data_dir = Path(tempfile.mkdtemp(prefix="kassa-scale-"))
    env = {"KASSA_DATABASE_URL": url, "KASSA_DATA_DIR": str(data_dir)}
    server = Server("postgres", url, f"http://127.0.0.1:{free_port()}", data_dir)
    server.env = {**env, "KASSA_QUERY_COUNT_HEADER": "1"}
    try:
        subprocess.run(
            [sys.executable, "-m", "kassa", "migrate"], env={**os.environ, **env}, check=True
        )
        settings = Settings(database_url=url)
        creds = asyncio.run(init_organization(settings, "scale-shop", "Scale Shop"))
        org = creds["organization_id"]
        started = time.monotonic()
        asyncio.run(seed(settings, org, "test", size))
        print(f"seeded {size:,} orders in {time.monotonic() - started:.0f} s", flush=True)
        server.start(workers=1)
        base = server.base_url
        admin_token = token_for(
            base,
            {
                "grant_type": "client_credentials",
                "client_id": creds["integration_client_id"],
                "client_secret": creds["integration_client_secret"],
            },
        )
        headers = {"Accept": "application/vnd.api+json", "Content-Type": "application/vnd.api+json"}
        admin = httpx.Client(
            base_url=base, headers={**headers, "Authorization": f"Bearer {admin_token}"}, timeout=60
        )
        whale = admin.get("/api/customers", params={"filter[q][email_eq]": "whale@example.com"})
        whale_id = whale.json()["data"][0]["id"]
        patch = {
            "data": {"type": "customers", "id": whale_id, "attributes": {"password": "bench-pw-1"}}
        }
        assert admin.patch(f"/api/customers/{whale_id}", json=patch).status_code == 200
        market = admin.get("/api/markets").json()["data"][0]
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
                headers={**headers, "Authorization": f"Bearer {customer_token}"},
                timeout=60,
            ),
        }
        deep = asyncio.run(_deep_cursor(url, org))
        out: dict[str, dict[str, float]] = {}
        for name, (path, params, who) in cases(size, deep).items():
            out[name] = measure(clients[who], path, params, requests)
            print(f"  {size:>9,} {name:<13} {out[name]}", flush=True)
        out["create"] = measure_writes(admin, market["id"], max(requests // 4, 20))
        print(f"  {size:>9,} create        {out['create']}", flush=True)
        return out
    finally:
        server.stop()
        drop_postgres_database(url)


def table(results: dict[int, dict[str, dict[str, float]]], requests: int) -> str:
    sizes = sorted(results)
    head = "| list (integration unless noted) |"
    rule = "| --- |"
    for size in sizes:
        label = f"{size // 1_000_000} M" if size >= 1_000_000 else f"{size // 1000} k"
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
            f"requests a case after a warm-up; {os.cpu_count()} cores ({platform.machine()}, "
            f"{platform.system()}). Times in ms.",
            "",
            *lines,
            "",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    results = {}
    for size in (int(s) for s in args.sizes.split(",")):
        results[size] = run_size(size, args.requests)
    text = table(results, args.requests)
    out = ROOT / "bench" / "results" / "scale-postgres.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
