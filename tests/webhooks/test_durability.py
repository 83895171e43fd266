"""Committed events survive a killed server, and several workers share the outbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.shop import Shop
from tests.support import Client, Server, drop_postgres_database, new_database, token_for
from tests.webhooks.conftest import FAST, new_server
from tests.webhooks.helpers import subscribe
from tests.webhooks.receiver import Receiver


@pytest.fixture
def fresh(backend: str, tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    url = new_database(backend, tmp_path)
    try:
        yield backend, tmp_path, url
    finally:
        if backend == "postgres":
            drop_postgres_database(url)


def test_sigkill_right_after_a_committed_place_still_delivers(
    hooks_server: Server, hshop: Shop, receiver: Receiver
) -> None:
    subscribe(hshop.admin, "orders.place", receiver.url)
    _cid, client = hshop.customer()
    oid = hshop.cart(client)
    receiver.hold = 5.0  # the first delivery hangs: the process dies before it ends
    r = hshop.place(client, oid)
    assert r.status_code == 200, r.text
    assert hooks_server.process is not None
    hooks_server.process.send_signal(signal.SIGKILL)
    hooks_server.process.wait(10)
    hooks_server.start()  # the same database; the dead worker's lease runs out
    hits = receiver.wait(1, timeout=20)
    assert hits, "the committed orders.place was never delivered"
    assert hits[-1].doc["data"]["id"] == oid
    assert hits[-1].headers["x-commercelayer-topic"] == "orders.place"
    assert len({h.event_id for h in receiver.all_hits()}) == 1


def _worker(data_dir: Path, url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **FAST,
        "KASSA_DATABASE_URL": url,
        "KASSA_DATA_DIR": str(data_dir),
        "KASSA_WEBHOOK_BATCH": "100",
        "KASSA_WEBHOOK_LEASE": "60",
    }
    log = open(data_dir / "worker.log", "ab")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "kassa", "worker"], env=env, stdout=log, stderr=log
    )


def test_two_workers_deliver_500_events_once_each(
    fresh: tuple[str, Path, str], receiver: Receiver
) -> None:
    backend, data_dir, url = fresh
    srv: Server = new_server(backend, data_dir, url, KASSA_WEBHOOK_WORKER="0")  # workers only
    srv.start()
    workers: list[subprocess.Popen[bytes]] = []
    try:
        creds = srv.new_org()
        token = token_for(
            srv.base_url,
            {
                "grant_type": "client_credentials",
                "client_id": creds["integration_client_id"],
                "client_secret": creds["integration_client_secret"],
            },
        )
        admin = Client(srv.base_url, token)
        # Five receivers' worth of webhooks on one loopback server: 72 customers created
        # (five webhooks each) and 36 of them deleted (four each) are 504 deliveries.
        for path in ("a", "b", "c", "d", "e"):
            subscribe(admin, "customers.create", f"{receiver.url}/{path}")
        for path in ("a", "b", "c", "d"):
            subscribe(admin, "customers.destroy", f"{receiver.url}/{path}")

        def make(i: int) -> str:
            local = Client(srv.base_url, token)
            cid = local.create("customers", {"email": f"w{i}@example.com"})["id"]
            if i % 2 == 0:
                assert local.delete(f"/api/customers/{cid}").status_code == 204
            return cid

        # Both workers start now and deliver while the events are being committed.
        workers = [_worker(data_dir, url), _worker(data_dir, url)]
        with ThreadPoolExecutor(4) as pool:
            ids = list(pool.map(make, range(72)))
        gone = ids[::2]
        expected = 5 * len(ids) + 4 * len(gone)
        assert expected == 504
        receiver.wait(expected, timeout=60)
        time.sleep(0.5)
        hits = receiver.all_hits()
        assert len(hits) == expected, f"{len(hits)} deliveries for {expected} events"
        assert len({(h.path, h.event_id) for h in hits}) == expected  # none twice
        for path in ("/hook/a", "/hook/b", "/hook/c", "/hook/d", "/hook/e"):
            mine = [h for h in hits if h.path == path]
            created = {
                h.doc["data"]["id"] for h in mine if "create" in h.headers["x-commercelayer-topic"]
            }
            destroyed = {
                h.doc["data"]["id"] for h in mine if "destroy" in h.headers["x-commercelayer-topic"]
            }
            assert created == set(ids)
            assert destroyed == (set() if path == "/hook/e" else set(gone))
            for cid in gone:  # one resource's events reach a receiver in the order they happened
                topics = [
                    h.headers["x-commercelayer-topic"] for h in mine if h.doc["data"]["id"] == cid
                ]
                assert topics == (
                    ["customers.create"]
                    if path == "/hook/e"
                    else ["customers.create", "customers.destroy"]
                )
        assert all(w.poll() is None for w in workers)
        # A round that failed to record its outcomes would leave them leased (and sent again
        # once the lease runs out): the workers must never have lost one.
        logged = (data_dir / "worker.log").read_text(errors="replace")
        assert "delivery round failed" not in logged, logged[-3000:]
    finally:
        for w in workers:
            w.terminate()
            w.wait(10)
        srv.stop()
