"""What users feel: Kassa's reads against a bare endpoint serving the same bytes, and the
checkout and wallet flows under concurrent clients. ``make bench`` runs it.

Usage: ``python bench/run.py [--backends sqlite,postgres] [--duration 5] [--warmup 1]
[--connections 32] [--clients 8] [--sqlite-workers 1] [--postgres-workers 2]
[--scenarios retrieve,skus,orders,checkout,wallet] [--profile]``.

Per backend it starts ``kassa serve`` on a fresh database (SQLite with one worker and
PostgreSQL, ``KASSA_TEST_POSTGRES_URL``, with two, by default), the reference processor on
loopback as the payment gateway, and builds a shop through the API. Then:

- reads: each scenario's answer is captured from Kassa and served by a bare Starlette app
  (``bench/baseline_app.py``) under the same uvicorn settings, at the same path; ``wrk``
  runs on both with the same request line and headers; the ratio is Kassa's requests per
  second over the bare endpoint's, measured in the same run;
- writes: ``--clients`` customers run the checkout flow, then the wallet story, over and
  over (``bench/load.py``): flows per second, and p50/p99 of the flow and of each step.

Every scenario also reports its SQL statements (the server's ``X-Kassa-Queries`` header).
``--profile`` records the server with py-spy during the retrieve and the checkout flow.
Needs ``wrk`` (Debian/Ubuntu: ``apt-get install wrk``). Writes
``bench/results/latest-<backend>.md`` and ``bench/results/latest.md`` (both backends).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    postgres_status,
)

from bench import load, profile, reads  # noqa: E402
from bench.report import backend_report, combined_report  # noqa: E402
from bench.scenarios import FLOWS, checkout_flow, run_sync  # noqa: E402
from bench.scenarios import reads as read_scenarios  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SKUS = 25  # the SKU list reads a full page of 25
PLACED = 25  # the order list reads a full page of 25 placed orders


@dataclass
class Processor:
    """The reference processor in its own process, so the load generator does not slow it."""

    url: str
    process: subprocess.Popen[bytes]


@dataclass
class BackendResult:
    backend: str
    workers: int
    reads: list[reads.ReadResult] = field(default_factory=list)
    writes: list[load.FlowResult] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)


def start_processor() -> Processor:
    port = free_port()
    cmd = [sys.executable, "-m", "kassa.fake_processor", "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--log-level", "warning"])
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            httpx.get(f"{url}/_accounts/none/calls", timeout=1)
            return Processor(url, proc)
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("the reference processor did not start")


def http_for(base_url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


@dataclass
class BenchShop:
    shop: Shop
    tokens: dict[str, str]  # customer (the reader), guest, integration
    clients: list[str]  # one customer token per concurrent client
    order_id: str  # the customer's placed order, its source saved to the wallet


def build_shop(server: Server, processor: Processor, clients: int) -> BenchShop:
    """The shop of the checkout spec, 25 priced SKUs, customers, 25 placed orders."""
    shop = Shop.build(server, processor, account="bench")  # type: ignore[arg-type]
    a = shop.admin
    r = a.update("stock_items", shop.ids["stock_item"], {"quantity": 100_000_000})
    assert r.status_code == 200, r.text
    for n in range(SKUS - 1):
        rel = {"shipping_category": ("shipping_categories", shop.ids["shipping_category"])}
        a.create("skus", {"code": f"SKU-{n:03d}", "name": f"Item {n}", "do_not_track": True}, rel)
        price = {"amount_cents": 1000 + n, "sku_code": f"SKU-{n:03d}"}
        a.create("prices", price, {"price_list": ("price_lists", shop.ids["price_list"])})
    reader = shop.customer()[1]
    assert reader.token
    customers = [shop.customer()[1].token or "" for _ in range(clients)]
    method = shop.ids["payment_method"]
    with http_for(server.base_url, reader.token) as http:
        done = run_sync(checkout_flow(method, "TSHIRT-XL"), http)
    oid = done[0][1].json()["data"]["id"]
    r = reader.update("orders", oid, {"_save_payment_source_to_customer_wallet": True})
    assert r.status_code == 200, r.text
    count = max(0, PLACED - 1)
    placed = load.run_count(
        server.base_url, customers, lambda: checkout_flow(method, "TSHIRT-XL"), count
    )
    if placed.errors:
        raise RuntimeError("building the shop failed: " + "; ".join(placed.errors[:3]))
    tokens = {
        "customer": reader.token,
        "guest": shop.guest().token or "",
        "integration": a.token or "",
    }
    return BenchShop(shop, tokens, customers, oid)


def server_env(url: str, data_dir: Path) -> dict[str, str]:
    return {
        "KASSA_DATABASE_URL": url,
        "KASSA_DATA_DIR": str(data_dir),
        "KASSA_QUERY_COUNT_HEADER": "1",
        # The shop logs in its customers from one address in a few seconds.
        "KASSA_LOGIN_ADDRESS_LIMIT": "10000",
        "KASSA_LOGIN_ACCOUNT_LIMIT": "10000",
    }


def new_server(backend: str, prefix: str) -> Server:
    """A not yet started ``kassa serve`` on a fresh database (a new PostgreSQL database, or a
    SQLite file in a new folder); drop it with :func:`drop_database`."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"{prefix}-{backend}-"))
    url = (
        create_postgres_database()
        if backend == "postgres"
        else f"sqlite+aiosqlite:///{data_dir / 'kassa.sqlite3'}"
    )
    server = Server(backend, url, f"http://127.0.0.1:{free_port()}", data_dir)
    server.env = server_env(url, data_dir)
    return server


