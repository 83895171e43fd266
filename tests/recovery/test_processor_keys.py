"""The reference processor honours ``Idempotency-Key``: one effect per key, over HTTP."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kassa.fake_processor import ProcessorServer


@pytest.fixture(scope="module")
def proc() -> Iterator[ProcessorServer]:
    with ProcessorServer() as srv:
        yield srv


@pytest.fixture()
def acct(proc: ProcessorServer) -> Iterator[tuple[httpx.Client, str]]:
    with httpx.Client(base_url=proc.url, timeout=10.0) as client:
        yield client, f"acct-{uuid.uuid4().hex[:12]}"


def _body(key: str | None = None, amount: int = 1500) -> bytes:
    meta: dict[str, Any] = {"amount_cents": amount}
    if key is not None:
        meta["idempotency_key"] = key
    return json.dumps({"data": {"id": "src1", "type": "external_payments", "meta": meta}}).encode()


def _post(
    client: httpx.Client, account: str, action: str, body: bytes, key: str | None
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(f"/{account}/{action}", content=body, headers=headers)


def _charges(client: httpx.Client, account: str) -> list[dict[str, Any]]:
    r = client.get(f"/_accounts/{account}/charges")
    assert r.status_code == 200, r.text
    return list(r.json()["charges"])


def test_a_repeated_key_returns_the_first_answer_and_charges_once(
    acct: tuple[httpx.Client, str],
) -> None:
    client, account = acct
    first = _post(client, account, "authorize", _body(), "key-1")
    assert first.status_code == 200 and first.json()["success"] is True
    # Even when the next answer would be a decline, the key's first answer stands.
    client.put(f"/_accounts/{account}/behaviour/authorize", json={"mode": "decline"})
    again = _post(client, account, "authorize", _body(), "key-1")
    assert again.status_code == 200
    assert again.json() == first.json()
    calls = client.get(f"/_accounts/{account}/calls").json()["calls"]
    assert [c["replayed"] for c in calls] == [False, True]
    assert [c["idempotency_key"] for c in calls] == ["key-1", "key-1"]
    [charge] = _charges(client, account)
    assert charge["idempotency_key"] == "key-1"
    assert charge["data"]["transaction_token"] == first.json()["data"]["transaction_token"]
    # Another key is another transaction (declined now); no key, no deduplication.
    assert _post(client, account, "authorize", _body(), "key-2").json()["success"] is False


def test_the_key_in_the_body_counts_when_the_header_is_missing(
    acct: tuple[httpx.Client, str],
) -> None:
    client, account = acct
    one = _post(client, account, "capture", _body("body-key"), None)
    two = _post(client, account, "capture", _body("body-key"), None)
    assert one.json() == two.json()
    assert len(_charges(client, account)) == 1


def test_without_a_key_every_call_is_a_new_charge(acct: tuple[httpx.Client, str]) -> None:
    client, account = acct
    one = _post(client, account, "authorize", _body(), None)
    two = _post(client, account, "authorize", _body(), None)
    assert one.json()["data"]["transaction_token"] != two.json()["data"]["transaction_token"]
    assert len(_charges(client, account)) == 2


def test_a_key_reused_for_another_action_is_refused(acct: tuple[httpx.Client, str]) -> None:
    client, account = acct
    assert _post(client, account, "authorize", _body(), "k").status_code == 200
    r = _post(client, account, "refund", _body(), "k")
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(_charges(client, account)) == 1


def test_a_repeat_during_the_first_call_waits_for_its_answer(
    acct: tuple[httpx.Client, str],
) -> None:
    client, account = acct
    r = client.put(
        f"/_accounts/{account}/behaviour/authorize", json={"mode": "approve", "hold": 0.6}
    )
    assert r.status_code == 200
    answers: list[httpx.Response] = []

    def first() -> None:
        answers.append(
            _post(httpx.Client(base_url=client.base_url), account, "authorize", _body(), "slow")
        )

    thread = threading.Thread(target=first)
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    second = _post(client, account, "authorize", _body(), "slow")
    thread.join()
    assert time.monotonic() - started >= 0.3  # it waited for the first answer
    assert second.json() == answers[0].json()
    assert len(_charges(client, account)) == 1


def test_a_server_error_is_not_kept(acct: tuple[httpx.Client, str]) -> None:
    client, account = acct
    spec = {"mode": "http_error", "status": 503, "times": 1}
    client.put(f"/_accounts/{account}/behaviour/authorize", json=spec)
    assert _post(client, account, "authorize", _body(), "k5").status_code == 503
    # Nothing happened at the first attempt: the repeat is processed afresh.
    again = _post(client, account, "authorize", _body(), "k5")
    assert again.status_code == 200 and again.json()["success"] is True
    assert len(_charges(client, account)) == 1


def test_hold_is_validated(acct: tuple[httpx.Client, str]) -> None:
    client, account = acct
    r = client.put(f"/_accounts/{account}/behaviour/authorize", json={"hold": -1})
    assert r.status_code == 400
