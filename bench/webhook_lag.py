"""Webhook delivery lag under the checkout load: commit of ``_place`` → receiver.

Usage: ``python bench/webhook_lag.py [--backends sqlite,postgres] [--duration 10]
[--clients 8] [--workers 1] [--separate-worker SECONDS]``.

Per backend it starts ``kassa serve`` on a fresh database (its delivery worker inside, as in
the one-box setup), the reference processor, and a webhook receiver on loopback subscribed
to ``orders.place``; ``--clients`` customers then run the checkout flow over and over for
``--duration`` seconds. The lag of an event is the time from the outbox row's timestamp
(taken in the transaction of the placement, just before it commits) to the moment the
receiver has read the request. With ``--separate-worker`` the servers' workers are off and
one ``kassa worker`` process delivers instead, polling every SECONDS. Writes
``bench/results/webhook-lag.md`` (``webhook-lag-separate.md`` with a separate worker).
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.shop import Shop  # noqa: E402
from tests.support import free_port, postgres_reachable  # noqa: E402
from tests.webhooks.receiver import Receiver  # noqa: E402

from bench import load  # noqa: E402
from bench.run import drop_database, new_server, start_processor  # noqa: E402
from bench.scenarios import checkout_flow  # noqa: E402
from kassa.store.migrate import run_on  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def _created_at(url: str) -> dict[str, datetime]:
    """Each ``orders.place`` event's outbox timestamp, by event id."""

    def read(conn: sa.Connection) -> dict[str, datetime]:
        sql = "SELECT event_id, created_at FROM webhook_events WHERE topic = 'orders.place'"
        out: dict[str, datetime] = {}
        for event_id, created in conn.execute(sa.text(sql)):
            out[event_id] = datetime.fromisoformat(created) if isinstance(created, str) else created
        return out

    return run_on(url, read)


def run_backend(
    backend: str, duration: float, clients: int, workers: int, poll: float | None
) -> dict[str, object]:
    server = new_server(backend, "kassa-webhook-lag")
    url, data_dir = server.database_url, server.data_dir
    processor = start_processor()
    receiver = RemoteReceiver(data_dir)
    delivery: subprocess.Popen[bytes] | None = None
    try:
        if poll is None:
            server.start(workers=workers)
        else:
            server.start(workers=workers, extra_env={"KASSA_WEBHOOK_WORKER": "0"})
            env = {**os.environ, **server.env, "KASSA_WEBHOOK_POLL_INTERVAL": str(poll)}
            log = (data_dir / "worker.log").open("ab")
            delivery = subprocess.Popen(
                [sys.executable, "-m", "kassa", "worker"], env=env, stdout=log, stderr=log
            )
        shop = Shop.build(server, processor, account="lag-" + secrets.token_hex(3))  # type: ignore[arg-type]
        r = shop.admin.update("stock_items", shop.ids["stock_item"], {"quantity": 100_000_000})
        assert r.status_code == 200, r.text
        attrs = {"name": "lag", "topic": "orders.place", "callback_url": receiver.url}
        shop.admin.create("webhooks", attrs)
        tokens = [shop.customer()[1].token or "" for _ in range(clients)]
        method = shop.ids["payment_method"]
        idle = _idle_lag(shop)
        print(f"== {backend}: {clients} clients, checkout for {duration:.0f} s", flush=True)
        result = load.run_flows(
            "checkout",
            server.base_url,
            tokens,
            lambda: checkout_flow(method, "TSHIRT-XL"),
            1,
            duration,
        )
        deadline = time.time() + 60
        placed_total = None
        while time.time() < deadline:
            hits = receiver.hits()
            total = _count_events(url)
            if total and len(hits) >= total:
                placed_total = total
                break
            time.sleep(0.2)
        hits = receiver.hits()
        created = _created_at(url)
        lags = sorted(
            (at - created[event_id].replace(tzinfo=UTC).timestamp()) * 1000
            for event_id, at in hits
            if event_id in created
        )
        ids = [event_id for event_id, _at in hits]
        return {
            "backend": backend,
            "workers": workers,
            "delivery": "inside `kassa serve`"
            if poll is None
            else f"`kassa worker`, {poll} s poll",
            "flows": result.flows,
            "flows_per_s": result.rate,
            "events": len(lags),
            "expected": placed_total if placed_total is not None else _count_events(url),
            "duplicates": len(ids) - len(set(ids)),
            "p50": load.percentile(lags, 0.50) if lags else float("nan"),
            "p99": load.percentile(lags, 0.99) if lags else float("nan"),
            "max": lags[-1] if lags else float("nan"),
            "flow_p50": load.percentile(result.flow_ms, 0.50) if result.flow_ms else float("nan"),
            "idle_p50": load.percentile(idle, 0.50),
            "idle_p99": load.percentile(idle, 0.99),
        }
    finally:
        if delivery is not None:
            delivery.terminate()
            delivery.wait(10)
        server.stop()
        receiver.close()
        processor.process.terminate()
        drop_database(server)


