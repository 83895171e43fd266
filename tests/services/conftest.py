"""Fixtures of the service tests: a migrated database per storage backend and a shop on it.

The backends are those of the whole suite (``KASSA_TEST_BACKENDS``, else SQLite and, when
reachable, PostgreSQL); a case's id names its backend (``test_x[postgres]``), which is how
``tests/run_suite.sh`` puts the PostgreSQL cases in their own process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

from kassa.fake_processor import ProcessorServer
from kassa.store.migrate import upgrade
from tests.conftest import _backends
from tests.services.kit import Shop, open_services
from tests.support import drop_postgres_database, new_database

T = TypeVar("T")
Scenario = Callable[[Shop], Awaitable[T]]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_url" in metafunc.fixturenames:
        metafunc.parametrize("database_url", _backends(), indirect=True, scope="session")


@pytest.fixture(scope="session")
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database of the backend, migrated to the newest revision (shared by the module's
    cases: each builds an organization of its own)."""
    backend = request.param
    url = new_database(backend, tmp_path_factory.mktemp(f"services-{backend}"))
    upgrade(url)
    try:
        yield url
    finally:
        if backend == "postgres":
            drop_postgres_database(url)


@pytest.fixture
def in_shop(database_url: str, processor: ProcessorServer) -> Callable[[Scenario[Any]], Any]:
    """Run an async scenario against a new shop on the services of a fresh event loop."""

    def run(scenario: Scenario[T]) -> T:
        async def main() -> T:
            async with open_services(database_url) as services:
                shop = await Shop.build(services, processor)
                return await scenario(shop)

        return asyncio.run(main())

    return run