def drop_database(server: Server) -> None:
    if server.backend == "postgres":
        drop_postgres_database(server.database_url)


def run_backend(args: argparse.Namespace, backend: str, workers: int) -> BackendResult:
    server = new_server(backend, "kassa-bench")
    result = BackendResult(backend, workers)
    processor = start_processor()
    baseline = None
    try:
        server.start(workers=workers)
        assert server.process is not None
        print(f"== {backend}, {workers} worker(s): building the shop", flush=True)
        bench = build_shop(server, processor, args.clients)
        wanted = set(args.scenarios.split(","))
        captures = server.data_dir / "captures"
        captures.mkdir()
        caps = [
            reads.capture(server.base_url, read, bench.tokens[read.who], captures)
            for read in read_scenarios(bench.order_id)
            if read.name in wanted
        ]
        port = free_port()
        baseline = reads.start_baseline(port, workers, captures)
        baseline_url = f"http://127.0.0.1:{port}"
        for cap in caps:
            reads.same_bytes(baseline_url, cap)
            recording = None
            if args.profile and cap.read.name == "retrieve":
                recording = _record(server, "retrieve", args.duration + 2 * args.warmup + 1)
            res = reads.measure(
                cap,
                server.base_url,
                baseline_url,
                bench.tokens[cap.read.who],
                args.warmup,
                args.duration,
                args.connections,
            )
            result.reads.append(res)
            print(
                f"   {cap.read.name:<9} {res.kassa.rps:8.0f} req/s  bare {res.baseline.rps:8.0f}"
                f"  ratio {res.ratio:.3f}  p99 {res.kassa.p99:.1f} ms  {res.statements} statements"
                f"  {res.size} bytes",
                flush=True,
            )
            if recording:
                result.profiles.append(_finish_profile(*recording, f"{backend}: {cap.read.label}"))
        baseline.terminate()
        baseline.wait(10)
        baseline = None
        method = bench.shop.ids["payment_method"]
        for name, make in FLOWS.items():
            if name not in wanted:
                continue
            recording = None
            if args.profile and name == "checkout":
                recording = _record(server, "checkout", args.duration + args.warmup)
            flows = load.run_flows(
                name,
                server.base_url,
                bench.clients,
                lambda make=make: make(method, "TSHIRT-XL"),  # type: ignore[misc]
                args.warmup,
                args.duration,
            )
            result.writes.append(flows)
            p50, p99 = load.percentile(flows.flow_ms, 0.5), load.percentile(flows.flow_ms, 0.99)
            print(
                f"   {name:<9} {flows.rate:8.1f} flows/s  p50 {p50:.0f} ms  p99 {p99:.0f} ms"
                f"  {flows.statements} statements  {len(flows.errors)} errors",
                flush=True,
            )
            for error in flows.errors[:5]:
                print(f"     error: {error}", flush=True)
            if recording:
                result.profiles.append(_finish_profile(*recording, f"{backend}: the checkout flow"))
    finally:
        if baseline is not None:
            baseline.terminate()
        server.stop()
        processor.process.terminate()
        drop_database(server)
        shutil.rmtree(server.data_dir, ignore_errors=True)
    return result


def _record(server: Server, scenario: str, seconds: float) -> tuple[Path, subprocess.Popen[bytes]]:
    """py-spy on the server (and its workers) for a scenario; collapsed stacks in /tmp."""
    assert server.process is not None
    raw = Path(tempfile.gettempdir()) / f"kassa-bench-{server.backend}-{scenario}.stacks"
    return raw, profile.start(server.process.pid, raw, seconds)


def _finish_profile(raw: Path, recording: subprocess.Popen[bytes], title: str) -> str:
    """The summary, also written to ``bench/results/profile-<backend>-<scenario>.md``; the
    stacks are kept (for a flame graph) only with ``KASSA_BENCH_KEEP_RAW=1``."""
    _, err = recording.communicate(timeout=120)
    if recording.returncode != 0 or not raw.exists():
        return f"### {title}\n\npy-spy failed: {err.decode(errors='replace')[-500:]}\n"
    text = profile.summary(raw, title)
    (RESULTS / raw.name.replace("kassa-bench-", "profile-")).with_suffix(".md").write_text(text)
    if os.environ.get("KASSA_BENCH_KEEP_RAW"):
        print(f"   collapsed stacks kept in {raw}", flush=True)
    else:
        raw.unlink()
    return text


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load_avg = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.machine()}, load {load_avg}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per scenario")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before each")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--clients", type=int, default=8, help="concurrent write clients")
    parser.add_argument("--sqlite-workers", type=int, default=1)
    parser.add_argument("--postgres-workers", type=int, default=2)
    parser.add_argument("--scenarios", default="retrieve,skus,orders,checkout,wallet")
    parser.add_argument("--profile", action="store_true", help="py-spy the retrieve and checkout")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    started = datetime.now(UTC)
    RESULTS.mkdir(exist_ok=True)
    results = []
    skipped = 0
    for backend in args.backends.split(","):
        workers = args.postgres_workers if backend == "postgres" else args.sqlite_workers
        if backend == "postgres":
            ok, why = postgres_status()
            if not ok:
                print(f"== postgres skipped: {why} (KASSA_TEST_POSTGRES_URL)", file=sys.stderr)
                skipped += 1
                continue
        result = run_backend(args, backend, workers)
        results.append(result)
        text = backend_report(result, args, started, machine())
        (RESULTS / f"latest-{backend}.md").write_text(text)
    combined = combined_report(results, args, started, machine())
    (RESULTS / "latest.md").write_text(combined)
    print()
    print(combined)
    return 1 if skipped else 0


if __name__ == "__main__":
    raise SystemExit(main())
