"""Tests for the reference payment processor (kassa.fake_processor)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kassa.fake_processor import SIGNATURE_HEADER, ProcessorServer, sign

SECRET = "1c0994cc4e996e8c6ee56a2198f66f3c"


@pytest.fixture(scope="module")
def server() -> Iterator[ProcessorServer]:
    with ProcessorServer() as srv:
        yield srv


@pytest.fixture()
def client(server: ProcessorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10.0) as c:
        yield c


@pytest.fixture()
def account() -> str:
    return f"acct-{uuid.uuid4().hex[:12]}"


def _doc(
    type_: str = "authorizations",
    attributes: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
    included: list[dict[str, Any]] | None = None,
) -> bytes:
    data: dict[str, Any] = {"id": "ZNKjeUYepv", "type": type_, "attributes": attributes or {}}
    if meta is not None:
        data["meta"] = meta
    return json.dumps({"data": data, "included": included or []}).encode()


def _order(total: int = 5000) -> dict[str, Any]:
    return {"id": "ord1", "type": "orders", "attributes": {"total_amount_with_taxes_cents": total}}


def _call(
    client: httpx.Client,
    account: str,
    action: str,
    body: bytes,
    secret: str | None = None,
    signature: str | None = None,
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is None and secret is not None:
        signature = sign(secret, body)
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    return client.post(f"/{account}/{action}", content=body, headers=headers)


def _behave(client: httpx.Client, account: str, action: str, **spec: Any) -> None:
    resp = client.put(f"/_accounts/{account}/behaviour/{action}", json=spec)
    assert resp.status_code == 200, resp.text


def _calls(client: httpx.Client, account: str) -> list[dict[str, Any]]:
    resp = client.get(f"/_accounts/{account}/calls")
    assert resp.status_code == 200
    calls: list[dict[str, Any]] = resp.json()["calls"]
    return calls


def test_signature_vector() -> None:
    body = b'{"data":{"id":"ZNKjeUYepv","type":"external_payments"},"included":[]}'
    assert sign(SECRET, body) == "uT3u9tk4DZ0obxwYbSzhd00oqCfIFSE/+y7d/mu+xRg="


def test_server_url(server: ProcessorServer) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    assert server.port > 0


def test_signed_authorize_is_approved_and_recorded(client: httpx.Client, account: str) -> None:
    assert client.put(f"/_accounts/{account}", json={"shared_secret": SECRET}).json() == {}
    body = _doc(meta={"amount_cents": 1234}, included=[_order(9999)])
    resp = _call(client, account, "authorize", body, secret=SECRET)
    assert resp.status_code == 200
    payload = resp.json()
    assert payload["success"] is True
    assert payload["data"]["amount_cents"] == 1234
    assert payload["data"]["transaction_token"].startswith("ft_")
    assert "metadata" not in payload["data"]

    (call,) = _calls(client, account)
    assert call["action"] == "authorize"
    assert call["body"] == body.decode()
    assert call["json"] == json.loads(body)
    assert call["signature"] == sign(SECRET, body)
    assert call["signature_valid"] is True
    assert call["status"] == 200
    assert call["response"] == payload


def test_authorize_amount_falls_back_to_order_total(client: httpx.Client, account: str) -> None:
    resp = _call(client, account, "authorize", _doc(included=[_order(4200)]))
    assert resp.json()["data"]["amount_cents"] == 4200
    assert _calls(client, account)[0]["signature_valid"] is None


@pytest.mark.parametrize(
    ("action", "attribute"),
    [
        ("capture", "capture_amount_cents"),
        ("void", "void_balance_cents"),
        ("refund", "refund_amount_cents"),
    ],
)
def test_other_actions_amounts(
    client: httpx.Client, account: str, action: str, attribute: str
) -> None:
    resp = _call(client, account, action, _doc(type_=action, attributes={attribute: 700}))
    assert resp.status_code == 200
    assert resp.json()["data"]["amount_cents"] == 700
    resp = _call(client, account, action, _doc(type_=action))
    assert resp.json()["data"]["amount_cents"] == 0


def test_wrong_signature_is_rejected(client: httpx.Client, account: str) -> None:
    client.put(f"/_accounts/{account}", json={"shared_secret": SECRET})
    body = _doc(meta={"amount_cents": 100})
    resp = _call(client, account, "authorize", body, secret="not-the-secret")
    assert resp.status_code == 401
    expected = {
        "success": False,
        "error": {"code": "INVALID_SIGNATURE", "message": "signature mismatch"},
    }
    assert resp.json() == expected
    # Signature over a re-serialised (different) body must fail too.
    resp = _call(client, account, "authorize", body, signature=sign(SECRET, body + b" "))
    assert resp.status_code == 401
    # Missing header.
    assert _call(client, account, "authorize", body).status_code == 401
    calls = _calls(client, account)
    assert [c["signature_valid"] for c in calls] == [False, False, False]
    assert [c["status"] for c in calls] == [401, 401, 401]


def test_decline(client: httpx.Client, account: str) -> None:
    _behave(
        client,
        account,
        "authorize",
        mode="decline",
        code="CARD_DECLINED",
        message="Card declined by issuer",
    )
    resp = _call(client, account, "authorize", _doc(meta={"amount_cents": 500}))
    assert resp.status_code == 200
    payload = resp.json()
    assert payload["success"] is False
    assert payload["data"]["amount_cents"] == 500
    assert payload["data"]["transaction_token"].startswith("ft_")
    assert payload["data"]["error"] == {
        "code": "CARD_DECLINED",
        "message": "Card declined by issuer",
    }


def test_http_error(client: httpx.Client, account: str) -> None:
    _behave(client, account, "capture", mode="http_error", status=500)
    resp = _call(client, account, "capture", _doc(type_="captures"))
    assert resp.status_code == 500
    assert _calls(client, account)[0]["status"] == 500


def test_garbage(client: httpx.Client, account: str) -> None:
    _behave(client, account, "authorize", mode="garbage")
    resp = _call(client, account, "authorize", _doc())
    assert resp.status_code == 200
    assert resp.text == "not json"
    call = _calls(client, account)[0]
    assert call["status"] == 200
    assert call["response"] is None


def test_async(client: httpx.Client, account: str) -> None:
    _behave(client, account, "authorize", mode="async")
    resp = _call(client, account, "authorize", _doc(meta={"amount_cents": 300}))
    assert resp.status_code == 202
    payload = resp.json()
    assert payload["success"] is True
    assert payload["data"]["action_id"].startswith("act_")
    assert payload["data"]["transaction_token"].startswith("ft_")
    assert payload["data"]["amount_cents"] == 300


def test_timeout_sleeps_then_approves(client: httpx.Client, account: str) -> None:
    _behave(client, account, "authorize", mode="timeout", seconds=0.5)
    started = time.monotonic()
    resp = _call(client, account, "authorize", _doc(meta={"amount_cents": 10}))
    assert time.monotonic() - started >= 0.5
    assert resp.status_code == 200
    assert resp.json()["success"] is True


def test_timeout_client_gives_up(server: ProcessorServer, account: str) -> None:
    with (
        httpx.Client(base_url=server.url, timeout=10.0) as c,
        httpx.Client(base_url=server.url, timeout=0.1) as impatient,
    ):
        _behave(c, account, "authorize", mode="timeout", seconds=0.5, times=1)
        with pytest.raises(httpx.ReadTimeout):
            _call(impatient, account, "authorize", _doc())
        # The server stays responsive while the slow call sleeps, and `times` ran out.
        assert _call(c, account, "authorize", _doc()).status_code == 200


def test_times_reverts_to_approve(client: httpx.Client, account: str) -> None:
    _behave(client, account, "authorize", mode="decline", times=2)
    results = [_call(client, account, "authorize", _doc()).json()["success"] for _ in range(4)]
    assert results == [False, False, True, True]


def test_metadata_and_payment_instrument(client: httpx.Client, account: str) -> None:
    instrument = {"issuer_type": "credit card", "card_type": "visa", "last_four": "4242"}
    _behave(
        client,
        account,
        "authorize",
        mode="approve",
        metadata={"foo": "bar"},
        payment_instrument=instrument,
    )
    data = _call(client, account, "authorize", _doc()).json()["data"]
    assert data["metadata"] == {"foo": "bar"}
    assert data["payment_instrument"] == instrument


def test_invalid_behaviour_is_rejected(client: httpx.Client, account: str) -> None:
    resp = client.put(f"/_accounts/{account}/behaviour/authorize", json={"mode": "explode"})
    assert resp.status_code == 400
    resp = client.put(f"/_accounts/{account}/behaviour/launch", json={"mode": "approve"})
    assert resp.status_code == 404


def test_token_customer_token_is_stable(client: httpx.Client, account: str) -> None:
    customer = {"id": "cust1", "type": "customers", "attributes": {"email": "a@b.c"}}
    body = _doc(type_="external_payments", included=[_order(), customer])
    first = _call(client, account, "token", body).json()
    second = _call(client, account, "token", body).json()
    assert first["success"] is True and second["success"] is True
    assert first["data"]["customer_token"].startswith("cus_")
    assert first["data"]["customer_token"] == second["data"]["customer_token"]
    assert first["data"]["payment_source_token"].startswith("pm_")
    assert first["data"]["payment_source_token"] != second["data"]["payment_source_token"]

    other = {**customer, "id": "cust2"}
    third = _call(client, account, "token", _doc(included=[other])).json()
    assert third["data"]["customer_token"] != first["data"]["customer_token"]
    guest = _call(client, account, "token", _doc()).json()["data"]["customer_token"]
    assert guest == _call(client, account, "token", _doc()).json()["data"]["customer_token"]
    assert guest not in (first["data"]["customer_token"], third["data"]["customer_token"])


def test_accounts_are_isolated(client: httpx.Client) -> None:
    a, b = f"iso-a-{uuid.uuid4().hex[:8]}", f"iso-b-{uuid.uuid4().hex[:8]}"
    client.put(f"/_accounts/{a}", json={"shared_secret": SECRET})
    _behave(client, a, "authorize", mode="decline")
    # b has no secret and default behaviour.
    resp = _call(client, b, "authorize", _doc())
    assert resp.status_code == 200 and resp.json()["success"] is True
    resp = _call(client, a, "authorize", _doc(), secret=SECRET)
    assert resp.json()["success"] is False
    assert len(_calls(client, a)) == 1
    assert len(_calls(client, b)) == 1
    assert _calls(client, b)[0]["signature_valid"] is None

    customer = {"id": "same", "type": "customers"}
    tok_a = _call(client, a, "token", _doc(included=[customer]), secret=SECRET).json()
    tok_b = _call(client, b, "token", _doc(included=[customer])).json()
    assert tok_a["data"]["customer_token"] != tok_b["data"]["customer_token"]


def test_clear_calls(client: httpx.Client, account: str) -> None:
    _call(client, account, "void", _doc(type_="voids"))
    assert len(_calls(client, account)) == 1
    assert client.delete(f"/_accounts/{account}/calls").status_code == 200
    assert _calls(client, account) == []
