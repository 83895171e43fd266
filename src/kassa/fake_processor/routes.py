"""The processor's HTTP application: the callouts Kassa sends and the control routes."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from kassa.fake_processor.protocol import (
    ACTIONS,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    amount_of,
    as_dict,
    body_key,
    customer_key,
    error_response,
    parse_json,
    verify,
)
from kassa.fake_processor.state import Account, BadRequest, Behaviour, Keyed, parse_behaviour


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
            key = customer_key(doc)
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
                "amount_cents": amount_of(action, doc),
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
            return error_response(behaviour.status, "PROCESSOR_ERROR", message)
        if mode == "garbage":
            return PlainTextResponse("not json")
        if mode == "decline":
            error = {"code": behaviour.code, "message": behaviour.message}
            data: dict[str, Any] = {}
            if action != "token":
                data["transaction_token"] = f"ft_{secrets.token_hex(8)}"
                data["amount_cents"] = amount_of(action, doc)
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
            return error_response(404, "NOT_FOUND", f"unknown action {action!r}")
        raw = await request.body()
        account = account_for(request.path_params["account"])
        signature = request.headers.get(SIGNATURE_HEADER)
        parsed = parse_json(raw)
        key = request.headers.get(IDEMPOTENCY_HEADER) or body_key(parsed)
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
                response: Response = error_response(401, "INVALID_SIGNATURE", "signature mismatch")
                call["status"], call["response"] = 401, parse_json(bytes(response.body))
                return response
        if key:
            response = await keyed(account, action, key, as_dict(parsed), call)
        else:
            behaviour = next_behaviour(account, action)
            response = await answer(account, action, as_dict(parsed), behaviour)
        call["status"], call["response"] = response.status_code, parse_json(bytes(response.body))
        return response

    async def keyed(
        account: Account, action: str, key: str, doc: dict[str, Any], call: dict[str, Any]
    ) -> Response:
        """Answer once per key: a repeat gets the first answer (waiting for it if the first
        call is still being answered); an answer of HTTP 5xx is not kept."""
        while (entry := account.keys.get(key)) is not None:
            if entry.action != action:
                message = f"key already used for {entry.action}"
                return error_response(422, "IDEMPOTENCY_KEY_REUSED", message)
            if entry.status is not None:
                call["replayed"] = True
                return Response(entry.body, entry.status, media_type="application/json")
            await entry.done.wait()
        entry = account.keys[key] = Keyed(action)
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
        payload = parse_json(await request.body())
        if not isinstance(payload, dict):
            raise BadRequest("body must be a JSON object")
        return payload

    async def put_account(request: Request) -> Response:
        try:
            payload = await read_control_body(request)
        except BadRequest as exc:
            return error_response(400, "BAD_REQUEST", str(exc))
        secret = payload.get("shared_secret")
        if secret is not None and not isinstance(secret, str):
            return error_response(400, "BAD_REQUEST", "shared_secret must be a string or null")
        account_for(request.path_params["account"]).shared_secret = secret
        return JSONResponse({})

    async def put_behaviour(request: Request) -> Response:
        action = request.path_params["action"]
        if action not in ACTIONS:
            return error_response(404, "NOT_FOUND", f"unknown action {action!r}")
        try:
            behaviour = parse_behaviour(await read_control_body(request))
        except BadRequest as exc:
            return error_response(400, "BAD_REQUEST", str(exc))
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
                "data": as_dict(c["response"]).get("data"),
            }
            for c in (account.calls if account else [])
            if not c["replayed"] and c["status"] == 200 and as_dict(c["response"]).get("success")
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
