"""CPU time the server spends per request and per flow, one client at a time.

Throughput on a shared 2-core machine moves with whatever else runs on it; the CPU time the
``kassa serve`` process itself uses per request moves much less (compare figures measured
one after the other). This script builds the bench
shop (as ``bench/run.py`` does), then sends each read ``--requests`` times and each flow
``--flows`` times, one after the other, and reads the server process's user and system time
from ``/proc/<pid>/stat`` before and after. To compare two versions of Kassa, run it with
each on ``PYTHONPATH`` (``PYTHONPATH=/path/to/other/checkout/src python bench/cpu.py``): the
server is started with ``python -m kassa`` in this environment.

On PostgreSQL part of the work is in the database's own processes: the last column adds up
the CPU time of every process named ``postgres`` on this machine over the same window (the
server must run here; on SQLite the database's work is inside the server process).

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


def postgres_seconds() -> float:
    """CPU time of every ``postgres`` process on this machine (0 if there is none)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == "postgres":
                total += cpu_seconds(int(entry.name))
        except (OSError, ValueError):
            continue  # gone meanwhile
    return total


def used(pid: int) -> tuple[float, float]:
    return cpu_seconds(pid), postgres_seconds()


def measure(backend: str, requests: int, flows: int) -> list[tuple[str, float, float]]:
    server = new_server(backend, "kassa-cpu")
    processor = start_processor()
    out: list[tuple[str, float, float]] = []

    def spent(before: tuple[float, float], count: int) -> tuple[float, float]:
        after = used(pid)
        return (after[0] - before[0]) * 1000 / count, (after[1] - before[1]) * 1000 / count

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
                before = used(pid)
                for _ in range(requests):
                    http.get(read.path, params=read.params).raise_for_status()
                out.append((read.name, *spent(before, requests)))
        method = shop.shop.ids["payment_method"]
        for name, make in FLOWS.items():
            with http_for(server.base_url, shop.clients[0]) as http:
                for _ in range(3):
                    run_sync(make(method, "TSHIRT-XL"), http)
                before = used(pid)
                for _ in range(flows):
                    run_sync(make(method, "TSHIRT-XL"), http)
                out.append((name, *spent(before, flows)))
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
    print(
        "| backend | scenario | server CPU ms per request (reads) or flow "
        "| PostgreSQL processes' CPU ms, same window |"
    )
    print("| --- | --- | ---: | ---: |")
    for backend in args.backends.split(","):
        for name, ms, database in measure(backend, args.requests, args.flows):
            db = f"{database:.2f}" if backend == "postgres" else "–"
            print(f"| {backend} | {name} | {ms:.2f} | {db} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
