"""A server killed (SIGKILL) in the middle of gateway callouts recovers them on its own.

One crash per backend serves every test of the module: while the reference processor holds
an authorize (``_place``), a capture, a refund and a wallet save callout of one shop, and an
authorize of a second shop that fails (HTTP 503, nothing done), the server is killed.
The second shop's processor then declines. After the restart, nobody calls the API with
anything but reads: the recovery scan repeats each callout with its key once its lease
has expired, and every order ends in a final state with exactly one effect per callout.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from kassa.fake_processor import ProcessorServer
from tests.api.payflow import approved, captured, state, stock, txns
from tests.api.wallet_helpers import entries_of, save
from tests.recovery.conftest import LEASE_SECONDS
from tests.shop import Shop
from tests.support import Client, Server

HOLD = 1.5
"""Seconds the processor holds each callout before answering (the kill comes first)."""
WINDOW = LEASE_SECONDS + 8.0
"""From the restart, the time allowed for every callout to be recovered: the lease, the
scan interval, the repeated callouts and a margin for a loaded machine."""


@dataclass
class Crash:
    shop: Shop
    other: Shop
    """The shop whose processor fails the held callout, then declines its repeat."""
    orders: dict[str, str] = field(default_factory=dict)
    customer_id: str = ""
    recovered_after: float = 0.0
    """Seconds from the restart until every callout was repeated."""


def _charges(shop: Shop, action: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{shop.processor.url}/_accounts/{shop.account}/charges")
    assert r.status_code == 200, r.text
    return [c for c in r.json()["charges"] if c["action"] == action]


def _fire(requests: list[Callable[[], Any]]) -> list[threading.Thread]:
    """Send each request from a thread of its own; their connections die with the server."""

    def quietly(call: Callable[[], Any]) -> None:
        with contextlib.suppress(httpx.HTTPError):
            call()

    threads = [threading.Thread(target=quietly, args=(call,), daemon=True) for call in requests]
    for thread in threads:
        thread.start()
    return threads


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def crash(rserver: Server, processor: ProcessorServer) -> Crash:
    shop = Shop.build(rserver, processor, account="acct-" + secrets.token_hex(4))
    other = Shop.build(rserver, processor, account="acct-" + secrets.token_hex(4))
    out = Crash(shop, other)
    guest = shop.guest()
    out.orders["place"] = shop.cart(guest)
    out.orders["capture"] = approved(shop)
    out.orders["refund"], _ = captured(shop)
    out.customer_id, customer = shop.customer()
    out.orders["save"] = shop.cart(customer)
    other_guest = other.guest()
    out.orders["decline"] = other.cart(other_guest)

    for action in ("authorize", "capture", "refund", "token"):
        shop.behave(action, mode="approve", hold=HOLD, times=1)
    other.behave("authorize", mode="http_error", status=503, hold=HOLD, times=1)
    admin = Client(rserver.base_url, shop.admin.token)
    threads = _fire(
        [
            lambda: shop.place(Client(rserver.base_url, guest.token), out.orders["place"]),
            lambda: admin.update("orders", out.orders["capture"], {"_capture": True}),
            lambda: Client(rserver.base_url, shop.admin.token).update(
                "orders", out.orders["refund"], {"_refund": True}
            ),
            lambda: save(Client(rserver.base_url, customer.token), out.orders["save"]),
            lambda: other.place(Client(rserver.base_url, other_guest.token), out.orders["decline"]),
        ]
    )
    held = (("authorize", shop), ("capture", shop), ("refund", shop), ("token", shop))
    _wait(
        lambda: all(s.calls(a) for a, s in held) and bool(other.calls("authorize")),
        10,
        "the callouts to reach the processor",
    )
    assert rserver.process is not None
    rserver.process.kill()  # SIGKILL: no shutdown, no cleanup
    rserver.process.wait(10)
    for thread in threads:
        thread.join(10)
    other.behave("authorize", mode="decline", code="CARD_DECLINED", message="Card declined")

    rserver.start()
    restarted = time.monotonic()
    # Only the processor's ledger is watched: each callout repeated once, with its key.
    _wait(
        lambda: all(len(s.calls(a)) >= 2 for a, s in held) and len(other.calls("authorize")) >= 2,
        WINDOW,
        "the recovery scan to repeat every callout",
    )
    out.recovered_after = time.monotonic() - restarted
    return out


def _settled(check: Callable[[], bool]) -> None:
    """The repeat is answered; its outcome is committed moments later."""
    _wait(check, 5, "the recovered outcome to be recorded")


def _once(shop: Shop, action: str, key: str) -> dict[str, Any]:
    """The calls with ``key`` were the first one and its replay; the one effect's data."""
    calls = [c for c in shop.calls(action) if c["idempotency_key"] == key]
    assert [c["replayed"] for c in calls] == [False, True]
    assert calls[0]["json"]["data"]["meta"]["idempotency_key"] == key  # also in the body
    assert calls[0]["body"] == calls[1]["body"]  # the same bytes, the same signature
    [charge] = [c for c in _charges(shop, action) if c["idempotency_key"] == key]
    return dict(charge["data"])


def test_an_interrupted_place_ends_placed_with_one_authorization(crash: Crash) -> None:
    shop, oid = crash.shop, crash.orders["place"]
    _settled(lambda: state(shop, oid) == ("placed", "authorized"))
    [auth] = txns(shop, oid, "authorizations")
    assert auth["attributes"]["succeeded"] is True
    charge = _once(shop, "authorize", auth["id"])
    assert charge["transaction_token"] == auth["attributes"]["token"]
    assert crash.recovered_after < WINDOW


def test_an_interrupted_capture_is_recorded_once(crash: Crash) -> None:
    shop, oid = crash.shop, crash.orders["capture"]
    _settled(lambda: state(shop, oid) == ("approved", "paid"))
    [capture] = txns(shop, oid, "captures")
    assert capture["attributes"]["succeeded"] is True
    charge = _once(shop, "capture", capture["id"])
    assert charge["transaction_token"] == capture["attributes"]["token"]


def test_an_interrupted_refund_is_recorded_once(crash: Crash) -> None:
    shop, oid = crash.shop, crash.orders["refund"]
    _settled(lambda: state(shop, oid) == ("cancelled", "refunded"))
    [refund] = txns(shop, oid, "refunds")
    assert refund["attributes"]["succeeded"] is True
    charge = _once(shop, "refund", refund["id"])
    assert charge["transaction_token"] == refund["attributes"]["token"]


def test_an_interrupted_wallet_save_makes_one_entry(crash: Crash) -> None:
    shop = crash.shop
    _settled(lambda: len(entries_of(shop, crash.customer_id)) == 1)
    [entry] = entries_of(shop, crash.customer_id)
    charge = _once(shop, "token", entry["id"])
    assert entry["attributes"]["customer_token"] == charge["customer_token"]


def test_a_repeat_declined_puts_the_order_back_to_pending(crash: Crash) -> None:
    other, oid = crash.other, crash.orders["decline"]
    _settled(lambda: state(other, oid) == ("pending", "unpaid"))
    [auth] = txns(other, oid, "authorizations")
    assert auth["attributes"]["succeeded"] is False
    assert auth["attributes"]["error_code"] == "CARD_DECLINED"
    calls = other.calls("authorize")
    assert [c["idempotency_key"] for c in calls] == [auth["id"], auth["id"]]
    assert [c["status"] for c in calls] == [503, 200]
    assert _charges(other, "authorize") == []
    assert stock(other) == 100  # the reserved quantity came back
