"""200 racing payment triggers spread over several server processes: one effect each.

SQLite: two ``kassa serve`` processes on one file; PostgreSQL: ``kassa serve --workers 4``.
The gateway answers the first callout slowly, so it is still in flight when the others
arrive, in every process. Effects are checked in the API and in the processor's ledger.
"""

from __future__ import annotations

from typing import Any

from tests.api.payflow import approved, captured, state, stock, txns
from tests.api.wallet_helpers import INCLUDE, SAVE, entries_of
from tests.processes.cluster import RACERS, Cluster, statuses, storm
from tests.shop import Shop

SLOW = {"mode": "timeout", "seconds": 0.3, "times": 1}


def _trigger(type_: str, id_: str, **attributes: Any) -> dict[str, Any]:
    return {"data": {"type": type_, "id": id_, "attributes": attributes}}


def test_racing_place_authorizes_once(cluster: Cluster, cshop: Shop) -> None:
    _cid, client = cshop.customer()
    oid = cshop.cart(client, quantity=2)
    before = stock(cshop)
    cshop.behave("authorize", **SLOW)
    body = _trigger("orders", oid, _place=True)
    responses = storm(cluster.urls, client.token, [("PATCH", f"/api/orders/{oid}", body)] * RACERS)
    found = statuses(responses)
    assert found == {200: RACERS}, found
    for r in responses:
        if r.status_code == 200:
            assert r.json()["data"]["attributes"]["status"] == "placed"
    assert len(cshop.calls("authorize")) == 1
    [auth] = txns(cshop, oid)
    assert auth["attributes"]["succeeded"] is True
    assert state(cshop, oid) == ("placed", "authorized")
    assert stock(cshop) == before - 2


def test_racing_capture_captures_once(cluster: Cluster, cshop: Shop) -> None:
    oid = approved(cshop)
    cshop.behave("capture", **SLOW)
    body = _trigger("orders", oid, _capture=True)
    token = cshop.admin.token
    responses = storm(cluster.urls, token, [("PATCH", f"/api/orders/{oid}", body)] * RACERS)
    found = statuses(responses)
    assert found == {200: 1, 422: RACERS - 1}, found
    assert len(cshop.calls("capture")) == 1
    assert [c["attributes"]["succeeded"] for c in txns(cshop, oid, "captures")] == [True]
    assert state(cshop, oid) == ("approved", "paid")


def test_racing_refunds_never_exceed_the_capture(cluster: Cluster, cshop: Shop) -> None:
    oid, cap = captured(cshop, quantity=2)  # 9800 captured
    cshop.behave("refund", **SLOW)
    body = _trigger("captures", cap["id"], _refund=True, _refund_amount_cents=1000)
    token = cshop.admin.token
    path = f"/api/captures/{cap['id']}"
    responses = storm(cluster.urls, token, [("PATCH", path, body)] * RACERS)
    found = statuses(responses)
    assert found == {200: 9, 422: RACERS - 9}, found
    refunds = [x["attributes"] for x in txns(cshop, oid, "refunds")]
    assert [x["amount_cents"] for x in refunds] == [1000] * 9
    assert all(x["succeeded"] for x in refunds)
    assert len(cshop.calls("refund")) == 9
    assert state(cshop, oid) == ("approved", "partially_refunded")


def test_racing_wallet_saves_make_one_entry(cluster: Cluster, cshop: Shop) -> None:
    customer_id, client = cshop.customer()
    oid = cshop.cart(client)
    cshop.behave("token", **SLOW)
    body = _trigger("orders", oid, **{SAVE: True})
    path = f"/api/orders/{oid}?include={INCLUDE}"
    responses = storm(cluster.urls, client.token, [("PATCH", path, body)] * RACERS)
    found = statuses(responses)
    assert found == {200: RACERS}, found
    entries = entries_of(cshop, customer_id)
    assert len(entries) == 1
    for r in responses:
        if r.status_code == 200:
            linked = r.json()["data"]["relationships"][INCLUDE]["data"]
            assert [d["id"] for d in linked] == [entries[0]["id"]]
    assert len(cshop.calls("token")) == 1
