"""The ASGI application: OAuth endpoints plus one generic dispatcher for ``/api/*``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
from sqlalchemy.exc import IntegrityError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kassa.auth.keys import load_or_create
from kassa.auth.oauth import OAuth
from kassa.auth.principal import Principal
from kassa.auth.tokens import TokenService
from kassa.engine import handlers
from kassa.engine.context import Ctx, Services
from kassa.engine.ratelimit import ApiLimiter
from kassa.jsonapi.errors import ApiError, error_object, invalid_token, not_found
from kassa.jsonapi.query import parse_query
from kassa.payments import async_completion
from kassa.resources.registry import build_registry
from kassa.settings import Settings
from kassa.store.db import Database, statement_count

log = logging.getLogger("kassa")
JSONAPI = "application/vnd.api+json"


def _doc(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers=headers, media_type=JSONAPI)


def _error(err: ApiError) -> Response:
    return _doc({"errors": err.errors}, err.status, err.headers)


def _check_media_types(request: Request) -> None:
    """406 for an explicit ``Accept`` without JSON:API; 415 for any other request body type."""
    accept = request.headers.get("accept", "").strip()
    if accept:
        types = [part.split(";")[0].strip().lower() for part in accept.split(",")]
        if not any(t in (JSONAPI, "*/*", "application/*") for t in types):
            raise ApiError.of(406, "NOT_ACCEPTABLE")
    if request.method in ("POST", "PATCH"):
        ctype = request.headers.get("content-type", "")
        main, *params = [p.strip() for p in ctype.split(";")]
        if main.lower() != JSONAPI or any(
            not p.lower().replace(" ", "").startswith("charset=") for p in params if p
        ):
            raise ApiError.of(415, "UNSUPPORTED_MEDIA_TYPE")


class Api:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.db = Database(settings.database_url)
        self.registry = build_registry()
        self.services: Services | None = None
        self.tokens: TokenService | None = None
        self.oauth: OAuth | None = None
        self.limiter = ApiLimiter() if settings.rate_limit else None

    async def startup(self) -> None:
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(self.settings.callout_timeout),
            follow_redirects=False,
            headers={"User-Agent": "Kassa/0.1"},
        )
        self.services = Services(self.settings, self.db, self.registry, http)
        key = await load_or_create(self.db)
        self.tokens = TokenService(key, self.settings.domain)
        self.oauth = OAuth(self.services, self.tokens)
        self.services.extras["tokens"] = self.tokens

    async def shutdown(self) -> None:
        if self.services is not None:
            await self.services.http.aclose()
        await self.db.dispose()

    def base_url(self, request: Request) -> str:
        if self.settings.public_base_url:
            return self.settings.public_base_url.rstrip("/")
        host = request.headers.get("host") or f"{self.settings.host}:{self.settings.port}"
        return f"{request.url.scheme}://{host}"

    def principal(self, request: Request) -> Principal:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise invalid_token()
        assert self.tokens is not None
        return self.tokens.verify(token.strip())

    async def api(self, request: Request) -> Response:
        counter = [0] if self.settings.query_count_header else None
        reset = statement_count.set(counter)
        try:
            response = await self._api(request)
        finally:
            statement_count.reset(reset)
        if counter is not None:
            response.headers["X-Kassa-Queries"] = str(counter[0])
        return response

    def _rate_limit(self, request: Request, principal: Principal) -> dict[str, str]:
        """``X-Ratelimit-*`` headers for this request; raises 429 when a window is full."""
        if self.limiter is None:
            return {}
        client = request.client.host if request.client else "?"
        parts = [p for p in request.path_params["path"].split("/") if p]
        ok, headers = self.limiter.check(client, principal.mode, request.method, parts)
        if not ok:
            raise ApiError(429, [error_object(429, "TOO_MANY_REQUESTS")], headers)
        return headers

    async def _api(self, request: Request) -> Response:
        assert self.services is not None
        ctx: Ctx | None = None
        limits: dict[str, str] = {}
        try:
            _check_media_types(request)
            principal = self.principal(request)
            limits = self._rate_limit(request, principal)
            query, query_error = None, None
            try:
                query = parse_query(request.query_params.multi_items())
            except ApiError as err:
                query_error = err
            ctx = Ctx(self.services, principal, self.base_url(request), query)
            ctx.query_error = query_error
            response = await self._route(ctx, request)
            response.headers.update(limits)
            return response
        except ApiError as err:
            return _doc({"errors": err.errors}, err.status, {**limits, **err.headers})
        except IntegrityError:
            log.info("unique constraint hit", exc_info=True)
            return _error(ApiError.of(409, "RECORD_NOT_UNIQUE"))
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.url.path)
            return _doc({"errors": [error_object(500, "INTERNAL_SERVER_ERROR")]}, 500)
        finally:
            if ctx is not None and ctx.in_transaction:
                await ctx.rollback()

    async def _route(self, ctx: Ctx, request: Request) -> Response:
        parts = [p for p in request.path_params["path"].split("/") if p]
        method = "GET" if request.method == "HEAD" else request.method
        if any("\x00" in p for p in parts):
            raise not_found()
        if len(parts) == 1 and parts[0] in ("organization", "application"):
            if method != "GET":
                raise ApiError.of(405, "METHOD_NOT_ALLOWED")
            p = ctx.principal
            if parts[0] == "organization":
                return _doc(await handlers.singleton(ctx, "organizations", p.organization_id))
            return _doc(await handlers.singleton(ctx, "applications", p.application_id))
        if len(parts) == 1:
            if method == "GET":
                return _doc(await handlers.list_resources(ctx, parts[0]))
            if method == "POST":
                return _doc(await handlers.create(ctx, parts[0], await request.body()), 201)
        elif len(parts) == 2:
            if method == "GET":
                return _doc(await handlers.retrieve(ctx, parts[0], parts[1]))
            if method == "PATCH":
                return _doc(await handlers.update(ctx, parts[0], parts[1], await request.body()))
            if method == "DELETE":
                await handlers.delete(ctx, parts[0], parts[1])
                return Response(status_code=204)
        elif len(parts) == 3 and method == "GET":
            return _doc(await handlers.related(ctx, parts[0], parts[1], parts[2]))
        if len(parts) in (1, 2) and parts[0] in self.registry.by_type:
            raise ApiError.of(405, "METHOD_NOT_ALLOWED")
        raise ApiError.of(
            404, "RECORD_NOT_FOUND", "Not found", f"{request.url.path} does not exist."
        )

    async def token(self, request: Request) -> Response:
        assert self.oauth is not None
        return await self.oauth.token(request)

    async def revoke(self, request: Request) -> Response:
        assert self.oauth is not None
        return await self.oauth.revoke(request)

    async def jwks(self, _request: Request) -> Response:
        assert self.tokens is not None
        return Response(
            orjson.dumps({"keys": [self.tokens.key.jwk()]}), media_type="application/json"
        )

    async def health(self, _request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")


def build_app(settings: Settings | None = None) -> Starlette:
    api = Api(settings or Settings.from_env())

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await api.startup()
        try:
            yield
        finally:
            await api.shutdown()

    methods = ["GET", "POST", "PATCH", "DELETE", "PUT", "OPTIONS"]
    routes = [
        Route("/oauth/token", api.token, methods=["POST"]),
        Route("/oauth/revoke", api.revoke, methods=["POST"]),
        Route("/.well-known/jwks.json", api.jwks, methods=["GET"]),
        Route("/health", api.health, methods=["GET"]),
        Route("/api/{path:path}", api.api, methods=methods),
        Route(async_completion.PATH, async_completion.endpoint(api), methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.api = api
    return app
