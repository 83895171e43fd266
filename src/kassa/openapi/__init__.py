"""The OpenAPI 3.1 document of the API Kassa serves, generated from the resource registry.

``GET /openapi.json`` serves it (no token needed); ``kassa openapi`` writes it to a file.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from kassa.openapi.document import build_document
from kassa.resources.registry import build_registry

__all__ = ["build_document", "document", "endpoint"]


def document(server_url: str | None = None) -> dict[str, Any]:
    """The document for the registry every server process builds."""
    return build_document(build_registry(), server_url)


def endpoint(server_url: str | None = None) -> Callable[[Request], Awaitable[Response]]:
    """The ``/openapi.json`` handler: the document is built once, here, and served as bytes."""
    body = orjson.dumps(document(server_url))

    async def serve(_request: Request) -> Response:
        return Response(body, media_type="application/json")

    return serve
