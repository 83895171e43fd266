"""Fixtures: one Kassa server per storage backend, the reference processor, a shop."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from kassa.fake_processor import ProcessorServer
from tests.shop import Shop
from tests.support import (
    Server,
    create_postgres_database,
    drop_postgres_database,
    free_port,
    postgres_reachable,
    postgres_status,
)

_PG: tuple[bool, str] | None = None


def _plan() -> tuple[list[str], str]:
    """The storage backends to test, and why."""
    global _PG
    wanted = os.environ.get("KASSA_TEST_BACKENDS")
    if wanted:
        return wanted.split(","), "chosen by KASSA_TEST_BACKENDS"
    if _PG is None:
        _PG = postgres_status()
    ok, why = _PG
    if ok:
        return ["sqlite", "postgres"], why
    if os.environ.get("CI") == "true":
        # the postgres fixture then fails loudly
        return ["sqlite", "postgres"], f"CI=true requires PostgreSQL, but {why}"
    return ["sqlite"], (
        f"SQLite only: {why}; start PostgreSQL (password-less user postgres) or set "
        "KASSA_TEST_POSTGRES_URL"
    )


def _backends() -> list[str]:
    return _plan()[0]


def pytest_report_header(config: pytest.Config) -> str:
    backends, why = _plan()
    return f"kassa storage backends: {', '.join(backends)} ({why})"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "server" in metafunc.fixturenames:
        metafunc.parametrize("server", _backends(), indirect=True, scope="session")


@pytest.fixture(scope="session")
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    backend = request.param
    data_dir: Path = tmp_path_factory.mktemp(f"kassa-{backend}")
    if backend == "postgres":
        if not postgres_reachable():
            pytest.fail("PostgreSQL is not reachable (KASSA_TEST_POSTGRES_URL) and CI=true")
        url = create_postgres_database()
    else:
        url = f"sqlite+aiosqlite:///{data_dir / 'kassa.sqlite3'}"
    port = free_port()
    srv = Server(backend, url, f"http://127.0.0.1:{port}", data_dir)
    srv.env = {
        "KASSA_DATABASE_URL": url,
        "KASSA_DATA_DIR": str(data_dir),
        "KASSA_QUERY_COUNT_HEADER": "1",
        "KASSA_CALLOUT_TIMEOUT": "1.5",
        "KASSA_DOMAIN": "kassa.localhost",
    }
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        if backend == "postgres":
            drop_postgres_database(url)


@pytest.fixture(scope="session")
def processor() -> Iterator[ProcessorServer]:
    with ProcessorServer() as proc:
        yield proc


@pytest.fixture
def shop(server: Server, processor: ProcessorServer) -> Shop:
    return Shop.build(server, processor, account="acct-" + secrets.token_hex(4))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``KASSA_TEST_SHARD``: ``postgres`` keeps the PostgreSQL cases, ``rest`` everything else.

    ``tests/run_suite.sh`` runs the two shards side by side (``make test``); a case is a
    PostgreSQL one when ``postgres`` is among its parameters (``test_x[postgres]``).
    """
    shard = os.environ.get("KASSA_TEST_SHARD")
    if not shard:
        return
    if shard not in ("postgres", "rest"):
        raise pytest.UsageError(f"KASSA_TEST_SHARD must be postgres or rest, not {shard!r}")

    def on_postgres(item: pytest.Item) -> bool:
        params = item.nodeid.partition("[")[2].removesuffix("]")
        return "postgres" in params.split("-")

    keep = [i for i in items if on_postgres(i) == (shard == "postgres")]
    dropped = [i for i in items if on_postgres(i) != (shard == "postgres")]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = keep
