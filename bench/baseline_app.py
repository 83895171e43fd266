"""The baseline: a bare Starlette endpoint serving the very bytes Kassa answered.

``bench/run.py`` captures each read scenario's answer from Kassa (body and headers) into the
directory named by ``KASSA_BENCH_CAPTURES`` and starts this app under the same uvicorn
settings as ``kassa serve`` (uvloop, httptools, the same number of workers). Every captured
answer is served at the path Kassa served it at, with the same status, body and headers, so
the ratio of the two throughputs is what Kassa's own work costs on this machine, in this run.
Without captures it answers ``/ping`` with a small JSON:API document.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_PING = orjson.dumps({"data": {"id": "abcdefghij", "type": "pings", "attributes": {"ok": True}}})
# Set by the server itself (uvicorn writes its own date and server; Starlette the length).
_SKIPPED = {"date", "server", "content-length", "transfer-encoding", "connection"}


def _endpoint(
    body: bytes, status: int, headers: dict[str, str]
) -> Callable[[Request], Awaitable[Response]]:
    async def answer(_request: Request) -> Response:
        return Response(body, status, headers)

    return answer


def _captured(folder: Path) -> list[Route]:
    """One route per ``<name>.json`` (``path``, ``status``, ``headers``) and ``<name>.body``."""
    routes = []
    for meta_file in sorted(folder.glob("*.json")):
        meta = orjson.loads(meta_file.read_bytes())
        body = meta_file.with_suffix(".body").read_bytes()
        headers = {k: v for k, v in meta["headers"].items() if k.lower() not in _SKIPPED}
        routes.append(Route(meta["path"], _endpoint(body, int(meta["status"]), headers)))
    return routes


async def ping(_request: Request) -> Response:
    return Response(_PING, media_type="application/vnd.api+json")


def build_app() -> Starlette:
    folder = os.environ.get("KASSA_BENCH_CAPTURES")
    routes = _captured(Path(folder)) if folder else []
    return Starlette(routes=[*routes, Route("/ping", ping)])
