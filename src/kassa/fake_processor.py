"""Reference payment processor: a fake external payment gateway that Kassa calls over HTTP.

Tests and the demo run it on loopback (see :class:`ProcessorServer`). It is also the
example to copy when writing your own gateway endpoint for external payments.

Callouts
--------
Kassa sends ``POST {gateway_url}/{action}`` for each action of an external payment,
where ``action`` is one of ``authorize``, ``capture``, ``void``, ``refund`` and ``token``.
Here the gateway URL is ``http://host:port/{account}``; ``account`` is a free namespace,
so independent tests never see each other's state.

The body is a JSON:API document::

    {"data": {"id": "...", "type": "...", "attributes": {...}, "meta": {...}},
     "included": [{"id": "...", "type": "orders", "attributes": {...}}, ...]}

and the ``X-CommerceLayer-Signature`` header carries
``base64(HMAC-SHA256(key=shared_secret, msg=raw_body))``. Always verify it against the
raw body bytes, before parsing (re-serialising the JSON changes the bytes); see :func:`sign`
and :func:`verify`. A mismatch is answered with HTTP 401 and
``{"success": false, "error": {"code": "INVALID_SIGNATURE", "message": "signature mismatch"}}``.

Answers
-------
Approved ``authorize``/``capture``/``void``/``refund`` (HTTP 200)::

    {"success": true, "data": {"transaction_token": "ft_...", "amount_cents": 1000}}

Approved ``token`` (HTTP 200)::

    {"success": true, "data": {"customer_token": "cus_...", "payment_source_token": "pm_..."}}

Declined (HTTP 200)::

    {"success": false, "data": {"transaction_token": "ft_...", "amount_cents": 1000,
                                "error": {"code": "CARD_DECLINED", "message": "..."}}}

Accepted for asynchronous completion (HTTP 202)::

    {"success": true, "data": {"action_id": "act_...", "transaction_token": "ft_...",
                               "amount_cents": 1000}}

A real gateway later reports the outcome to Kassa with
``POST {kassa}/webhook_callbacks/external_gateways/{gateway id}``, body
``{"success": true, "data": {"action_id": "act_..."}}`` signed the same way (tests send it
themselves; see :mod:`kassa.payments.async_completion`).

Idempotency
-----------
Kassa sends ``Idempotency-Key: <id>`` with every callout, the id of the transaction (or
wallet entry) the callout creates, and repeats it in ``data.meta.idempotency_key``; a
repeated callout (the recovery after a crash) carries the same key and the same body.
The processor answers a key once: a repeat gets the first answer again (waiting for it
while the first call is still being answered) and has no further effect; an answer of HTTP
5xx is not kept (nothing happened), so its repeat is processed afresh. The same key for
another action is refused with 422 ``IDEMPOTENCY_KEY_REUSED``. Without a key every call is
a new transaction.

The amount comes from ``data.meta.amount_cents`` (else the ``total_amount_with_taxes_cents``
of the first included ``orders``) for ``authorize``, and from ``data.attributes`` field
``capture_amount_cents``, ``void_balance_cents`` or ``refund_amount_cents`` otherwise.

Control routes (tests only)
---------------------------
* ``PUT /_accounts/{account}`` ``{"shared_secret": "..."}``: set (or, with null, unset)
  the secret; calls to an account without a secret are not verified.
* ``PUT /_accounts/{account}/behaviour/{action}`` ``{"mode": ...}``: script the next
  answers. Modes: ``approve``; ``decline`` (``code``, ``message``); ``timeout``
  (``seconds``, then approve); ``http_error`` (``status``); ``garbage`` (200, body
  ``not json``); ``async`` (202). Optional ``times`` (revert to approve after N calls),
  ``metadata`` (merged into success ``data``), ``payment_instrument`` (added to
  authorize success ``data``), ``hold`` (seconds to wait before answering, in any mode;
  the answer is decided after the wait).
* ``GET /_accounts/{account}/calls``: the ledger of received calls, in arrival order (each
  with its ``idempotency_key`` and whether it was ``replayed``).
* ``GET /_accounts/{account}/charges``: the effects, one per approved call that was not a
  replay.
* ``DELETE /_accounts/{account}/calls``: clear the ledger.

Run standalone with ``python -m kassa.fake_processor --host 127.0.0.1 --port 9090``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

__all__ = ["ACTIONS", "MODES", "SIGNATURE_HEADER", "ProcessorServer", "build_app", "main", "sign"]

SIGNATURE_HEADER = "X-CommerceLayer-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
ACTIONS = ("authorize", "capture", "void", "refund", "token")
MODES = ("approve", "decline", "timeout", "http_error", "garbage", "async")

_AMOUNT_ATTRIBUTES = {
    "capture": "capture_amount_cents",
    "void": "void_balance_cents",
    "refund": "refund_amount_cents",
}


def sign(secret: str, body: bytes) -> str:
    """Return the base64 HMAC-SHA256 signature of ``body`` keyed with ``secret``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(secret: str, body: bytes, signature: str | None) -> bool:
    """Check ``signature`` against the raw ``body`` in constant time."""
    if not signature:
        return False
    return hmac.compare_digest(sign(secret, body).encode("ascii"), signature.encode("utf-8"))


