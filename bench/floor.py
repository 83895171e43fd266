"""How far the retrieve's target is from what this stack can do at all.

Usage: ``python bench/floor.py [--duration 8] [--connections 32]``.

On SQLite, one worker: it builds the benchmark shop with ``kassa serve``, captures the
retrieve (``GET /api/orders/:id?include=line_items,available_customer_payment_sources`` as the
customer) and measures it with wrk. Then, with Kassa stopped, it serves ``bench/floor_app.py``
on the same database file under the same uvicorn settings: the bare endpoint with Kassa's
bytes, and the floor, the least work any server written on this stack does for that request
(see that module). Both go through wrk with the same settings. Writes
``bench/results/floor.md``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import free_port  # noqa: E402

from bench.reads import capture, start_baseline, wrk  # noqa: E402
from bench.run import build_shop, drop_database, machine, new_server, start_processor  # noqa: E402
from bench.scenarios import JSONAPI, reads  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    server = new_server("sqlite", "kassa-floor")
    processor = start_processor()
    floor_app = None
    try:
        server.start(workers=1)
        print("== building the shop", flush=True)
        shop = build_shop(server, processor, 1)
        read = reads(shop.order_id)[0]
        token = shop.tokens["customer"]
        captures = server.data_dir / "captures"
        captures.mkdir()
        cap = capture(server.base_url, read, token, captures)

        def timed(url: str) -> float:
            wrk(url, token, args.warmup, args.connections)
            return wrk(url, token, args.duration, args.connections).rps

        print("== Kassa", flush=True)
        kassa = timed(server.base_url + cap.url_path)
        server.stop()
        port = free_port()
        env = {
            "KASSA_FLOOR_DATABASE": server.database_url.split("///", 1)[1],
            "KASSA_FLOOR_BASE_URL": server.base_url,
        }
        floor_app = start_baseline(port, 1, captures, "bench.floor_app:build_app", env)
        base = f"http://127.0.0.1:{port}"
        floor_path = f"/floor/orders/{shop.order_id}?" + urlencode(read.params)
        r = httpx.get(
            base + floor_path, headers={"Authorization": f"Bearer {token}", "Accept": JSONAPI}
        )
        if r.status_code != 200:
            raise RuntimeError(f"the floor endpoint answered {r.status_code}: {r.text[:300]}")
        floor_bytes = len(r.content)
        print("== the bare endpoint and the floor", flush=True)
        bare = timed(base + cap.url_path)
        floor = timed(base + floor_path)
    finally:
        if floor_app is not None:
            floor_app.terminate()
            floor_app.wait(10)
        server.stop()
        processor.process.terminate()
        drop_database(server)
    text = "\n".join(
        [
            "# The retrieve against its floor",
            "",
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}. SQLite, one uvicorn "
            f"worker each, wrk -t2 -c{args.connections}, "
            f"{args.duration:.0f} s after a {args.warmup:.0f} s warm-up, one after the other.",
            "",
            "| endpoint | bytes | req/s | ratio to bare |",
            "| --- | ---: | ---: | ---: |",
            f"| bare: Kassa's bytes, served as they are | {len(cap.body)} | {bare:.0f} | 1.000 |",
            f"| floor: token look-up, 4 hand-written statements, a document from the rows "
            f"| {floor_bytes} | {floor:.0f} | {floor / bare:.3f} |",
            f"| Kassa | {len(cap.body)} | {kassa:.0f} | {kassa / bare:.3f} |",
            "",
        ]
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "floor.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
