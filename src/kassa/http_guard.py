"""The outer edge of every HTTP request: the Host check, the body limit and common headers.

One ASGI middleware, in front of every route (``/api/*``, ``/oauth/*``, the gateways'
completion callbacks and the rest):

- with an allowed-host list configured, a request whose ``Host`` is not on it gets a 400
  before anything else runs, so ``links`` can never be built from an arbitrary name;
- a body larger than the limit gets a 413 before it is read: a ``Content-Length`` over the
  limit is refused at once, and a chunked body is counted while it arrives and refused as
  soon as it passes the limit. The body is then handed to the route as received;
- every response carries ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kassa.jsonapi.errors import error_object

JSONAPI = "application/vnd.api+json"
NOSNIFF = (b"x-content-type-options", b"nosniff")
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


def split_host(value: str) -> tuple[str, str | None]:
    """``(host, port)`` of a ``Host`` header or an allowed-host entry, host lowercased."""
    value = value.strip().lower()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
        return f"[{host}]", port or None
    host, sep, port = value.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host.rstrip("."), port
    return value.rstrip("."), None


class AllowedHosts:
    """Entries are ``name`` (any port) or ``name:port``; IPv6 as ``[::1]:8080``."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.entries = {split_host(e) for e in entries if e.strip()}

    def __bool__(self) -> bool:
        return bool(self.entries)

    def allows(self, header: str | None) -> bool:
        if not header:
            return False
        host, port = split_host(header)
        return (host, port) in self.entries or (host, None) in self.entries


def error_response(status: int, code: str, detail: str | None = None) -> tuple[Message, Message]:
    """The two ASGI messages of a JSON:API error document."""
    body = orjson.dumps({"errors": [error_object(status, code, detail=detail)]})
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", JSONAPI.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    }
    return start, {"type": "http.response.body", "body": body}


class _Disconnected(Exception):
    """The client went away before its body was complete."""


class HttpGuard:
    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        allowed_hosts: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.allowed = AllowedHosts(allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == NOSNIFF[0] for name, _ in headers):
                    headers.append(NOSNIFF)
                message = {**message, "headers": headers}
            await send(message)

        headers = Headers(scope=scope)
        if self.allowed and not self.allowed.allows(headers.get("host")):
            await self._refuse(send_with_headers, 400, "INVALID_HOST")
            return
        length = headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                await self._refuse(
                    send_with_headers,
                    400,
                    "INVALID_DATA_FORMAT",
                    "The Content-Length header is not a number.",
                )
                return
            if int(length) > self.max_body:
                await self._too_large(send_with_headers)
                return
        try:
            body = await self._read(receive)
        except _Disconnected:
            return
        if body is None:
            await self._too_large(send_with_headers)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send_with_headers)

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body, or ``None`` once it grows past the limit (the rest stays unread)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _too_large(self, send: Send) -> None:
        await self._refuse(
            send,
            413,
            "REQUEST_ENTITY_TOO_LARGE",
            f"The request body may not be larger than {self.max_body} bytes.",
        )

    @staticmethod
    async def _refuse(send: Send, status: int, code: str, detail: str | None = None) -> None:
        start, body = error_response(status, code, detail)
        await send(start)
        await send(body)
