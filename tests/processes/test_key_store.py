"""The idempotency key store on the cluster's database: what is kept, released, taken over.

These drive :class:`kassa.engine.idempotency.IdempotencyKeys` directly (a second process on
the same database, as a server worker would be), for the cases a live server cannot be made
to produce on demand: a 5xx answer, a holder that died, an expired key.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from kassa.engine.idempotency import Claim, IdempotencyKeys, Stored
from kassa.jsonapi.errors import ApiError
from kassa.store.db import Database
from tests.processes.cluster import Cluster

T = TypeVar("T")
SCOPE = ("org", "test", "application", "app")


def _with_store(
    cluster: Cluster, ttl: int, lease: float, job: Callable[[IdempotencyKeys], Awaitable[T]]
) -> T:
    async def run() -> T:
        db = Database(cluster.database_url)
        try:
            return await job(IdempotencyKeys(db, ttl, lease))
        finally:
            await db.dispose()

    return asyncio.run(run())


def test_server_errors_and_retry_later_answers_release_the_key(cluster: Cluster) -> None:
    async def job(store: IdempotencyKeys) -> None:
        for status in (500, 503, 409, 423, 429):
            key = secrets.token_hex(8)
            claim = await store.claim(key, SCOPE, "POST", "/api/x", b"{}")
            assert isinstance(claim, Claim)
            await store.settle(claim, status, {"content-type": "x"}, b"failed")
            retry = await store.claim(key, SCOPE, "POST", "/api/x", b"{}")
            assert isinstance(retry, Claim), status  # the retry runs: nothing was kept
        key = secrets.token_hex(8)
        claim = await store.claim(key, SCOPE, "POST", "/api/x", b"{}")
        assert isinstance(claim, Claim)
        await store.settle(claim, 201, {"content-type": "x", "X-Kassa-Queries": "3"}, b"made")
        kept = await store.claim(key, SCOPE, "POST", "/api/x", b"{}")
        assert kept == Stored(201, {"content-type": "x"}, b"made")

    _with_store(cluster, 3600, 60, job)


def test_a_dead_holders_key_is_taken_over_after_its_lease(cluster: Cluster) -> None:
    async def job(store: IdempotencyKeys) -> None:
        key = secrets.token_hex(8)
        dead = await store.claim(key, SCOPE, "PATCH", "/api/y", b"{}")
        assert isinstance(dead, Claim)
        with pytest.raises(ApiError) as busy:
            await store.claim(key, SCOPE, "PATCH", "/api/y", b"{}")
        assert busy.value.status == 409
        await asyncio.sleep(0.6)  # the lease (0.5 s) ends: its process is taken for dead
        heir = await store.claim(key, SCOPE, "PATCH", "/api/y", b"{}")
        assert isinstance(heir, Claim) and heir.owner != dead.owner
        await store.settle(dead, 200, {}, b"late")  # the old holder no longer owns it
        await store.settle(heir, 200, {}, b"heir")
        assert await store.claim(key, SCOPE, "PATCH", "/api/y", b"{}") == Stored(200, {}, b"heir")

    _with_store(cluster, 3600, 0.5, job)


def test_expired_keys_start_afresh_and_other_scopes_never_meet(cluster: Cluster) -> None:
    async def job(store: IdempotencyKeys) -> None:
        key = secrets.token_hex(8)
        claim = await store.claim(key, SCOPE, "POST", "/api/z", b"1")
        assert isinstance(claim, Claim)
        await store.settle(claim, 201, {}, b"first")
        other_scope = ("org", "live", "application", "app")
        assert isinstance(await store.claim(key, other_scope, "POST", "/api/z", b"1"), Claim)
        await asyncio.sleep(1.1)  # the answer is kept one second
        fresh = await store.claim(key, SCOPE, "POST", "/api/z", b"2")
        assert isinstance(fresh, Claim)

    _with_store(cluster, 1, 60, job)
