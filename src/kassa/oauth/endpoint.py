"""The token endpoint (client credentials, password and refresh token grants) and RFC 7009
revocation."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from starlette.requests import Request
from starlette.responses import Response

from kassa.auth.passwords import secret_matches, verify_password
from kassa.auth.throttle import LoginThrottle, client_address, login_keys
from kassa.auth.tokens import TokenService, Verified, deny, new_token_id
from kassa.engine.context import Services
from kassa.engine.ratelimit import TokenLimiter
from kassa.failures import Failure
from kassa.oauth.errors import (
    OAuthError,
    TooManyLogins,
    invalid_client,
    invalid_grant,
    invalid_request,
    invalid_scope,
    json_response,
    quoted,
    rate_limited,
    server_error,
)
from kassa.oauth.params import read_params, string_param
from kassa.oauth.refresh import new_refresh, revoke_refresh, use_refresh, writing
from kassa.oauth.scopes import scoped_market
from kassa.store.conflicts import is_transient

log = logging.getLogger("kassa")


def _unhandled(exc: Exception, path: str) -> Response:
    """A database conflict as a retryable 423 (its transaction was rolled back), anything
    else as a logged 500."""
    if isinstance(exc, DBAPIError) and is_transient(exc):
        busy = OAuthError(
            423, "LOCKED", "Locked", "Another request holds what this one needs; retry shortly."
        )
        return busy.response({"Retry-After": "1"})
    log.exception("unhandled error on POST %s", path)
    return server_error().response()


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
            return rate_limited(headers)
        try:
            params = await read_params(request)
            body = await self._grant(params)
        except OAuthError as err:
            return err.response(headers)
        except Exception as exc:
            return _unhandled(exc, "/oauth/token")
        return json_response(body, 200, headers)

    async def _grant(self, params: dict[str, Any]) -> dict[str, Any]:
        grant = params.get("grant_type")
        if grant is None or grant == "":
            raise invalid_request("grant_type is required.")
        if not isinstance(grant, str):
            raise invalid_request("grant_type must be a string.")
        if grant not in ("client_credentials", "password", "refresh_token"):
            raise OAuthError(
                400,
                "BAD_REQUEST",
                "unsupported_grant_type",
                f"The grant type {quoted(grant)} is not supported.",
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
            raw_scope = string_param(params, "scope", invalid_scope("scope must be a string."))
            if grant == "password":
                wrong = invalid_grant("username and password must be strings.")
                string_param(params, "username", wrong)
                string_param(params, "password", wrong)
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
                market = await scoped_market(self.services, conn, app, scope, customer)
        if grant != "client_credentials":
            # No pooled connection is held while a password waits for a hasher, or a refresh
            # token for the write lock: a storm of either cannot drain the pool.
            if grant == "password":
                customer = await self._customer(app, params)
            else:
                customer, scope, family = await use_refresh(self.services, app, params)
            async with self.services.db.engine.connect() as conn:
                market = await scoped_market(self.services, conn, app, scope, customer)
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
            body["refresh_token"] = await new_refresh(self.services, app, customer, scope, family)
            body["owner_id"] = customer["id"]
            body["owner_type"] = "customer"
        return body

    async def _client(self, conn: Any, params: dict[str, Any]) -> dict[str, Any]:
        apps = self.tables["applications"]
        client_id = params.get("client_id")
        secret = string_param(params, "client_secret", invalid_client())
        if not isinstance(client_id, str) or not client_id:
            raise invalid_client()
        row = (
            (await conn.execute(sa.select(apps).where(apps.c.client_id == client_id)))
            .mappings()
            .first()
        )
        if row is None:
            raise invalid_client()
        app = dict(row)
        if app["kind"] == "integration" and not secret_matches(app["secret_hash"], secret):
            raise invalid_client()
        return app

    async def _customer(self, app: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """The customer the password grant names, checked at the same cost whether or not it
        exists (or has a password); throttled per account and per client address
        (kassa.auth.throttle). The check runs with no database connection held."""
        customers = self.tables["customers"]
        username, password = params.get("username"), params.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            raise invalid_grant("username and password are required.")
        db = self.services.db
        throttle = LoginThrottle(self.services.settings, db.is_sqlite)
        address = client_address.get()
        keys = login_keys(app["organization_id"], app["mode"], username, address)
        async with db.engine.connect() as conn:
            wait = await throttle.attempt(conn, keys)
            if wait is not None:
                raise TooManyLogins(wait)
            found = await conn.execute(
                sa.select(customers).where(
                    customers.c.organization_id == app["organization_id"],
                    customers.c.mode == app["mode"],
                    sa.func.lower(customers.c.email) == username.strip().lower(),
                )
            )
            row = found.mappings().first()
        if not await verify_password(row["password_hash"] if row else None, password, address):
            raise invalid_grant("The provided authorization grant is invalid.")
        assert row is not None
        async with db.engine.connect() as conn:
            await throttle.succeeded(conn, keys)
        return dict(row)

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
        except Exception as exc:
            return _unhandled(exc, "/oauth/revoke")
        return json_response({})

    async def _revoke(self, app: dict[str, Any], token: str) -> None:
        access: Verified | None = None
        if token.count(".") == 2:
            try:
                access = self.tokens.verify_token(token)
            except Failure:  # not ours, tampered or expired: nothing to revoke
                return
        async with writing(self.services.db) as conn:
            if access is not None:
                if access.principal.application_id == app["id"]:
                    expires = datetime.fromtimestamp(access.exp, UTC).replace(tzinfo=None)
                    await deny(conn, access.jti, expires)
                return
            await revoke_refresh(self.services, conn, app, token)
