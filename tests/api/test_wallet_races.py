"""Concurrent wallet requests over real sockets: one callout, one entry, no half states."""

from __future__ import annotations

import time

from tests.api.wallet_helpers import (
    INCLUDE,
    REUSE,
    assert_error,
    create_entry,
    entries_of,
    fresh_client,
    order_state,
    parallel,
    reuse,
    save,
)
from tests.shop import Shop

SAVERS = 50


def test_concurrent_saves_make_one_callout_and_one_entry(shop: Shop) -> None:
    customer_id, client = shop.customer()
    oid = shop.cart(client)
    before = order_state(shop, oid)
    clients = [fresh_client(client) for _ in range(SAVERS)]
    responses = parallel([lambda c=c: save(c, oid) for c in clients])
    assert [r.status_code for r in responses] == [200] * SAVERS, [
        r.text for r in responses if r.status_code != 200
    ]
    entries = entries_of(shop, customer_id)
    assert len(entries) == 1
    for r in responses:
        assert [d["id"] for d in r.json()["data"]["relationships"][INCLUDE]["data"]] == [
            entries[0]["id"]
        ]
    assert len(shop.calls("token")) == 1
    assert order_state(shop, oid) == before
    for c in clients:
        c.http.close()


def test_reuse_racing_the_deletion_of_its_entry(shop: Shop) -> None:
    customer_id, client = shop.customer()
    oid = shop.cart(client, token="tok_original")
    original = order_state(shop, oid)[0]
    reuser, deleter = fresh_client(client), fresh_client(client)
    outcomes = set()
    for round_ in range(8):
        entry = create_entry(shop, customer_id, token=f"pm_race_{round_}")["id"]
        source_before = order_state(shop, oid)[0]
        used, deleted = parallel(
            [
                lambda entry=entry: reuse(reuser, oid, entry),
                lambda entry=entry: deleter.delete(f"/api/customer_payment_sources/{entry}"),
            ]
        )
        assert deleted.status_code == 204, deleted.text
        source, status, _ = order_state(shop, oid)
        assert status == "pending"
        if used.status_code == 200:
            outcomes.add("reused")
            assert source not in (None, source_before, original)
        else:
            outcomes.add("refused")
            assert_error(
                used, 422, "VALIDATION_ERROR", f"/data/attributes/{REUSE}", "is invalid", "invalid"
            )
            assert source == source_before
        # The order's source is whole: its token is there, its wallet is empty (entry gone).
        r = client.get(f"/api/external_payments/{source}", include="wallet")
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert data["relationships"]["wallet"]["data"] is None, (round_, used.status_code)
        expected = f"pm_race_{round_}" if used.status_code == 200 else None
        if expected:
            assert data["attributes"]["payment_source_token"] == expected
        # Saving it again is possible: a dangling wallet link would silently skip this.
        if used.status_code == 200:
            r = save(client, oid)
            assert r.status_code == 200, r.text
            saved = r.json()["data"]["relationships"][INCLUDE]["data"]
            assert len(saved) == 1
            assert (
                client.delete(f"/api/customer_payment_sources/{saved[0]['id']}").status_code == 204
            )
    placed = shop.place(client, oid)
    assert placed.status_code == 200, placed.text
    assert placed.json()["data"]["attributes"]["status"] == "placed"
    assert entries_of(shop, customer_id) == []
    assert outcomes


def test_reuse_during_placement_cannot_swap_the_authorized_source(shop: Shop) -> None:
    customer_id, client = shop.customer()
    entry = create_entry(shop, customer_id, token="pm_swap")["id"]
    oid = shop.cart(client, token="tok_placing")
    original = order_state(shop, oid)[0]
    shop.behave("authorize", mode="timeout", seconds=0.8, times=1)  # a slow approval
    placer, reuser = fresh_client(client), fresh_client(client)

    def late_reuse() -> object:
        time.sleep(0.3)  # normally lands while the authorize callout is in flight
        return reuse(reuser, oid, entry)

    placed, used = parallel([lambda: shop.place(placer, oid), late_reuse])
    assert placed.status_code == 200, placed.text
    attributes = placed.json()["data"]["attributes"]
    assert (attributes["status"], attributes["payment_status"]) == ("placed", "authorized")
    source = order_state(shop, oid)[0]
    if used.status_code == 200:  # only if the reuse got in before the placement started
        assert source != original
    else:
        pointer = f"/data/attributes/{REUSE}"
        assert_error(used, 422, "VALIDATION_ERROR", pointer, error="not_editable")
        assert source == original
    # The placed order is paid by the very source that was authorized.
    assert [c["json"]["data"]["id"] for c in shop.calls("authorize")] == [source]
    r = shop.admin.get(f"/api/orders/{oid}/authorizations", include="payment_source")
    assert [a["relationships"]["payment_source"]["data"]["id"] for a in r.json()["data"]] == [
        source
    ]
