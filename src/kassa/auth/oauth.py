"""``POST /oauth/token`` and ``POST /oauth/revoke``: the grants of the core API."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from kassa.auth.passwords import secret_matches, verify_password
from kassa.auth.throttle import LoginThrottle, client_address, login_keys
from kassa.auth.tokens import (
    TokenService,
    Verified,
    deny,
    is_denied,
    login_lifetime,
    new_token_id,
    revoke_family,
)
from kassa.engine.context import Services
from kassa.engine.ratelimit import TokenLimiter
from kassa.ids import now
from kassa.jsonapi.errors import ApiError
from kassa.jsonapi.query import has_nul, nul_path
from kassa.store.schema import refresh_tokens

log = logging.getLogger("kassa")
_NUMBER = re.compile(r"^[0-9]{1,15}$")
"""A legacy ``market:<number>`` scope."""
INVALID_CLIENT = (
    "Client authentication failed due to unknown client, no client authentication included, "
    "or unsupported authentication method."
)
NOT_CACHED = {"Cache-Control": "no-store", "Pragma": "no-cache"}
"""Every answer of the token endpoints carries credentials or depends on them (RFC 6749 §5.1)."""


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status, {**(headers or {}), **NOT_CACHED}, "application/json"
    )


def _quoted(value: str, limit: int = 60) -> str:
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
        return _json(body, self.status, headers)


def _server_error() -> OAuthError:
    return OAuthError(500, "INTERNAL_SERVER_ERROR", "server_error", "Something went wrong.")


def _invalid_client() -> OAuthError:
    return OAuthError(401, "UNAUTHORIZED", "invalid_client", INVALID_CLIENT)


def _invalid_grant(detail: str) -> OAuthError:
    return OAuthError(401, "UNAUTHORIZED", "invalid_grant", detail)


class _TooManyLogins(OAuthError):
    """429 for a throttled password grant, with the seconds to wait in ``Retry-After``."""

    def __init__(self, wait: int):
        super().__init__(
            429, "TOO_MANY_REQUESTS", "Too many requests", "Too many failed logins: try later."
        )
        self.wait = wait

    def response(self, headers: dict[str, str] | None = None) -> Response:
        return super().response({**(headers or {}), "Retry-After": str(self.wait)})


def _invalid_scope(detail: str) -> OAuthError:
    return OAuthError(400, "BAD_REQUEST", "invalid_scope", detail)


def _invalid_request(detail: str) -> OAuthError:
    return OAuthError(400, "BAD_REQUEST", "invalid_request", detail)


def _string(params: dict[str, Any], name: str, error: OAuthError) -> str | None:
    """``params[name]`` when absent, null or a string; ``error`` for any other JSON value."""
    value = params.get(name)
    if value is not None and not isinstance(value, str):
        raise error
    return value


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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


def _nul_in(params: dict[str, Any]) -> OAuthError:
    """400 naming the parameter whose name or value holds a NUL character."""
    path = nul_path(params) or []
    where = "A parameter name"
    if path and "\x00" not in path[0]:
        where = f"The value of {path[0]}"
    detail = f"{where} contains a NUL character."
    return OAuthError(400, "BAD_REQUEST", "invalid_request", detail)


class OAuth:
    def __init__(self, services: Services, tokens: TokenService):
        self.services = services
        self.tokens = tokens
        counter = services.extras.get("rate_counter")  # set when KASSA_RATE_LIMIT is on
        limit = services.settings.token_rate_limit
        self.limiter = TokenLimiter(counter, limit) if counter is not None else None

    @property
    def tables(self) -> dict[str, sa.Table]:
        reg = self.services.registry
        return {t: reg[t].table for t in ("applications", "organizations", "markets", "customers")}

    async def token(self, request: Request) -> Response:
        settings = self.services.settings
        client = request.client.host if request.client else "?"
        client_address.set(client)  # the password grant throttles per address
        allowed, headers = (
            await self.limiter.check(client)
            if settings.rate_limit and self.limiter is not None
            else (True, {})
        )
        if not allowed:
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
            return _json(body, 429, headers)
        try:
            params = await read_params(request)
            body = await self._grant(params)
        except OAuthError as err:
            return err.response(headers)
        except Exception:
            log.exception("unhandled error on POST /oauth/token")
            return _server_error().response()
        return _json(body, 200, headers)

    async def _grant(self, params: dict[str, Any]) -> dict[str, Any]:
        grant = params.get("grant_type")
        if grant is None or grant == "":
            raise _invalid_request("grant_type is required.")
        if not isinstance(grant, str):
            raise _invalid_request("grant_type must be a string.")
        if grant not in ("client_credentials", "password", "refresh_token"):
            raise OAuthError(
                400,
                "BAD_REQUEST",
                "unsupported_grant_type",
                f"The grant type {_quoted(grant)} is not supported.",
            )
        family: str | None = None
        async with self.services.db.engine.connect() as conn:
            app = await self._client(conn, params)
            kind = app["kind"]
            if grant != "client_credentials" and kind != "sales_channel":
                raise OAuthError(
                    401,
                    "UNAUTHORIZED",
                    "unauthorized_client",
                    f"The {grant} grant is not available to {kind} applications.",
                )
            raw_scope = _string(params, "scope", _invalid_scope("scope must be a string."))
            if grant == "password":
                wrong = _invalid_grant("username and password must be strings.")
                _string(params, "username", wrong)
                _string(params, "password", wrong)
            org = (
                (
                    await conn.execute(
                        sa.select(self.tables["organizations"]).where(
                            self.tables["organizations"].c.id == app["organization_id"]
                        )
                    )
                )
                .mappings()
                .one()
            )
            customer = None
            scope = (raw_scope or "").strip()
            if grant == "client_credentials":
                market = await self._market(conn, app, scope, customer)
        if grant != "client_credentials":
            # No pooled connection is held while a password waits for a hasher, or a refresh
            # token for the write lock: a storm of either cannot drain the pool.
            if grant == "password":
                customer = await self._customer(app, params)
            else:
                customer, scope, family = await self._use_refresh(app, params)
            async with self.services.db.engine.connect() as conn:
                market = await self._market(conn, app, scope, customer)
        if customer is not None:
            family = family or new_token_id()
        claims = self._claims(org, app, market, customer, scope, family)
        ttl = (
            self.services.settings.sales_channel_token_ttl
            if kind == "sales_channel"
            else self.services.settings.integration_token_ttl
        )
        token, iat = self.tokens.issue(claims, ttl)
        body: dict[str, Any] = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": ttl,
            "scope": scope or "market:all",
            "created_at": iat,
        }
        if customer is not None and family is not None:
            body["refresh_token"] = await self._new_refresh(app, customer, scope, family)
            body["owner_id"] = customer["id"]
            body["owner_type"] = "customer"
        return body

    async def _client(self, conn: Any, params: dict[str, Any]) -> dict[str, Any]:
        apps = self.tables["applications"]
        client_id = params.get("client_id")
        secret = _string(params, "client_secret", _invalid_client())
        if not isinstance(client_id, str) or not client_id:
            raise _invalid_client()
        row = (
            (await conn.execute(sa.select(apps).where(apps.c.client_id == client_id)))
            .mappings()
            .first()
        )
        if row is None:
            raise _invalid_client()
        app = dict(row)
        if app["kind"] == "integration" and not secret_matches(app["secret_hash"], secret):
            raise _invalid_client()
        return app

    async def _customer(self, app: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """The customer the password grant names, checked at the same cost whether or not it
        exists (or has a password); throttled per account and per client address
        (kassa.auth.throttle). The check runs with no database connection held."""
        customers = self.tables["customers"]
        username, password = params.get("username"), params.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            raise _invalid_grant("username and password are required.")
        db = self.services.db
        throttle = LoginThrottle(self.services.settings, db.is_sqlite)
        address = client_address.get()
        keys = login_keys(app["organization_id"], app["mode"], username, address)
        async with db.engine.connect() as conn:
            wait = await throttle.attempt(conn, keys)
            if wait is not None:
                raise _TooManyLogins(wait)
            found = await conn.execute(
                sa.select(customers).where(
                    customers.c.organization_id == app["organization_id"],
                    customers.c.mode == app["mode"],
                    sa.func.lower(customers.c.email) == username.strip().lower(),
                )
            )
            row = found.mappings().first()
        if not await verify_password(row["password_hash"] if row else None, password, address):
            raise _invalid_grant("The provided authorization grant is invalid.")
        assert row is not None
        async with db.engine.connect() as conn:
            await throttle.succeeded(conn, keys)
        return dict(row)

    async def _market(
        self, conn: Any, app: dict[str, Any], scope: str, customer: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        markets = self.tables["markets"]
        where = [markets.c.organization_id == app["organization_id"], markets.c.mode == app["mode"]]
        found: list[dict[str, Any]] = []
        stock_scopes: list[str] = []
        for item in scope.split():
            parts = item.split(":")
            if parts[0] == "stock_location":
                stock_scopes.append(item)
                continue
            if parts[0] != "market" or item == "market:all":
                if item == "market:all":
                    continue
                raise _invalid_scope(f"{_quoted(item)} is not a valid scope.")
            if len(parts) == 3 and parts[1] in ("id", "code"):
                cond = markets.c.id == parts[2] if parts[1] == "id" else markets.c.code == parts[2]
            elif len(parts) == 2 and _NUMBER.match(parts[1]):
                cond = markets.c.number == int(parts[1])
            else:
                raise _invalid_scope(f"{_quoted(item)} is not a valid scope.")
            row = (await conn.execute(sa.select(markets).where(*where, cond))).mappings().first()
            if row is None:
                raise _invalid_scope(f"{_quoted(item)}: no such market.")
            found.append(dict(row))
        if len({m["id"] for m in found}) > 1:
            raise _invalid_scope("A token may be scoped to one market only.")
        if stock_scopes and not found:
            raise _invalid_scope("A stock location scope needs its market in scope.")
        market = found[0] if found else None
        if market is not None:
            if market.get("disabled_at") is not None:
                raise _invalid_scope("The market is disabled.")
            group = market.get("customer_group_id")
            if (
                group
                and app["kind"] == "sales_channel"
                and (customer is None or customer.get("customer_group_id") != group)
            ):
                raise _invalid_scope("The market is private to a customer group.")
            market["stock_location_ids"] = await self._stock_locations(conn, market)
            for item in stock_scopes:
                await self._check_stock_scope(conn, app, market, item)
        return market

    async def _stock_locations(self, conn: Any, market: dict[str, Any]) -> list[str]:
        reg = self.services.registry
        if "inventory_stock_locations" not in reg.by_type or not market.get("inventory_model_id"):
            return []
        isl = reg["inventory_stock_locations"].table
        rows = await conn.execute(
            sa.select(isl.c.stock_location_id)
            .where(isl.c.inventory_model_id == market["inventory_model_id"])
            .order_by(isl.c.priority, isl.c.id)
        )
        return [r[0] for r in rows]

    async def _check_stock_scope(
        self, conn: Any, app: dict[str, Any], market: dict[str, Any], item: str
    ) -> None:
        parts = item.split(":")
        locations = self.services.registry["stock_locations"].table
        where = [
            locations.c.organization_id == app["organization_id"],
            locations.c.mode == app["mode"],
        ]
        if len(parts) == 3 and parts[1] in ("id", "code"):
            cond = locations.c.id == parts[2] if parts[1] == "id" else locations.c.code == parts[2]
        elif len(parts) == 2 and _NUMBER.match(parts[1]):
            cond = locations.c.number == int(parts[1])
        else:
            raise _invalid_scope(f"{_quoted(item)} is not a valid scope.")
        row = (await conn.execute(sa.select(locations.c.id).where(*where, cond))).first()
        if row is None or row[0] not in market["stock_location_ids"]:
            raise _invalid_scope(f"{_quoted(item)} is not a stock location of the market in scope.")

    def _claims(
        self,
        org: Any,
        app: dict[str, Any],
        market: dict[str, Any] | None,
        customer: dict[str, Any] | None,
        scope: str,
        family: str | None = None,
    ) -> dict[str, Any]:
        application: dict[str, Any] = {
            "id": app["id"],
            "kind": app["kind"],
            "public": app["kind"] == "sales_channel",
        }
        if app.get("role") == "read_only":
            application["role"] = "read_only"
        claims: dict[str, Any] = {
            "organization": {
                "id": org["id"],
                "slug": org["slug"],
                "enterprise": False,
                "region": "eu-west-1",
            },
            "application": application,
            "scope": scope or "market:all",
            "test": app["mode"] == "test",
        }
        if market is not None:
            claims["market"] = {
                "id": [market["id"]],
                "price_list_id": market.get("price_list_id"),
                "stock_location_ids": market["stock_location_ids"],
                "geocoder_id": None,
                "allows_external_prices": False,
            }
        if customer is not None:
            claims["owner"] = {"id": customer["id"], "type": "Customer"}
        if family is not None:
            claims["sid"] = family  # the login: revoking it revokes this token too
        return claims

    async def _new_refresh(
        self, app: dict[str, Any], customer: dict[str, Any], scope: str, family: str
    ) -> str:
        token = secrets.token_urlsafe(32)
        at = now()
        async with self.services.db.engine.begin() as conn:
            await conn.execute(refresh_tokens.delete().where(refresh_tokens.c.expires_at < at))
            await conn.execute(
                refresh_tokens.insert().values(
                    token_hash=_hash(token),
                    application_id=app["id"],
                    customer_id=customer["id"],
                    scope=scope,
                    expires_at=at + timedelta(seconds=self.services.settings.refresh_token_ttl),
                    family_id=family,
                )
            )
        return token

    async def _use_refresh(
        self, app: dict[str, Any], params: dict[str, Any]
    ) -> tuple[dict[str, Any], str, str]:
        """Rotate a refresh token: (customer, scope, family of the new one).

        A token presented again after its rotation (or revocation), even concurrently with
        its first use, is a replay: someone else holds a copy, so the whole login is revoked,
        the latest refresh token and every access token minted from it included.
        """
        token = _string(params, "refresh_token", _invalid_grant("refresh_token must be a string."))
        if not token:
            raise _invalid_grant("refresh_token is required.")
        invalid = _invalid_grant("The refresh token is invalid, expired or revoked.")
        hashed, at = _hash(token), now()
        async with self._writing() as tx:
            row = (
                await tx.execute(
                    sa.select(refresh_tokens).where(
                        refresh_tokens.c.token_hash == hashed,
                        refresh_tokens.c.application_id == app["id"],
                    )
                )
            ).first()
            found = None
            if row is not None and row.revoked_at is not None and row.family_id:
                await self._revoke_family(tx, row.family_id)
            elif row is not None and row.revoked_at is None and row.expires_at > at:
                # Rotation is a compare-and-set: of two concurrent refreshes only one wins.
                found = (
                    await tx.execute(
                        refresh_tokens.update()
                        .where(
                            refresh_tokens.c.token_hash == hashed,
                            refresh_tokens.c.revoked_at.is_(None),
                        )
                        .values(revoked_at=at)
                        .returning(refresh_tokens.c.customer_id)
                    )
                ).first()
                if row.family_id and (found is None or await is_denied(tx, row.family_id)):
                    if found is None:  # used concurrently: a replay all the same
                        await self._revoke_family(tx, row.family_id)
                    found = None
            customer = None
            if found is not None and row is not None:
                customers = self.tables["customers"]
                owner = sa.select(customers).where(customers.c.id == row.customer_id)
                customer = (await tx.execute(owner)).mappings().first()
        if found is None or row is None:
            raise invalid
        if customer is None:
            raise _invalid_grant("The customer no longer exists.")
        return dict(customer), row.scope, row.family_id or new_token_id()

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction that reads first (SQLite: taken with the write lock up front)."""
        db = self.services.db
        conn = await db.connect(write=True)
        try:
            yield conn
            await conn.commit()
        finally:
            await db.close(conn)

    async def _revoke_family(self, conn: Any, family: str) -> None:
        """Refuse every token of one login from now on, on every process."""
        await revoke_family(conn, family, login_lifetime(self.services.settings))

    async def revoke(self, request: Request) -> Response:
        """RFC 7009: an access token (a JWT) or a refresh token issued to the calling client.

        Revoking a refresh token ends its login: its family and the access tokens minted from
        it. Unknown, expired or foreign tokens are answered 200 all the same.
        """
        try:
            params = await read_params(request)
            async with self.services.db.engine.connect() as conn:
                app = await self._client(conn, params)
            token = params.get("token")
            if isinstance(token, str) and token:
                await self._revoke(app, token)
        except OAuthError as err:
            return err.response()
        except Exception:
            log.exception("unhandled error on POST /oauth/revoke")
            return _server_error().response()
        return _json({})

    async def _revoke(self, app: dict[str, Any], token: str) -> None:
        access: Verified | None = None
        if token.count(".") == 2:
            try:
                access = self.tokens.verify_token(token)
            except ApiError:  # not ours, tampered or expired: nothing to revoke
                return
        async with self._writing() as conn:
            if access is not None:
                if access.principal.application_id == app["id"]:
                    expires = datetime.fromtimestamp(access.exp, UTC).replace(tzinfo=None)
                    await deny(conn, access.jti, expires)
                return
            row = (
                await conn.execute(
                    sa.select(refresh_tokens.c.family_id).where(
                        refresh_tokens.c.token_hash == _hash(token),
                        refresh_tokens.c.application_id == app["id"],
                    )
                )
            ).first()
            if row is None:
                return
            if row.family_id:
                await self._revoke_family(conn, row.family_id)
            else:
                await conn.execute(
                    refresh_tokens.update()
                    .where(refresh_tokens.c.token_hash == _hash(token))
                    .values(revoked_at=now())
                )
