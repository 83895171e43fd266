"""With ``KASSA_CALLOUT_IDEMPOTENCY`` off (the default), recovery never calls again.

For gateways that ignore ``Idempotency-Key`` a repeat could charge twice, so the
interrupted callout is recorded as failed (outcome unknown) and the order goes back to
``pending`` with its stock, without a second call.
"""

from __future__ import annotations

import secrets
import time

from kassa.checkout.recovery import INTERRUPTED
from kassa.fake_processor import ProcessorServer
from tests.api.payflow import state, stock, txns
from tests.recovery.conftest import LEASE_SECONDS, kill_during_place
from tests.shop import Shop
from tests.support import Server

SERVER_ENV = {"KASSA_CALLOUT_IDEMPOTENCY": "0"}


def test_an_interrupted_place_is_failed_without_a_second_call(
    rserver: Server, processor: ProcessorServer
) -> None:
    shop = Shop.build(rserver, processor, account="acct-" + secrets.token_hex(4))
    guest = shop.guest()
    oid = shop.cart(guest)
    kill_during_place(rserver, shop, guest, oid)
    rserver.start()

    deadline = time.monotonic() + LEASE_SECONDS + 8
    while state(shop, oid)[0] != "pending":
        assert time.monotonic() < deadline, f"still {state(shop, oid)}"
        time.sleep(0.1)
    [auth] = txns(shop, oid, "authorizations")
    assert auth["attributes"]["succeeded"] is False
    assert auth["attributes"]["error_code"] == INTERRUPTED
    assert state(shop, oid) == ("pending", "unpaid")
    assert stock(shop) == 100
    [call] = shop.calls("authorize")  # never repeated
    assert call["idempotency_key"] == auth["id"]
