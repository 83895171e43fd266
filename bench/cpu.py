"""CPU time the server spends per request and per flow, one client at a time.

Throughput on a shared 2-core machine moves with whatever else runs on it; the CPU time the
``kassa serve`` process itself uses per request moves much less (compare figures measured
one after the other). This script builds the bench
shop (as ``bench/run.py`` does), then sends each read ``--requests`` times and each flow
``--flows`` times, one after the other, and reads the server process's user and system time
from ``/proc/<pid>/stat`` before and after. To compare two versions of Kassa, run it with
each on ``PYTHONPATH`` (``PYTHONPATH=/path/to/other/checkout/src python bench/cpu.py``): the
server is started with ``python -m kassa`` in this environment.

Usage: ``python bench/cpu.py [--backends sqlite,postgres] [--requests 400] [--flows 40]``.
Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import (  # noqa: E402
    build_shop,
    drop_database,
    http_for,
    new_server,
    start_processor,
)
from bench.scenarios import FLOWS, reads, run_sync  # noqa: E402


def cpu_seconds(pid: int) -> float:
    """User plus system time of a process (its own, not its children's)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(backend: str, requests: int, flows: int) -> list[tuple[str, float]]:
    server = new_server(backend, "kassa-cpu")
    processor = start_processor()
    out: list[tuple[str, float]] = []
    try:
        server.start(workers=1)
        assert server.process is not None
        pid = server.process.pid
        shop = build_shop(server, processor, 1)
        time.sleep(6)  # past the first statistics refresh (SQLite), as a running server is
        for read in reads(shop.order_id):
            with http_for(server.base_url, shop.tokens[read.who]) as http:
                for _ in range(50):
                    http.get(read.path, params=read.params).raise_for_status()
                before = cpu_seconds(pid)
                for _ in range(requests):
                    http.get(read.path, params=read.params).raise_for_status()
                out.append((read.name, (cpu_seconds(pid) - before) * 1000 / requests))
        method = shop.shop.ids["payment_method"]
        for name, make in FLOWS.items():
            with http_for(server.base_url, shop.clients[0]) as http:
                for _ in range(3):
                    run_sync(make(method, "TSHIRT-XL"), http)
                before = cpu_seconds(pid)
                for _ in range(flows):
                    run_sync(make(method, "TSHIRT-XL"), http)
                out.append((name, (cpu_seconds(pid) - before) * 1000 / flows))
    finally:
        server.stop()
        processor.process.terminate()
        drop_database(server)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--requests", type=int, default=400, help="per read")
    parser.add_argument("--flows", type=int, default=40, help="per flow")
    args = parser.parse_args()
    print("| backend | scenario | server CPU ms per request (reads) or flow |")
    print("| --- | --- | ---: |")
    for backend in args.backends.split(","):
        for name, ms in measure(backend, args.requests, args.flows):
            print(f"| {backend} | {name} | {ms:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
