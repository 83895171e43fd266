"""A write that cannot get the database in time answers a retryable 423, never a 500.

Another process (a backup, a migration, a stuck writer) holds SQLite's write lock past the
server's busy wait (``KASSA_SQLITE_BUSY_SECONDS``, half a second here). Every entry point that
writes answers 423 with ``Retry-After``, keeps nothing, and succeeds once the lock is gone: the
API, the token endpoint and the gateways' completion callback.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from kassa.fake_processor import ProcessorServer
from kassa.payments.callouts import SIGNATURE_HEADER, sign
from tests.shop import Shop
from tests.support import new_database, new_server


@pytest.fixture
def busy_shop(tmp_path: Path, processor: ProcessorServer) -> Iterator[tuple[Shop, Path]]:
    url = new_database("sqlite", tmp_path)
    srv = new_server("sqlite", tmp_path, url, KASSA_SQLITE_BUSY_SECONDS="0.5")
    srv.start()
    try:
        yield Shop.build(srv, processor, account="busy"), tmp_path / "kassa.sqlite3"
    finally:
        srv.stop()


@contextmanager
def write_lock_held(path: Path) -> Iterator[None]:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def assert_retry_later(r: httpx.Response) -> dict[str, object]:
    assert r.status_code == 423, r.text
    assert r.headers["retry-after"] == "1"
    [error] = r.json()["errors"]
    assert error["code"] == "LOCKED" and error["title"] == "Locked"
    assert int(error["status"]) == 423
    return dict(error)


def test_an_api_write_kept_from_sqlite_answers_423_and_leaves_nothing(
    busy_shop: tuple[Shop, Path],
) -> None:
    shop, path = busy_shop
    admin = shop.admin
    body = {"data": {"type": "customers", "attributes": {"email": "busy@example.com"}}}
    with write_lock_held(path):
        refused = admin.post("/api/customers", body)
    assert_retry_later(refused)
    assert refused.headers["content-type"].startswith("application/vnd.api+json")
    listed = admin.get("/api/customers", **{"filter[q][email_eq]": "busy@example.com"})
    assert listed.json()["data"] == []  # nothing half-written
    # Once the lock is gone, the same request succeeds, once.
    assert admin.post("/api/customers", body).status_code == 201
    listed = admin.get("/api/customers", **{"filter[q][email_eq]": "busy@example.com"})
    assert len(listed.json()["data"]) == 1


def test_a_login_kept_from_sqlite_answers_423_then_logs_in(busy_shop: tuple[Shop, Path]) -> None:
    shop, path = busy_shop
    shop.admin.create("customers", {"email": "login@example.com", "password": "secret-pw"})
    grant = {
        "grant_type": "password",
        "client_id": shop.creds["sales_channel_client_id"],
        "username": "login@example.com",
        "password": "secret-pw",
        "scope": f"market:code:{shop.market_code}",
    }
    with write_lock_held(path):
        refused = httpx.post(f"{shop.base_url}/oauth/token", json=grant)
    assert_retry_later(refused)
    assert refused.headers["cache-control"] == "no-store"
    r = httpx.post(f"{shop.base_url}/oauth/token", json=grant)
    assert r.status_code == 200, r.text
    assert r.json()["refresh_token"]


def test_a_gateway_callback_kept_from_sqlite_answers_423(busy_shop: tuple[Shop, Path]) -> None:
    shop, path = busy_shop
    r = shop.admin.get(f"/api/external_gateways/{shop.ids['gateway']}")
    secret = r.json()["data"]["attributes"]["shared_secret"]
    raw = json.dumps({"success": True, "data": {"action_id": "act_unknown"}}).encode()
    url = f"{shop.base_url}/webhook_callbacks/external_gateways/{shop.ids['gateway']}"
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, raw)}
    with write_lock_held(path):
        refused = httpx.post(url, content=raw, headers=headers)
    assert_retry_later(refused)
    # The gateway's retry then gets the real answer: no such action.
    assert httpx.post(url, content=raw, headers=headers).status_code == 404


def test_under_the_lock_a_stranger_learns_nothing_new(busy_shop: tuple[Shop, Path]) -> None:
    """A refused write must not become an oracle: another customer's order answers a guest
    and another customer exactly as an id that does not exist, and an unsigned callback is
    still refused for its signature."""
    shop, path = busy_shop
    _owner_id, owner = shop.customer()
    oid = shop.cart(owner)
    _other_id, other = shop.customer()
    guest = shop.guest()

    def change(target: str) -> dict[str, object]:
        attributes = {"customer_email": "x@example.com"}
        return {"data": {"type": "orders", "id": target, "attributes": attributes}}

    url = f"{shop.base_url}/webhook_callbacks/external_gateways/{shop.ids['gateway']}"
    with write_lock_held(path):
        answers = {
            (who, target): (r.status_code, r.json()["errors"][0]["code"])
            for who, client in (("guest", guest), ("other", other))
            for target in (oid, "zzzzzzzzzz")
            for r in [client.patch(f"/api/orders/{target}", change(target))]
        }
        unsigned = httpx.post(url, content=b'{"success": true, "data": {"action_id": "x"}}')
    for who in ("guest", "other"):
        assert answers[(who, oid)] == answers[(who, "zzzzzzzzzz")] == (423, "LOCKED"), answers
    assert unsigned.status_code == 401
    # And the owner's order is as it was.
    r = owner.get(f"/api/orders/{oid}")
    assert r.json()["data"]["attributes"]["customer_email"] != "x@example.com"
