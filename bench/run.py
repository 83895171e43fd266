"""Throughput of Kassa's hot read paths, as ratios to a bare Starlette endpoint.

Usage: ``python bench/run.py [--duration 10] [--connections 32] [--backend sqlite|postgres]``.
Needs ``wrk`` (Debian/Ubuntu: ``apt-get install wrk``). Starts its own servers on loopback,
builds a small shop through the API, runs wrk against each endpoint and writes a Markdown
table to ``bench/results/latest.md``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.shop import Shop  # noqa: E402
from tests.support import (  # noqa: E402
    Server,
    create_postgres_database,
    drop_postgres_database,
    free_port,
)

from kassa.fake_processor import ProcessorServer  # noqa: E402


def start_baseline(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.baseline_app:build_app",
            "--factory",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
    )
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("baseline did not start")


def wrk(url: str, token: str | None, duration: int, connections: int) -> dict[str, float]:
    cmd = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "-H",
        "Accept: application/vnd.api+json",
    ]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def latency(pct: str) -> float:
        m = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out)
        assert m, out
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{url}: {non2xx.group(1)} error responses\n{out}")
    return {"rps": rps, "p50": latency("50"), "p99": latency("99")}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    data_dir = Path(tempfile.mkdtemp(prefix="kassa-bench-"))
    url = (
        create_postgres_database()
        if args.backend == "postgres"
        else f"sqlite+aiosqlite:///{data_dir / 'kassa.sqlite3'}"
    )
    server = Server(args.backend, url, f"http://127.0.0.1:{free_port()}", data_dir)
    server.env = {"KASSA_DATABASE_URL": url, "KASSA_DATA_DIR": str(data_dir)}
    server.start(workers=args.workers)
    base_port = free_port()
    baseline = start_baseline(base_port)
    rows: list[tuple[str, dict[str, float]]] = []
    try:
        with ProcessorServer() as processor:
            shop = Shop.build(server, processor, account="bench")
            for n in range(24):
                shop.admin.create(
                    "skus",
                    {"code": f"SKU-{n:03d}", "name": f"Item {n}", "do_not_track": True},
                    {"shipping_category": ("shipping_categories", shop.ids["shipping_category"])},
                )
                shop.admin.create(
                    "prices",
                    {"amount_cents": 1000 + n, "sku_code": f"SKU-{n:03d}"},
                    {"price_list": ("price_lists", shop.ids["price_list"])},
                )
            guest = shop.guest()
            _, customer = shop.customer()
            oid = shop.cart(customer)
            shop.place(customer, oid)
            customer.update("orders", oid, {"_save_payment_source_to_customer_wallet": True})
            base = server.base_url
            cases = [
                ("bare Starlette endpoint (baseline)", f"http://127.0.0.1:{base_port}/ping", None),
                ("GET /api/skus (guest, 10 per page)", f"{base}/api/skus", guest.token),
                (
                    "GET /api/skus?include=prices&page[size]=25",
                    f"{base}/api/skus?include=prices&page%5Bsize%5D=25",
                    guest.token,
                ),
                (
                    "GET /api/orders/:id?include=line_items,available_customer_payment_sources",
                    f"{base}/api/orders/{oid}?include=line_items,available_customer_payment_sources",
                    customer.token,
                ),
                (
                    "GET /api/customer_payment_sources (customer)",
                    f"{base}/api/customer_payment_sources",
                    customer.token,
                ),
            ]
            for name, target, token in cases:
                wrk(target, token, 2, args.connections)  # warm-up
                rows.append((name, wrk(target, token, args.duration, args.connections)))
    finally:
        baseline.terminate()
        server.stop()
        if args.backend == "postgres":
            drop_postgres_database(url)
    base_rps = rows[0][1]["rps"]
    lines = [
        f"Backend: {args.backend}, workers: {args.workers}, wrk -t2 -c{args.connections} "
        f"-d{args.duration}s, {os.cpu_count()} cores.",
        "",
        "| endpoint | req/s | ratio to baseline | p50 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, r in rows:
        lines.append(
            f"| {name} | {r['rps']:.0f} | {r['rps'] / base_rps:.2f} | "
            f"{r['p50']:.2f} | {r['p99']:.2f} |"
        )
    text = "\n".join(lines) + "\n"
    out = ROOT / "bench" / "results" / f"latest-{args.backend}.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
