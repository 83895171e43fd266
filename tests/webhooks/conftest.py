"""Servers for the webhook tests: their own database per backend, short retry delays."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kassa.fake_processor import ProcessorServer
from tests.conftest import _backends
from tests.shop import Shop
from tests.support import Server, drop_postgres_database, new_database
from tests.support import new_server as server_on
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


def new_server(backend: str, data_dir: Path, url: str, **env: str) -> Server:
    """A server whose delivery worker retries after tenths of a second."""
    return server_on(backend, data_dir, url, **FAST, **env)


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
