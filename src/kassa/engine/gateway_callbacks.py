"""The endpoint of asynchronous completions, ``POST /webhook_callbacks/external_gateways/{id}``.

The HTTP side of :mod:`kassa.payments.async_completion`: it checks the signature, reads the
body and has payments apply it, answering every refusal with a JSON:API error document.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from sqlalchemy.exc import DBAPIError
from starlette.requests import Request
from starlette.responses import Response

from kassa.auth.principal import Principal
from kassa.engine.context import Ctx, Services
from kassa.failures import Failure, busy
from kassa.jsonapi.errors import ApiError, api_error, bad_request, error_object, unauthorized
from kassa.payments.async_completion import apply, fields_of, load_gateway
from kassa.payments.callouts import SIGNATURE_HEADER, verify
from kassa.resources.base import Row
from kassa.store.conflicts import is_transient

log = logging.getLogger("kassa.async_completion")
JSONAPI = "application/vnd.api+json"


def _error(exc: ApiError | Failure) -> Response:
    err = api_error(exc)
    body = orjson.dumps({"errors": err.errors})
    return Response(body, err.status, err.headers or None, media_type=JSONAPI)


def parse(raw: bytes) -> tuple[bool, str, Row]:
    """``(success, action_id, fields)`` of a completion body, or a 400."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request("INVALID_DATA_FORMAT", "The request body is not valid JSON.") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("success"), bool):
        raise bad_request("PARAM_MISSING", "success (boolean) is required.", "/success")
    data = doc.get("data") if isinstance(doc.get("data"), dict) else {}
    assert isinstance(data, dict)
    action_id = data.get("action_id", doc.get("action_id"))
    if not isinstance(action_id, str) or not action_id:
        raise bad_request("PARAM_MISSING", "data.action_id is required.", "/data/action_id")
    return doc["success"], action_id, fields_of(doc["success"], data, doc.get("error"))


def endpoint(api: Any) -> Callable[[Request], Awaitable[Response]]:
    """The route handler; ``api.services`` is read per request (it exists after startup)."""

    async def handle(request: Request) -> Response:
        services: Services = api.services
        try:
            gateway = await load_gateway(services, request.path_params["id"])
            raw = await request.body()
            secret = gateway.get("shared_secret") or ""
            if not verify(secret, raw, request.headers.get(SIGNATURE_HEADER)):
                raise unauthorized()
            success, action_id, fields = parse(raw)
            principal = Principal(
                organization_id=gateway["organization_id"],
                organization_slug="",
                mode=gateway["mode"],
                application_id="",
                kind="integration",
            )
            base = services.settings.public_base_url or str(request.base_url).rstrip("/")
            ctx = Ctx(services, principal, base)
            async with ctx.step():
                await apply(ctx, gateway, success, action_id, fields)
        except (ApiError, Failure) as exc:
            return _error(exc)
        except Exception as exc:
            if isinstance(exc, DBAPIError) and is_transient(exc):
                return _error(busy())  # the gateway retries a non-2xx answer
            log.exception("asynchronous completion for gateway %s failed", request.path_params)
            return Response(
                orjson.dumps({"errors": [error_object(500, "INTERNAL_SERVER_ERROR")]}),
                500,
                media_type=JSONAPI,
            )
        return Response(b"{}", 200, media_type="application/json")

    return handle
