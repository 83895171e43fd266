"""Fixtures: one cluster of server processes per backend, and a shop on it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from kassa.fake_processor import ProcessorServer
from tests.conftest import _backends
from tests.processes.cluster import Cluster, running
from tests.shop import Shop


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "cluster" in metafunc.fixturenames:
        metafunc.parametrize("cluster", _backends(), indirect=True, scope="session")


@pytest.fixture(scope="session")
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    backend = request.param
    with running(backend, tmp_path_factory.mktemp(f"cluster-{backend}")) as found:
        yield found


@pytest.fixture
def cshop(cluster: Cluster, processor: ProcessorServer) -> Shop:
    """A shop built on the cluster (its clients talk to the first process)."""
    return Shop.build(cluster.first, processor, account="acct-" + secrets.token_hex(4))