@dataclass
class Behaviour:
    """How the processor answers one action of one account."""

    mode: str = "approve"
    code: str = "CARD_DECLINED"
    message: str = "Card declined by issuer"
    seconds: float = 5.0
    status: int = 500
    times: int | None = None
    metadata: dict[str, Any] | None = None
    payment_instrument: dict[str, Any] | None = None
    hold: float = 0.0
    """Seconds to wait before answering, in any mode (the answer is decided after)."""


@dataclass
class _Keyed:
    """The answer to one idempotency key: in flight until ``done`` is set."""

    action: str
    done: asyncio.Event = field(default_factory=asyncio.Event)
    status: int | None = None
    body: bytes = b""


@dataclass
class Account:
    """In-memory state of one account namespace."""

    shared_secret: str | None = None
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    customer_tokens: dict[str, str] = field(default_factory=dict)
    keys: dict[str, _Keyed] = field(default_factory=dict)


class _BadRequest(Exception):
    """Raised on an invalid control request."""


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"success": False, "error": {"code": code, "message": message}}, status)


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _included(doc: dict[str, Any], type_: str) -> dict[str, Any] | None:
    included = doc.get("included")
    if not isinstance(included, list):
        return None
    for entry in included:
        if isinstance(entry, dict) and entry.get("type") == type_:
            return entry
    return None


def _amount(action: str, doc: dict[str, Any]) -> int:
    """Extract the amount in cents a callout is about (0 when absent)."""
    data = _as_dict(doc.get("data"))
    if action == "authorize":
        amount = _as_int(_as_dict(data.get("meta")).get("amount_cents"))
        if amount is not None:
            return amount
        order = _included(doc, "orders")
        if order is not None:
            amount = _as_int(_as_dict(order.get("attributes")).get("total_amount_with_taxes_cents"))
        return amount or 0
    attribute = _AMOUNT_ATTRIBUTES.get(action)
    if attribute is None:
        return 0
    return _as_int(_as_dict(data.get("attributes")).get(attribute)) or 0


def _body_key(doc: Any) -> str | None:
    """``data.meta.idempotency_key`` of a callout body, for callers that strip headers."""
    key = _as_dict(_as_dict(_as_dict(doc).get("data")).get("meta")).get("idempotency_key")
    return key if isinstance(key, str) and key else None


def _customer_key(doc: dict[str, Any]) -> str:
    customer = _included(doc, "customers")
    if customer is not None and customer.get("id") not in (None, ""):
        return str(customer["id"])
    return "guest"


