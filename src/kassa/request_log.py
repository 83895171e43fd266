"""Request ids and the request log: one ASGI middleware, outermost on every route.

- Every response carries ``X-Request-Id``: the caller's own value when it is a sane one
  (1 to 128 characters of letters, digits and ``._:@/+=-``), else a new random id.
- With the request log on (``kassa serve --access-log`` or ``KASSA_LOG_FORMAT=json``), each
  finished request writes one line to standard output: method, path (never the query
  string), status, duration in milliseconds and the request id. Headers and bodies, and so
  tokens, passwords and secrets, are never written. ``KASSA_LOG_FORMAT=json`` makes each
  line a JSON object::

      {"ts": "2024-05-01T10:00:00.123Z", "method": "GET", "path": "/api/skus",
       "status": 200, "duration_ms": 4.1, "request_id": "3f2a..."}
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
_SANE = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")
log = logging.getLogger("kassa.requests")


def request_id(incoming: bytes | None) -> bytes:
    """The caller's id when it is sane, else a fresh one."""
    if incoming is not None and _SANE.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex.encode()


def configure() -> None:
    """Send the request log to standard output, one line per request, nothing else added."""
    if any(getattr(h, "_kassa_requests", False) for h in log.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler._kassa_requests = True  # type: ignore[attr-defined]
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def format_line(fmt: str, method: str, path: str, status: int, duration_ms: float, rid: str) -> str:
    if fmt == "json":
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        entry = {
            "ts": stamp,
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
            "request_id": rid,
        }
        return orjson.dumps(entry).decode()
    return f"{method} {path} {status} {duration_ms}ms id={rid}"


class RequestLog:
    """Adds ``X-Request-Id``; writes the request log line when ``enabled``."""

    def __init__(self, app: ASGIApp, enabled: bool = False, fmt: str = "text") -> None:
        self.app = app
        self.enabled = enabled
        self.fmt = "json" if fmt == "json" else "text"
        if enabled:
            configure()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = next((v for k, v in scope.get("headers", ()) if k.lower() == HEADER), None)
        rid = request_id(incoming)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != HEADER]
                headers.append((HEADER, rid))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.enabled:
                elapsed = round((time.perf_counter() - started) * 1000, 1)
                log.info(
                    format_line(
                        self.fmt,
                        str(scope.get("method", "")),
                        _printable(str(scope.get("path", ""))),
                        status,
                        elapsed,
                        rid.decode(),
                    )
                )


def _printable(path: str) -> str:
    """The path with control characters escaped, so one request stays one line."""
    if path.isprintable():
        return path[:2048]
    return path.encode("unicode_escape").decode()[:2048]