class RemoteReceiver:
    """The receiver in a process of its own (the load generator's threads would slow it):
    it appends ``<event id> <unix time read>`` for every request to a file."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.log = data_dir / "received.txt"
        cmd = [sys.executable, __file__, "--serve-receiver", str(self.port), str(self.log)]
        self.process = subprocess.Popen(cmd)
        deadline = time.time() + 20
        while not self.log.exists() and time.time() < deadline:
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def hits(self) -> list[tuple[str, float]]:
        out = []
        for line in self.log.read_text().splitlines():
            event_id, _, at = line.partition(" ")
            if at:
                out.append((event_id, float(at)))
        return out

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def serve_receiver(port: int, log: Path) -> None:
    receiver = Receiver(port=port)
    written = 0
    with log.open("a") as out:
        while True:
            hits = receiver.all_hits()
            for hit in hits[written:]:
                out.write(f"{hit.event_id} {hit.at:.6f}\n")
            written = len(hits)
            out.flush()
            time.sleep(0.05)


def _idle_lag(shop: Shop, count: int = 30) -> list[float]:
    """At rest: one ``customers.create`` at a time, from the API's answer to the receiver."""
    receiver = Receiver()
    try:
        shop.admin.create("webhooks", {"topic": "customers.create", "callback_url": receiver.url})
        lags = []
        for i in range(count):
            shop.admin.create(
                "customers", {"email": f"idle-{i}-{secrets.token_hex(3)}@example.com"}
            )
            answered = time.time()
            hits = receiver.wait(i + 1, timeout=10)
            lags.append((hits[-1].at - answered) * 1000)
        return sorted(lags)
    finally:
        receiver.close()


def _count_events(url: str) -> int:
    return len(_created_at(url))


def report(rows: list[dict[str, object]], clients: int, duration: float) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Webhook delivery lag",
        "",
        f"{stamp}, {platform.system()} {platform.machine()}, {clients} checkout clients for "
        f"{duration:.0f} s, a webhook on `orders.place` to a receiver on loopback. Lag: the "
        "outbox row's timestamp (in the placing transaction) to the receiver having read the "
        "request, in ms. At rest: 30 single "
        "`customers.create` events one after the other with no load, measured from the API's "
        "answer (the commit is just before it) to the receiver.",
        "",
        "| backend | server processes | delivery | checkouts | checkouts/s "
        "| events delivered / recorded | duplicates | lag p50 | lag p99 | lag max "
        "| at rest: p50 | at rest: p99 |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['backend']} | {r['workers']} | {r['delivery']} | {r['flows']} "
            f"| {r['flows_per_s']:.1f} "
            f"| {r['events']} / {r['expected']} | {r['duplicates']} | {r['p50']:.1f} "
            f"| {r['p99']:.1f} | {r['max']:.1f} | {r['idle_p50']:.1f} | {r['idle_p99']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = "sqlite,postgres" if postgres_reachable() else "sqlite"
    parser.add_argument("--backends", default=default)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--separate-worker",
        type=float,
        metavar="SECONDS",
        help="deliver from one `kassa worker` process polling every SECONDS instead",
    )
    parser.add_argument(
        "--serve-receiver", nargs=2, metavar=("PORT", "FILE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve_receiver:
        serve_receiver(int(args.serve_receiver[0]), Path(args.serve_receiver[1]))
        return 0
    rows = [
        run_backend(b, args.duration, args.clients, args.workers, args.separate_worker)
        for b in args.backends.split(",")
        if b
    ]
    text = report(rows, args.clients, args.duration)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "webhook-lag.md" if args.separate_worker is None else "webhook-lag-separate.md"
    (RESULTS / name).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
