"""Servers for the webhook tests: their own database per backend, short retry delays."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kassa.fake_processor import ProcessorServer
from tests.conftest import _backends
from tests.shop import Shop
from tests.support import (
    Server,
    create_postgres_database,
    drop_postgres_database,
    free_port,
    postgres_reachable,
)
from tests.webhooks.receiver import Receiver

FAST = {
    "KASSA_WEBHOOK_BACKOFF_BASE": "0.05",
    "KASSA_WEBHOOK_BACKOFF_MAX": "0.1",
    "KASSA_WEBHOOK_POLL_INTERVAL": "0.05",
    "KASSA_WEBHOOK_TIMEOUT": "2",
    "KASSA_WEBHOOK_LEASE": "4",
    "KASSA_CALLOUT_TIMEOUT": "1.5",
    "KASSA_QUERY_COUNT_HEADER": "1",
    "KASSA_DOMAIN": "kassa.localhost",
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", _backends(), scope="session")


def new_database(backend: str, data_dir: Path) -> str:
    if backend == "postgres":
        if not postgres_reachable():
            pytest.fail("PostgreSQL is not reachable (KASSA_TEST_POSTGRES_URL)")
        return create_postgres_database()
    return f"sqlite+aiosqlite:///{data_dir / 'kassa.sqlite3'}"


def new_server(backend: str, data_dir: Path, url: str, **env: str) -> Server:
    srv = Server(backend, url, f"http://127.0.0.1:{free_port()}", data_dir)
    srv.env = {"KASSA_DATABASE_URL": url, "KASSA_DATA_DIR": str(data_dir), **FAST, **env}
    return srv


@pytest.fixture(scope="session")
def hooks_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose worker retries after tenths of a second."""
    data_dir = tmp_path_factory.mktemp(f"webhooks-{backend}")
    url = new_database(backend, data_dir)
    srv = new_server(backend, data_dir, url)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        if backend == "postgres":
            drop_postgres_database(url)


@pytest.fixture
def hshop(hooks_server: Server, processor: ProcessorServer) -> Shop:
    import secrets

    return Shop.build(hooks_server, processor, account="acct-" + secrets.token_hex(4))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    try:
        yield rec
    finally:
        rec.close()