def _parse_behaviour(payload: Any) -> Behaviour:
    if not isinstance(payload, dict):
        raise _BadRequest("body must be a JSON object")
    mode = payload.get("mode", "approve")
    if mode not in MODES:
        raise _BadRequest(f"mode must be one of {', '.join(MODES)}")
    behaviour = Behaviour(mode=mode)
    for name in ("code", "message"):
        if name in payload:
            if not isinstance(payload[name], str):
                raise _BadRequest(f"{name} must be a string")
            setattr(behaviour, name, payload[name])
    if "seconds" in payload:
        seconds = payload["seconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise _BadRequest("seconds must be a non-negative number")
        behaviour.seconds = float(seconds)
    if "hold" in payload:
        hold = payload["hold"]
        if isinstance(hold, bool) or not isinstance(hold, int | float) or hold < 0:
            raise _BadRequest("hold must be a non-negative number")
        behaviour.hold = float(hold)
    if "status" in payload:
        status = _as_int(payload["status"])
        if status is None or not 100 <= status <= 599:
            raise _BadRequest("status must be an HTTP status code")
        behaviour.status = status
    if payload.get("times") is not None:
        times = _as_int(payload["times"])
        if times is None or times < 1:
            raise _BadRequest("times must be a positive integer")
        behaviour.times = times
    for name in ("metadata", "payment_instrument"):
        if payload.get(name) is not None:
            if not isinstance(payload[name], dict):
                raise _BadRequest(f"{name} must be an object")
            setattr(behaviour, name, payload[name])
    return behaviour


def build_app() -> Starlette:
    """Build the processor application with fresh in-memory state."""
    accounts: dict[str, Account] = {}

    def account_for(name: str) -> Account:
        account = accounts.get(name)
        if account is None:
            account = accounts[name] = Account()
        return account

    def next_behaviour(account: Account, action: str) -> Behaviour:
        # Synchronous read-modify-write: safe on a single event loop.
        behaviour = account.behaviours.get(action) or Behaviour()
        if behaviour.times is not None:
            behaviour.times -= 1
            if behaviour.times <= 0:
                account.behaviours.pop(action, None)
        return behaviour

    def success_data(
        account: Account, action: str, doc: dict[str, Any], behaviour: Behaviour
    ) -> dict[str, Any]:
        data: dict[str, Any]
        if action == "token":
            key = _customer_key(doc)
            customer_token = account.customer_tokens.get(key)
            if customer_token is None:
                customer_token = account.customer_tokens[key] = f"cus_{secrets.token_hex(8)}"
            data = {
                "customer_token": customer_token,
                "payment_source_token": f"pm_{secrets.token_hex(8)}",
            }
        else:
            data = {
                "transaction_token": f"ft_{secrets.token_hex(8)}",
                "amount_cents": _amount(action, doc),
            }
            if action == "authorize" and behaviour.payment_instrument is not None:
                data["payment_instrument"] = behaviour.payment_instrument
        if behaviour.metadata is not None:
            data["metadata"] = behaviour.metadata
        return data

    async def answer(
        account: Account, action: str, doc: dict[str, Any], behaviour: Behaviour
    ) -> Response:
        mode = behaviour.mode
        if behaviour.hold:
            await asyncio.sleep(behaviour.hold)
        if mode == "timeout":
            await asyncio.sleep(behaviour.seconds)
            mode = "approve"
        if mode == "http_error":
            message = f"processor failed with HTTP {behaviour.status}"
            return _error(behaviour.status, "PROCESSOR_ERROR", message)
        if mode == "garbage":
            return PlainTextResponse("not json")
        if mode == "decline":
            error = {"code": behaviour.code, "message": behaviour.message}
            data: dict[str, Any] = {}
            if action != "token":
                data["transaction_token"] = f"ft_{secrets.token_hex(8)}"
                data["amount_cents"] = _amount(action, doc)
            data["error"] = error
            return JSONResponse({"success": False, "data": data})
        data = success_data(account, action, doc, behaviour)
        if mode == "async":
            data = {"action_id": f"act_{secrets.token_hex(8)}", **data}
            return JSONResponse({"success": True, "data": data}, 202)
        return JSONResponse({"success": True, "data": data})

    async def callout(request: Request) -> Response:
        action = request.path_params["action"]
        if action not in ACTIONS:
            return _error(404, "NOT_FOUND", f"unknown action {action!r}")
        raw = await request.body()
        account = account_for(request.path_params["account"])
        signature = request.headers.get(SIGNATURE_HEADER)
        parsed = _parse_json(raw)
        key = request.headers.get(IDEMPOTENCY_HEADER) or _body_key(parsed)
        call: dict[str, Any] = {
            "action": action,
            "body": raw.decode("utf-8", errors="replace"),
            "json": parsed,
            "signature": signature,
            "signature_valid": None,
            "idempotency_key": key,
            "replayed": False,
            "status": None,
            "response": None,
        }
        account.calls.append(call)
        if account.shared_secret is not None:
            call["signature_valid"] = verify(account.shared_secret, raw, signature)
            if not call["signature_valid"]:
                response: Response = _error(401, "INVALID_SIGNATURE", "signature mismatch")
                call["status"], call["response"] = 401, _parse_json(bytes(response.body))
                return response
        if key:
            response = await keyed(account, action, key, _as_dict(parsed), call)
        else:
            behaviour = next_behaviour(account, action)
            response = await answer(account, action, _as_dict(parsed), behaviour)
        call["status"], call["response"] = response.status_code, _parse_json(bytes(response.body))
        return response

    async def keyed(
        account: Account, action: str, key: str, doc: dict[str, Any], call: dict[str, Any]
    ) -> Response:
        """Answer once per key: a repeat gets the first answer (waiting for it if the first
        call is still being answered); an answer of HTTP 5xx is not kept."""
        while (entry := account.keys.get(key)) is not None:
            if entry.action != action:
                message = f"key already used for {entry.action}"
                return _error(422, "IDEMPOTENCY_KEY_REUSED", message)
            if entry.status is not None:
                call["replayed"] = True
                return Response(entry.body, entry.status, media_type="application/json")
            await entry.done.wait()
        entry = account.keys[key] = _Keyed(action)
        try:
            response = await answer(account, action, doc, next_behaviour(account, action))
            if response.status_code < 500:
                entry.status, entry.body = response.status_code, bytes(response.body)
            return response
        finally:
            if entry.status is None:
                account.keys.pop(key, None)
            entry.done.set()

    async def read_control_body(request: Request) -> Any:
        payload = _parse_json(await request.body())
        if not isinstance(payload, dict):
            raise _BadRequest("body must be a JSON object")
        return payload

    async def put_account(request: Request) -> Response:
        try:
            payload = await read_control_body(request)
        except _BadRequest as exc:
            return _error(400, "BAD_REQUEST", str(exc))
        secret = payload.get("shared_secret")
        if secret is not None and not isinstance(secret, str):
            return _error(400, "BAD_REQUEST", "shared_secret must be a string or null")
        account_for(request.path_params["account"]).shared_secret = secret
        return JSONResponse({})

    async def put_behaviour(request: Request) -> Response:
        action = request.path_params["action"]
        if action not in ACTIONS:
            return _error(404, "NOT_FOUND", f"unknown action {action!r}")
        try:
            behaviour = _parse_behaviour(await read_control_body(request))
        except _BadRequest as exc:
            return _error(400, "BAD_REQUEST", str(exc))
        account_for(request.path_params["account"]).behaviours[action] = behaviour
        return JSONResponse({})

    async def get_calls(request: Request) -> Response:
        account = accounts.get(request.path_params["account"])
        return JSONResponse({"calls": list(account.calls) if account else []})

    async def get_charges(request: Request) -> Response:
        """The effects of approved calls, once per key (replays are not effects)."""
        account = accounts.get(request.path_params["account"])
        charges = [
            {
                "action": c["action"],
                "idempotency_key": c["idempotency_key"],
                "data": _as_dict(c["response"]).get("data"),
            }
            for c in (account.calls if account else [])
            if not c["replayed"] and c["status"] == 200 and _as_dict(c["response"]).get("success")
        ]
        return JSONResponse({"charges": charges})

    async def delete_calls(request: Request) -> Response:
        account = accounts.get(request.path_params["account"])
        if account is not None:
            account.calls.clear()
        return JSONResponse({})

    routes = [
        Route("/_accounts/{account}", put_account, methods=["PUT"]),
        Route("/_accounts/{account}/behaviour/{action}", put_behaviour, methods=["PUT"]),
        Route("/_accounts/{account}/calls", get_calls, methods=["GET"]),
        Route("/_accounts/{account}/calls", delete_calls, methods=["DELETE"]),
        Route("/_accounts/{account}/charges", get_charges, methods=["GET"]),
        Route("/{account}/{action}", callout, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.accounts = accounts
    return app


class ProcessorServer:
    """Run the processor with uvicorn in a background thread on loopback.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, app: Starlette | None = None, host: str = "127.0.0.1") -> None:
        self.app = app if app is not None else build_app()
        self.host = host
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (valid after :meth:`start`)."""
        if self._server is None:
            raise RuntimeError("server not started")
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> ProcessorServer:
        """Start serving; return once the server accepts connections."""
        if self._server is not None:
            raise RuntimeError("server already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off")
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="fake-processor", daemon=True
        )
        self._server, self._thread, self._sock = server, thread, sock
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("fake processor failed to start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving; in-flight requests get ``timeout`` seconds to finish."""
        server, thread, sock = self._server, self._thread, self._sock
        self._server = self._thread = self._sock = None
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(timeout)
        if sock is not None:
            sock.close()

    def __enter__(self) -> ProcessorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Serve the processor in the foreground."""
    parser = argparse.ArgumentParser(
        prog="python -m kassa.fake_processor", description="Reference payment processor."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9090)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    config = uvicorn.Config(
        build_app(), host=args.host, port=args.port, log_level=args.log_level, lifespan="off"
    )
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
