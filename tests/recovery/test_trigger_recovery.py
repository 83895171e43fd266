"""A recovery finishes the trigger an interrupted callout served, not just the callout.

While the processor holds the capture of an ``_approve_and_capture`` and the void of a
``_cancel``, the server is killed. After the restart, with no API call but reads, the first
order ends approved and paid and the second cancelled with its stock back: what the two
triggers would have done had the process lived.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time

import httpx

from kassa.fake_processor import ProcessorServer
from tests.api.payflow import placed, state, stock, txns
from tests.recovery.conftest import LEASE_SECONDS
from tests.shop import Shop
from tests.support import Server


def test_interrupted_approve_and_capture_and_cancel_are_finished(
    rserver: Server, processor: ProcessorServer
) -> None:
    shop = Shop.build(rserver, processor, account="acct-" + secrets.token_hex(4))
    to_capture, _ = placed(shop)
    to_cancel, _ = placed(shop)
    assert stock(shop) == 98
    shop.behave("capture", mode="approve", hold=1.5, times=1)
    shop.behave("void", mode="approve", hold=1.5, times=1)

    answers: list[str] = []

    def send(oid: str, trigger: str) -> None:
        with contextlib.suppress(httpx.HTTPError):
            r = shop.admin.update("orders", oid, {trigger: True})
            answers.append(f"{trigger}: {r.status_code} {r.text[:300]}")

    threads = [
        threading.Thread(target=send, args=(to_capture, "_approve_and_capture"), daemon=True),
        threading.Thread(target=send, args=(to_cancel, "_cancel"), daemon=True),
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while not (shop.calls("capture") and shop.calls("void")):
        assert time.monotonic() < deadline, ([c["action"] for c in shop.calls()], answers)
        time.sleep(0.05)
    assert rserver.process is not None
    rserver.process.kill()
    rserver.process.wait(10)
    for t in threads:
        t.join(10)
    rserver.start()

    deadline = time.monotonic() + LEASE_SECONDS + 10
    while (state(shop, to_capture), state(shop, to_cancel)) != (
        ("approved", "paid"),
        ("cancelled", "voided"),
    ):
        assert time.monotonic() < deadline, (state(shop, to_capture), state(shop, to_cancel))
        time.sleep(0.1)
    [capture] = txns(shop, to_capture, "captures")
    [void] = txns(shop, to_cancel, "voids")
    assert capture["attributes"]["succeeded"] and void["attributes"]["succeeded"]
    assert stock(shop) == 99  # the cancelled order's unit is back
    for action, txn in (("capture", capture), ("void", void)):
        first, repeat = shop.calls(action)
        assert first["idempotency_key"] == repeat["idempotency_key"] == txn["id"]
        assert repeat["replayed"] is True
