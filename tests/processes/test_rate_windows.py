"""The shared rate-limit windows, driven directly on the cluster's database and on Redis.

Short windows (1 s) show what a live server test cannot wait for: how a full window slides
out, and that a request refused by one window takes no count from the other.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Awaitable, Callable

import pytest

from kassa.engine.ratelimit import Counter, DatabaseCounter, Limit, RedisCounter
from kassa.store.db import Database
from tests.processes.cluster import Cluster

REDIS_URL = "redis://127.0.0.1:6379/13"


def _on(cluster: Cluster, store: str, job: Callable[[Counter], Awaitable[None]]) -> None:
    async def run() -> None:
        if store == "redis":
            import redis

            counter: Counter = RedisCounter(REDIS_URL)
            try:
                await counter.take([("probe", Limit(1, 1))])
            except redis.RedisError as exc:
                await counter.close()
                if os.environ.get("CI"):
                    pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}")
                pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")
            try:
                await job(counter)
            finally:
                await counter.close()
            return
        db = Database(cluster.database_url)
        counter = DatabaseCounter(db)
        try:
            await job(counter)
        finally:
            await counter.close()
            await db.dispose()

    asyncio.run(run())


@pytest.mark.parametrize("store", ["database", "redis"])
def test_a_full_window_slides_out(cluster: Cluster, store: str) -> None:
    async def job(counter: Counter) -> None:
        window = [(secrets.token_hex(8), Limit(4, 1.0))]
        taken = [await counter.take(window) for _ in range(5)]
        assert [ok for ok, _ in taken] == [True] * 4 + [False]
        assert [loads[0] for _, loads in taken] == [1, 2, 3, 4, 4]
        await asyncio.sleep(1.25)  # the next window: 4 × (1 − 0.25) = 3 still count
        ok, [load] = await counter.take(window)
        assert ok and 3.5 < load <= 4.0
        assert not (await counter.take(window))[0]
        await asyncio.sleep(2.1)  # two windows later: nothing counts
        assert await counter.take(window) == (True, [1.0])

    _on(cluster, store, job)


@pytest.mark.parametrize("store", ["database", "redis"])
def test_a_refusal_takes_no_count_from_the_other_window(cluster: Cluster, store: str) -> None:
    async def job(counter: Counter) -> None:
        average = (secrets.token_hex(8), Limit(10, 60))
        burst = (secrets.token_hex(8), Limit(2, 60))
        results = [await counter.take([average, burst]) for _ in range(4)]
        assert [ok for ok, _ in results] == [True, True, False, False]
        assert [loads[0] for _, loads in results] == [1, 2, 2, 2]
        ok, [load] = await counter.take([average])
        assert ok and load == 3

    _on(cluster, store, job)
