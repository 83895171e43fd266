"""``kassa worker`` alone finishes a callout a killed API process left in flight.

The server is killed while the processor holds an authorize; no API process runs again until
the worker has repeated the callout with its key and the database shows the order placed.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from kassa.fake_processor import ProcessorServer
from tests.api.payflow import state, txns
from tests.recovery.conftest import LEASE_SECONDS, kill_during_place
from tests.shop import Shop
from tests.support import Server


def _order_status(database_url: str, order_id: str) -> tuple[str, str]:
    """The order's statuses read straight from the database (no API process is running)."""

    async def read() -> tuple[str, str]:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as conn:
                row = (
                    await conn.execute(
                        sa.text("SELECT status, payment_status FROM orders WHERE id = :id"),
                        {"id": order_id},
                    )
                ).one()
            return str(row[0]), str(row[1])
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_the_worker_recovers_a_place_while_no_server_runs(
    rserver: Server, processor: ProcessorServer
) -> None:
    shop = Shop.build(rserver, processor, account="acct-" + secrets.token_hex(4))
    guest = shop.guest()
    oid = shop.cart(guest)
    kill_during_place(rserver, shop, guest, oid)
    assert _order_status(rserver.database_url, oid)[0] == "placing"

    worker = subprocess.Popen(
        [sys.executable, "-m", "kassa", "worker"],
        env={**os.environ, **rserver.env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + LEASE_SECONDS + 10
        while _order_status(rserver.database_url, oid) != ("placed", "authorized"):
            assert worker.poll() is None, worker.stderr.read().decode() if worker.stderr else ""
            assert time.monotonic() < deadline, _order_status(rserver.database_url, oid)
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(10)

    first, repeat = shop.calls("authorize")
    assert repeat["idempotency_key"] == first["idempotency_key"]
    assert repeat["replayed"] is True
    rserver.start()
    assert state(shop, oid) == ("placed", "authorized")
    [auth] = txns(shop, oid, "authorizations")
    assert auth["attributes"]["succeeded"] is True
    assert auth["id"] == first["idempotency_key"]
