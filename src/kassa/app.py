"""The ASGI application: OAuth endpoints plus one generic dispatcher for ``/api/*``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kassa import openapi, placeholders
from kassa.auth.keys import load_or_create
from kassa.auth.principal import Principal
from kassa.auth.tokens import TokenService, Verified, in_force
from kassa.checkout import recovery
from kassa.engine import gateway_callbacks, handlers, idempotency
from kassa.engine.context import Ctx, Services
from kassa.engine.idempotency import Claim, IdempotencyKeys, Stored
from kassa.engine.ratelimit import ApiLimiter, Counter, counter_for
from kassa.failures import Failure, busy
from kassa.http_guard import HttpGuard, split_host
from kassa.jsonapi.errors import ApiError, api_error, error_object, invalid_token, not_found
from kassa.jsonapi.query import parse_query
from kassa.oauth import OAuth
from kassa.outbound import Policy
from kassa.outbound import client as outbound_client
from kassa.payments import async_completion
from kassa.request_log import RequestLog
from kassa.resources.registry import build_registry
from kassa.settings import Settings
from kassa.store.conflicts import is_transient
from kassa.store.db import Database, statement_count
from kassa.webhooks.worker import Worker, start_worker

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
        self.db = Database(
            settings.database_url,
            pool_size=settings.database_pool_size,
            log_sql=settings.sql_log,
            sqlite_driver=settings.sqlite_driver,
            busy_timeout=settings.sqlite_busy_seconds,
        )
        self.registry = build_registry()
        self.services: Services | None = None
        self.tokens: TokenService | None = None
        self.oauth: OAuth | None = None
        self.worker: Worker | None = None
        self.rate_counter: Counter | None = None
        self.limiter: ApiLimiter | None = None
        if settings.rate_limit:
            self.rate_counter = counter_for(settings.redis_url, self.db)
            self.limiter = ApiLimiter(self.rate_counter)
        self.idempotency = IdempotencyKeys(
            self.db, settings.idempotency_ttl, settings.idempotency_lease
        )

    async def startup(self) -> None:
        http = outbound_client(
            Policy(allow_private=self.settings.outbound_allow_private),
            self.settings.callout_timeout,
            headers={"User-Agent": "Kassa/0.1"},
        )
        self.services = Services(self.settings, self.db, self.registry, http)
        self.services.extras["rate_counter"] = self.rate_counter
        key = await load_or_create(self.db)
        self.tokens = TokenService(key, self.settings.domain)
        self.oauth = OAuth(self.services, self.tokens)
        self.services.extras["tokens"] = self.tokens
        self.worker = start_worker(self.services)  # webhook delivery (KASSA_WEBHOOK_WORKER)

    async def shutdown(self) -> None:
        if self.worker is not None:
            await self.worker.stop()
        if self.services is not None:
            await self.services.http.aclose()
        if self.rate_counter is not None:
            await self.rate_counter.close()
        await self.db.dispose()

    def base_url(self, request: Request) -> str:
        """The base of ``links``: never an unchecked ``Host`` header.

        ``KASSA_PUBLIC_BASE_URL`` when set; else the request's host, which the
        :class:`HttpGuard` has checked against ``KASSA_ALLOWED_HOSTS``; else the configured
        listener.
        """
        if self.settings.public_base_url:
            return self.settings.public_base_url.rstrip("/")
        header = request.headers.get("host")
        if not self.settings.allowed_hosts or not header:
            return f"{request.url.scheme}://{self.settings.host}:{self.settings.port}"
        name, port = split_host(header)
        return f"{request.url.scheme}://{name}{':' + port if port else ''}"

    async def principal(self, request: Request) -> Principal:
        return (await self.verified(request)).principal

    async def verified(self, request: Request) -> Verified:
        """The verified caller; 401 ``INVALID_TOKEN`` for a bad, expired or revoked token.

        Costs one statement per request, whatever the process's cache holds: the deny list
        (by ``jti`` and the login's ``sid``) and, for a customer token, the customer's row.
        """
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise invalid_token()
        assert self.tokens is not None
        verified = self.tokens.verify_token(token.strip())
        async with self.db.engine.connect() as conn:
            ok = await in_force(conn, verified, self.registry["customers"].table, self.db.rows)
        if not ok:
            raise invalid_token()
        return verified

    async def api(self, request: Request) -> Response:
        counter = [0] if self.settings.query_count_header else None
        reset = statement_count.set(counter)
        claims: list[Claim] = []
        try:
            response = await self._api(request, claims)
            if claims:
                await self._settle(claims[0], response)
        except BaseException:
            if claims:  # cancelled mid-request: a retry must be able to run it
                await self.idempotency.release(claims[0])
            raise
        finally:
            statement_count.reset(reset)
        if counter is not None:
            response.headers["X-Kassa-Queries"] = str(counter[0])
        return response

    async def _settle(self, claim: Claim, response: Response) -> None:
        """Keep the answer of a keyed write (or release its key); the answer goes out anyway."""
        try:
            await self.idempotency.settle(
                claim, response.status_code, dict(response.headers), bytes(response.body)
            )
        except Exception:
            log.exception("could not store the answer to an idempotency key")

    async def _claim(self, request: Request, verified: Verified) -> Claim | Response | None:
        """For a write with an ``Idempotency-Key``: run it (a claim) or replay its answer."""
        raw = request.headers.get(idempotency.HEADER)
        if raw is None or request.method not in idempotency.METHODS:
            return None
        key = idempotency.checked_key(raw)
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        scope = idempotency.caller_scope(verified.principal, verified.jti)
        outcome = await self.idempotency.claim(
            key, scope, request.method, path, await request.body()
        )
        if isinstance(outcome, Stored):
            headers = {**outcome.headers, idempotency.REPLAYED: "true"}
            return Response(outcome.body, outcome.status, headers=headers)
        return outcome

    async def _rate_limit(self, request: Request, principal: Principal) -> dict[str, str]:
        """``X-Ratelimit-*`` headers for this request; raises 429 when a window is full."""
        if self.limiter is None:
            return {}
        client = request.client.host if request.client else "?"
        parts = [p for p in request.path_params["path"].split("/") if p]
        ok, headers = await self.limiter.check(client, principal.mode, request.method, parts)
        if not ok:
            raise ApiError(429, [error_object(429, "TOO_MANY_REQUESTS")], headers)
        return headers

    async def _api(self, request: Request, claims: list[Claim]) -> Response:
        assert self.services is not None
        ctx: Ctx | None = None
        limits: dict[str, str] = {}
        try:
            _check_media_types(request)
            verified = await self.verified(request)
            principal = verified.principal
            limits = await self._rate_limit(request, principal)
            claimed = await self._claim(request, verified)
            if isinstance(claimed, Response):
                claimed.headers.update(limits)
                return claimed
            if claimed is not None:
                claims.append(claimed)
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
        except (ApiError, Failure) as exc:
            error = api_error(exc)
            return _doc({"errors": error.errors}, error.status, {**limits, **error.headers})
        except IntegrityError:
            log.info("unique constraint hit", exc_info=True)
            return _error(ApiError.of(409, "RECORD_NOT_UNIQUE"))
        except DBAPIError as exc:
            if not is_transient(exc):
                log.exception("database error on %s %s", request.method, request.url.path)
                return _doc({"errors": [error_object(500, "INTERNAL_SERVER_ERROR")]}, 500)
            log.warning(
                "transient database conflict on %s %s: %s",
                request.method,
                request.url.path,
                exc.orig,
            )
            error = api_error(busy())
            return _doc({"errors": error.errors}, error.status, {**limits, **error.headers})
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.url.path)
            return _doc({"errors": [error_object(500, "INTERNAL_SERVER_ERROR")]}, 500)
        finally:
            if ctx is not None:
                await ctx.unit.abandon()  # what a failed request left open

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
        size = ctx.query.page_size if ctx.query is not None else 10
        placeholder = placeholders.answer(method, parts, ctx.base_url, size)
        if placeholder is not None:
            return _doc(placeholder)
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
        assert api.services is not None
        # Callouts left in flight by a process that died: a scan now, then periodically.
        stop_recovery = asyncio.Event()
        scans = asyncio.create_task(recovery.run_periodically(api.services, stop_recovery))
        try:
            yield
        finally:
            stop_recovery.set()
            await scans
            await api.shutdown()

    methods = ["GET", "POST", "PATCH", "DELETE", "PUT", "OPTIONS"]
    routes = [
        Route("/oauth/token", api.token, methods=["POST"]),
        Route("/oauth/revoke", api.revoke, methods=["POST"]),
        Route("/.well-known/jwks.json", api.jwks, methods=["GET"]),
        Route("/health", api.health, methods=["GET"]),
        Route("/openapi.json", openapi.endpoint(api.settings.public_base_url), methods=["GET"]),
        Route("/api/{path:path}", api.api, methods=methods),
        Route(async_completion.PATH, gateway_callbacks.endpoint(api), methods=["POST"]),
    ]
    guard = Middleware(
        HttpGuard,
        max_body_bytes=api.settings.max_body_bytes,
        allowed_hosts=api.settings.allowed_hosts,
    )
    # Outermost: the guard's own refusals carry a request id and are logged too.
    requests_log = Middleware(
        RequestLog,
        enabled=api.settings.access_log or api.settings.log_format == "json",
        fmt=api.settings.log_format,
    )
    handlers_ = {HTTPException: _http_exception, Exception: _server_error}
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[requests_log, guard],
        exception_handlers=handlers_,
    )
    app.router.redirect_slashes = False  # an unknown path is a 404 document, not a redirect
    app.state.api = api
    return app


async def _http_exception(_request: Request, exc: Exception) -> Response:
    """The router's own refusals (unknown path, method not allowed) as JSON:API errors."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        err = ApiError.of(
            404, "RECORD_NOT_FOUND", "Not found", "The requested path does not exist."
        )
    elif exc.status_code == 405:
        err = ApiError.of(405, "METHOD_NOT_ALLOWED")
    else:
        err = ApiError.of(exc.status_code, "BAD_REQUEST" if exc.status_code < 500 else "ERROR")
    return _doc({"errors": err.errors}, err.status, dict(exc.headers or {}))


async def _server_error(_request: Request, _exc: Exception) -> Response:
    """An exception no route caught (the traceback is logged by the server)."""
    response = _doc({"errors": [error_object(500, "INTERNAL_SERVER_ERROR")]}, 500)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
