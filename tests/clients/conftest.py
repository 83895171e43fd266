"""Fixtures for the official-client tests."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest

from tests.clients.pyclient import PythonClientPool


@pytest.fixture(scope="session")
def python_client(request: pytest.FixtureRequest) -> Iterator[PythonClientPool]:
    # Each collected test taking this fixture as an argument runs the flow once.
    runs = [
        item
        for item in request.session.items
        if isinstance(item, pytest.Function)
        and "python_client" in inspect.signature(item.function).parameters
    ]
    pool = PythonClientPool(len(runs))
    try:
        yield pool
    finally:
        pool.close()
