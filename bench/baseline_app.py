"""The baseline: a bare Starlette endpoint served by the same uvicorn stack as Kassa.

Kassa's throughput is reported as a ratio to this, measured in the same run, so the figures
say what the API itself costs on this machine rather than how fast the machine is.
"""

from __future__ import annotations

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_BODY = orjson.dumps({"data": {"id": "abcdefghij", "type": "pings", "attributes": {"ok": True}}})


async def ping(_request: Request) -> Response:
    return Response(_BODY, media_type="application/vnd.api+json")


def build_app() -> Starlette:
    return Starlette(routes=[Route("/ping", ping)])
