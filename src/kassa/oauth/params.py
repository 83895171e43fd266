"""The parameters of a token endpoint request: a form-encoded or a JSON object body."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request

from kassa.jsonapi.query import has_nul, nul_path
from kassa.oauth.errors import OAuthError


async def read_params(request: Request) -> dict[str, Any]:
    raw = await request.body()
    ctype = request.headers.get("content-type", "")
    if "application/x-www-form-urlencoded" in ctype:
        form = dict(parse_qsl(raw.decode("utf-8", "replace")))
        if has_nul(form):
            raise _nul_in(form)
        return form
    try:
        data = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        raise OAuthError(
            400, "BAD_REQUEST", "invalid_request", "The body is not valid JSON."
        ) from None
    if not isinstance(data, dict):
        raise OAuthError(400, "BAD_REQUEST", "invalid_request", "The body must be an object.")
    if has_nul(data):
        raise _nul_in(data)
    return data


def string_param(params: dict[str, Any], name: str, error: OAuthError) -> str | None:
    """``params[name]`` when absent, null or a string; ``error`` for any other JSON value."""
    value = params.get(name)
    if value is not None and not isinstance(value, str):
        raise error
    return value


def _nul_in(params: dict[str, Any]) -> OAuthError:
    """400 naming the parameter whose name or value holds a NUL character."""
    path = nul_path(params) or []
    where = "A parameter name"
    if path and "\x00" not in path[0]:
        where = f"The value of {path[0]}"
    detail = f"{where} contains a NUL character."
    return OAuthError(400, "BAD_REQUEST", "invalid_request", detail)
