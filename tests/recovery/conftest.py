"""A Kassa server per backend with short callout leases and a fast recovery scan.

Module-scoped and separate from the session servers: these tests kill it with SIGKILL.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import _backends
from tests.shop import Shop
from tests.support import (
    Client,
    Server,
    create_postgres_database,
    drop_postgres_database,
    free_port,
)

LEASE_SECONDS = 3.0
"""``KASSA_CALLOUT_LEASE_SECONDS`` of these servers (the callout timeout is 2 s)."""
RECOVERY_ENV = {
    "KASSA_QUERY_COUNT_HEADER": "1",
    "KASSA_CALLOUT_TIMEOUT": "2",
    "KASSA_CALLOUT_LEASE_SECONDS": str(LEASE_SECONDS),
    "KASSA_RECOVERY_INTERVAL_SECONDS": "0.5",
    "KASSA_CALLOUT_IDEMPOTENCY": "1",
    "KASSA_DOMAIN": "kassa.localhost",
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "rserver" in metafunc.fixturenames:
        metafunc.parametrize("rserver", _backends(), indirect=True, scope="module")


@pytest.fixture(scope="module")
def rserver(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    backend = request.param
    data_dir: Path = tmp_path_factory.mktemp(f"recovery-{backend}-{secrets.token_hex(2)}")
    if backend == "postgres":
        url = create_postgres_database()
    else:
        url = f"sqlite+aiosqlite:///{data_dir / 'kassa.sqlite3'}"
    srv = Server(backend, url, f"http://127.0.0.1:{free_port()}", data_dir)
    extra = getattr(request.module, "SERVER_ENV", {})  # a module's own settings
    srv.env = {"KASSA_DATABASE_URL": url, "KASSA_DATA_DIR": str(data_dir), **RECOVERY_ENV, **extra}
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        if backend == "postgres":
            drop_postgres_database(url)


def kill_during_place(server: Server, shop: Shop, client: Client, order_id: str) -> None:
    """Send ``_place`` and kill the server (SIGKILL) while the processor holds its authorize."""
    shop.behave("authorize", mode="approve", hold=1.0, times=1)

    def place() -> None:
        with contextlib.suppress(httpx.HTTPError):
            shop.place(client, order_id)

    thread = threading.Thread(target=place, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not shop.calls("authorize"):
        assert time.monotonic() < deadline, "the callout never reached the processor"
        time.sleep(0.05)
    assert server.process is not None
    server.process.kill()
    server.process.wait(10)
    thread.join(10)
