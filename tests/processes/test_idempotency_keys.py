"""``Idempotency-Key`` on API writes, over several server processes.

A retry may land on another process than the first attempt (SQLite: the other server on the
same file; PostgreSQL: any of four workers): the key and its answer live in the database.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from typing import Any

import httpx

from tests.api.payflow import state, txns
from tests.processes.cluster import Cluster, keyed, send_and_hang_up
from tests.shop import ADDRESS, Shop
from tests.support import Client, error_of, token_for

REPLAYED = "Idempotent-Replayed"


def _place_body(oid: str) -> dict[str, Any]:
    return {"data": {"type": "orders", "id": oid, "attributes": {"_place": True}}}


def _send(
    url: str, client: Client, method: str, path: str, body: Any, key: str | bytes
) -> httpx.Response:
    headers: dict[str, Any] = dict(client.headers())
    headers["Idempotency-Key"] = key
    content = None if body is None else json.dumps(body)
    return httpx.request(method, url + path, content=content, headers=headers, timeout=30)


def _until_answered(url: str, client: Client, path: str, body: Any, key: str) -> httpx.Response:
    """Retry while the first attempt is still running (409), as a client would."""
    deadline = time.time() + 20
    while True:
        r = _send(url, client, "PATCH", path, body, key)
        if r.status_code != 409 or time.time() > deadline:
            return r
        assert error_of(r)["code"] == "IDEMPOTENCY_KEY_IN_USE"
        time.sleep(0.2)


def test_place_cut_off_in_flight_then_retried_replays_the_one_authorization(
    cluster: Cluster, cshop: Shop
) -> None:
    _cid, client = cshop.customer()
    oid = cshop.cart(client)
    cshop.behave("authorize", mode="timeout", seconds=1.0, times=1)
    key = "place-" + secrets.token_hex(8)
    path = f"/api/orders/{oid}"
    headers = keyed(client, key)
    send_and_hang_up(cluster.urls[0], "PATCH", path, headers, _place_body(oid))
    # The connection is gone; the authorization is still in flight at the processor.
    early = _send(cluster.urls[-1], client, "PATCH", path, _place_body(oid), key)
    assert early.status_code == 409, early.text
    assert early.headers["Retry-After"] == "1"
    retried = _until_answered(cluster.urls[-1], client, path, _place_body(oid), key)
    assert retried.status_code == 200, retried.text
    assert retried.headers[REPLAYED] == "true"
    assert retried.headers["content-type"] == "application/vnd.api+json"
    attributes = retried.json()["data"]["attributes"]
    assert (attributes["status"], attributes["payment_status"]) == ("placed", "authorized")
    again = _send(cluster.urls[0], client, "PATCH", path, _place_body(oid), key)
    assert (again.status_code, again.content) == (200, retried.content)
    assert len(cshop.calls("authorize")) == 1
    assert [t["attributes"]["succeeded"] for t in txns(cshop, oid)] == [True]
    assert state(cshop, oid) == ("placed", "authorized")


def test_in_flight_key_answers_409_then_the_first_answer(cluster: Cluster, cshop: Shop) -> None:
    _cid, client = cshop.customer()
    oid = cshop.cart(client)
    cshop.behave("authorize", mode="timeout", seconds=1.0, times=1)
    key, path = secrets.token_urlsafe(24), f"/api/orders/{oid}"
    first: list[httpx.Response] = []
    worker = threading.Thread(
        target=lambda: first.append(
            _send(cluster.urls[0], client, "PATCH", path, _place_body(oid), key)
        )
    )
    worker.start()
    time.sleep(0.4)
    busy = _send(cluster.urls[-1], client, "PATCH", path, _place_body(oid), key)
    worker.join()
    assert busy.status_code == 409, busy.text
    err = error_of(busy)
    assert (err["code"], err["status"], err["source"]) == (
        "IDEMPOTENCY_KEY_IN_USE",
        "409",
        {"header": "Idempotency-Key"},
    )
    assert "still being processed" in err["detail"]
    [original] = first
    assert original.status_code == 200 and REPLAYED not in original.headers
    replay = _send(cluster.urls[-1], client, "PATCH", path, _place_body(oid), key)
    assert (replay.status_code, replay.content) == (200, original.content)
    assert len(cshop.calls("authorize")) == 1


def test_same_key_with_another_request_is_422(cluster: Cluster, cshop: Shop) -> None:
    admin, key = cshop.admin, "addr-" + secrets.token_hex(6)
    name = "Idem " + secrets.token_hex(4)
    body = {"data": {"type": "addresses", "attributes": {**ADDRESS, "company": name}}}
    created = _send(cluster.urls[0], admin, "POST", "/api/addresses", body, key)
    assert created.status_code == 201, created.text
    assert REPLAYED not in created.headers
    # The same request, spelled with other spacing and key order: a replay, nothing created.
    respelled = json.loads(json.dumps(body, indent=2, sort_keys=True))
    replay = _send(cluster.urls[-1], admin, "POST", "/api/addresses", respelled, key)
    assert (replay.status_code, replay.content) == (201, created.content)
    assert replay.headers[REPLAYED] == "true"
    other = {"data": {"type": "addresses", "attributes": {**ADDRESS, "company": name + "!"}}}
    for method, path, sent in [
        ("POST", "/api/addresses", other),
        ("POST", "/api/addresses?include=geocoder", body),
        ("PATCH", f"/api/addresses/{created.json()['data']['id']}", body),
    ]:
        r = _send(cluster.urls[0], admin, method, path, sent, key)
        assert r.status_code == 422, r.text
        err = error_of(r)
        assert (err["code"], err["source"]) == (
            "IDEMPOTENCY_KEY_REUSED",
            {"header": "Idempotency-Key"},
        )
        assert "another request" in err["detail"]
    found = admin.get("/api/addresses", **{"filter[q][company_start]": "Idem "})
    assert [a["attributes"]["company"] for a in found.json()["data"]].count(name) == 1


def test_another_callers_key_never_replays(cluster: Cluster, cshop: Shop) -> None:
    _a, alice = cshop.customer()
    _b, bob = cshop.customer()
    _c, carol = cshop.customer()
    key = "shared-" + secrets.token_hex(6)
    oid = cshop.cart(alice)
    path = f"/api/orders/{oid}"
    placed = _send(cluster.urls[0], alice, "PATCH", path, _place_body(oid), key)
    assert placed.status_code == 200, placed.text
    # Bob's own order with Alice's key is placed for him, not answered with her order.
    his = cshop.cart(bob)
    own = _send(cluster.urls[-1], bob, "PATCH", f"/api/orders/{his}", _place_body(his), key)
    assert own.status_code == 200 and REPLAYED not in own.headers
    assert own.json()["data"]["id"] == his
    # Carol sends Alice's very request and key: it runs as hers, and she may not see the order.
    stolen = _send(cluster.urls[-1], carol, "PATCH", path, _place_body(oid), key)
    assert stolen.status_code == 404, stolen.text
    assert REPLAYED not in stolen.headers and oid not in stolen.text
    # Bob, whose key now names his own request, is refused rather than answered.
    reused = _send(cluster.urls[0], bob, "PATCH", path, _place_body(oid), key)
    assert reused.status_code == 422 and oid not in reused.text
    # Two guests are two callers, even on one sales channel.
    guest_one, guest_two = cshop.guest(), cshop.guest()
    cart = cshop.cart(guest_one)
    body = _place_body(cart)
    first = _send(cluster.urls[0], guest_one, "PATCH", f"/api/orders/{cart}", body, key)
    assert first.status_code == 200, first.text
    second = _send(cluster.urls[-1], guest_two, "PATCH", f"/api/orders/{cart}", body, key)
    assert REPLAYED not in second.headers and second.content != first.content
    # The integration of another organization, same key and path: no replay either.
    other = cluster.first.new_org()
    token = token_for(
        cluster.urls[0],
        {
            "grant_type": "client_credentials",
            "client_id": other["integration_client_id"],
            "client_secret": other["integration_client_secret"],
        },
    )
    outsider = _send(cluster.urls[0], Client(cluster.urls[0], token), "PATCH", path, body, key)
    assert outsider.status_code == 404 and REPLAYED not in outsider.headers
    assert len(cshop.calls("authorize")) == 3  # Alice, Bob, the first guest: nothing else


def test_malformed_keys_are_refused_before_anything_runs(cluster: Cluster, cshop: Shop) -> None:
    admin = cshop.admin
    company = "Badkey " + secrets.token_hex(4)
    body = {"data": {"type": "addresses", "attributes": {**ADDRESS, "company": company}}}
    malformed: list[str | bytes] = ["", "x" * 256, "two words", b"caf\xc3\xa9"]
    for bad in malformed:
        r = _send(cluster.urls[0], admin, "POST", "/api/addresses", body, bad)
        assert r.status_code == 400, (bad, r.text)
        err = error_of(r)
        assert (err["code"], err["source"]) == (
            "INVALID_IDEMPOTENCY_KEY",
            {"header": "Idempotency-Key"},
        )
        assert "1 to 255 visible ASCII characters" in err["detail"]
    longest = _send(cluster.urls[0], admin, "POST", "/api/addresses", body, "k" * 255)
    assert longest.status_code == 201, longest.text
    found = admin.get("/api/addresses", **{"filter[q][company_eq]": company})
    assert len(found.json()["data"]) == 1


def test_errors_and_deletes_replay_and_reads_ignore_the_key(cluster: Cluster, cshop: Shop) -> None:
    admin, key = cshop.admin, "del-" + secrets.token_hex(6)
    address = admin.create("addresses", ADDRESS)
    path = f"/api/addresses/{address['id']}"
    gone = _send(cluster.urls[0], admin, "DELETE", path, None, key)
    assert gone.status_code == 204, gone.text
    replay = _send(cluster.urls[-1], admin, "DELETE", path, None, key)
    assert (replay.status_code, replay.headers[REPLAYED]) == (204, "true")
    assert _send(cluster.urls[-1], admin, "DELETE", path, None, "fresh-" + key).status_code == 404
    # A refused request is an answer too: replayed as it was.
    invalid = {"data": {"type": "addresses", "attributes": {"city": "Milano"}}}
    bad_key = "invalid-" + secrets.token_hex(6)
    refused = _send(cluster.urls[0], admin, "POST", "/api/addresses", invalid, bad_key)
    assert refused.status_code == 422, refused.text
    again = _send(cluster.urls[-1], admin, "POST", "/api/addresses", invalid, bad_key)
    assert (again.status_code, again.content, again.headers[REPLAYED]) == (
        422,
        refused.content,
        "true",
    )
    # GET is not a write: the key is ignored.
    read = _send(cluster.urls[0], admin, "GET", "/api/addresses", None, key)
    assert read.status_code == 200 and REPLAYED not in read.headers
