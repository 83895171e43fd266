"""Several ``kassa serve`` processes on one database, and requests spread over them.

SQLite: two separate server processes on one database file. PostgreSQL: one
``kassa serve --workers 4`` (the kernel hands each new connection to one of the workers).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support import (
    JSONAPI,
    Client,
    Server,
    create_postgres_database,
    drop_postgres_database,
    free_port,
)

RACERS = 200


@dataclass
class Cluster:
    backend: str
    database_url: str
    servers: list[Server]

    @property
    def urls(self) -> list[str]:
        return [s.base_url for s in self.servers]

    @property
    def first(self) -> Server:
        return self.servers[0]


def _server(backend: str, url: str, data_dir: Path, env: dict[str, str]) -> Server:
    data_dir.mkdir(parents=True, exist_ok=True)
    srv = Server(backend, url, f"http://127.0.0.1:{free_port()}", data_dir)
    srv.env = {
        "KASSA_DATABASE_URL": url,
        "KASSA_DATA_DIR": str(data_dir),
        "KASSA_CALLOUT_TIMEOUT": "5",
        # Waiters for an order's lock give up (423) after this long: 200 racers handing the
        # lock over between processes on a loaded machine need more than the default 25 s.
        "KASSA_CALLOUT_LEASE_SECONDS": "60",
        # 4 workers × (4 + 4 overflow) connections: room left under PostgreSQL's 100 for the
        # session's own server and the rate-limited processes.
        "KASSA_DATABASE_POOL_SIZE": "4",
        "KASSA_DOMAIN": "kassa.localhost",
        **env,
    }
    return srv


@contextmanager
def running(
    backend: str,
    root: Path,
    env: dict[str, str] | None = None,
    processes: int | None = None,
    separate: bool = False,
    database_url: str | None = None,
) -> Iterator[Cluster]:
    """Start the processes of one backend on a database of their own; stop and drop them.

    ``processes`` (SQLite, or ``separate``: servers of their own; else on PostgreSQL: workers
    of one server) defaults to two on SQLite and four on PostgreSQL. With ``database_url``
    they share that (migrated) database instead, which is left alone.
    """
    env = env or {}
    own = database_url is None
    if database_url is not None:
        url = database_url
    elif backend == "postgres":
        url = create_postgres_database()
    else:
        url = f"sqlite+aiosqlite:///{root / 'shared.sqlite3'}"
    servers: list[Server] = []
    try:
        if backend == "postgres" and not separate:
            servers.append(_server(backend, url, root / "workers", env))
            workers = processes or 4
        else:
            count = processes or (4 if backend == "postgres" else 2)
            servers += [_server(backend, url, root / f"process-{n}", env) for n in range(count)]
            workers = 1
        if own:
            subprocess.run(
                [sys.executable, "-m", "kassa", "migrate"],
                env={**os.environ, **servers[0].env},
                check=True,
                capture_output=True,
            )
            # No signing key yet: the processes start together and must agree on one
            # (kassa.auth.keys.load_or_create), or they would refuse each other's tokens.
        with ThreadPoolExecutor(len(servers)) as pool:
            started = [pool.submit(s.start, workers, None, False) for s in servers]
            for job in started:
                job.result()
        yield Cluster(backend, url, servers)
    finally:
        for srv in servers:
            srv.stop()
        if backend == "postgres" and own:
            drop_postgres_database(url)


def _headers(token: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    headers = {"Accept": JSONAPI, "Content-Type": JSONAPI, **(extra or {})}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def storm(
    urls: list[str],
    token: str | None,
    requests: list[tuple[str, str, Any]],
    extra: dict[str, str] | None = None,
) -> list[httpx.Response]:
    """Send every ``(method, path, body)`` at once, each on a connection of its own, the
    n-th to ``urls[n % len(urls)]``."""

    async def send(http: httpx.AsyncClient, n: int, method: str, path: str, body: Any) -> Any:
        url = urls[n % len(urls)] + path
        content = None if body is None else json.dumps(body)
        return await http.request(method, url, content=content, headers=_headers(token, extra))

    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=60, limits=limits) as http:
            jobs = (send(http, n, *r) for n, r in enumerate(requests))
            return list(await asyncio.gather(*jobs))

    return asyncio.run(run())


def statuses(responses: list[httpx.Response]) -> Counter[int]:
    found = Counter(r.status_code for r in responses)
    assert all(s < 500 for s in found), [r.text for r in responses if r.status_code >= 500]
    return found


def send_and_hang_up(
    base_url: str, method: str, path: str, headers: dict[str, str], body: Any
) -> None:
    """Write a whole request on a raw socket and close it without reading the answer."""
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    payload = json.dumps(body).encode()
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines += [f"Content-Length: {len(payload)}", "Connection: close", "", ""]
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall("\r\n".join(lines).encode() + payload)
        time.sleep(0.1)  # the server has read it all (it is tiny) before the line drops
        # Linger on, zero seconds: the close resets the connection at once.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def keyed(client: Client, key: str) -> dict[str, str]:
    return client.headers({"Idempotency-Key": key})
