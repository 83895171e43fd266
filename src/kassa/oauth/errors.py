"""The answers of the token endpoints: JSON bodies, never cached, and the OAuth errors."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

INVALID_CLIENT = (
    "Client authentication failed due to unknown client, no client authentication included, "
    "or unsupported authentication method."
)
NOT_CACHED = {"Cache-Control": "no-store", "Pragma": "no-cache"}
"""Every answer of the token endpoints carries credentials or depends on them (RFC 6749 §5.1)."""


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status, {**(headers or {}), **NOT_CACHED}, "application/json"
    )


def quoted(value: str, limit: int = 60) -> str:
    """A client-sent string for an error detail: JSON-quoted, cut short."""
    text = orjson.dumps(value).decode()
    return text if len(text) <= limit else text[: limit - 4] + '..."'


class OAuthError(Exception):
    def __init__(self, status: int, code: str, title: str, detail: str):
        super().__init__(title)
        self.status, self.code, self.title, self.detail = status, code, title, detail

    def response(self, headers: dict[str, str] | None = None) -> Response:
        """The one error document of the API, with an integer ``status`` as the official
        js-auth client types it (api-conventions §3.3)."""
        body = {
            "errors": [
                {
                    "code": self.code,
                    "title": self.title,
                    "detail": self.detail,
                    "status": self.status,
                }
            ]
        }
        return json_response(body, self.status, headers)


class TooManyLogins(OAuthError):
    """429 for a throttled password grant, with the seconds to wait in ``Retry-After``."""

    def __init__(self, wait: int):
        super().__init__(
            429, "TOO_MANY_REQUESTS", "Too many requests", "Too many failed logins: try later."
        )
        self.wait = wait

    def response(self, headers: dict[str, str] | None = None) -> Response:
        return super().response({**(headers or {}), "Retry-After": str(self.wait)})


def server_error() -> OAuthError:
    return OAuthError(500, "INTERNAL_SERVER_ERROR", "server_error", "Something went wrong.")


def invalid_client() -> OAuthError:
    return OAuthError(401, "UNAUTHORIZED", "invalid_client", INVALID_CLIENT)


def invalid_grant(detail: str) -> OAuthError:
    return OAuthError(401, "UNAUTHORIZED", "invalid_grant", detail)


def invalid_scope(detail: str) -> OAuthError:
    return OAuthError(400, "BAD_REQUEST", "invalid_scope", detail)


def invalid_request(detail: str) -> OAuthError:
    return OAuthError(400, "BAD_REQUEST", "invalid_request", detail)


def rate_limited(headers: dict[str, str]) -> Response:
    """429 once the client address has used up its token requests of the minute."""
    body = {
        "errors": [
            {
                "code": "TOO_MANY_REQUESTS",
                "title": "Too many requests",
                "detail": "The rate limit was exceeded.",
                "status": 429,
            }
        ]
    }
    return json_response(body, 429, headers)
