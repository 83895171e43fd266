"""``POST /oauth/token`` and ``POST /oauth/revoke``: the grants of the core API."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

import orjson
import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response

from kassa.auth.passwords import secret_matches, verify_password
from kassa.auth.tokens import TokenService
from kassa.engine.context import Services
from kassa.engine.ratelimit import Limit, SlidingWindow
from kassa.ids import now
from kassa.jsonapi.errors import shown
from kassa.jsonapi.query import has_nul
from kassa.store.schema import refresh_tokens

log = logging.getLogger("kassa")
_NUMBER = re.compile(r"^[0-9]{1,15}$")
"""A legacy ``market:<number>`` scope."""
INVALID_CLIENT = (
    "Client authentication failed due to unknown client, no client authentication included, "
    "or unsupported authentication method."
)


class OAuthError(Exception):
    def __init__(self, status: int, code: str, title: str, detail: str):
        super().__init__(title)
        self.status, self.code, self.title, self.detail = status, code, title, detail

    def response(self) -> Response:
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
        return Response(orjson.dumps(body), self.status, media_type="application/json")


def _server_error() -> OAuthError:
    return OAuthError(500, "INTERNAL_SERVER_ERROR", "server_error", "Something went wrong.")


def _invalid_client() -> OAuthError:
    return OAuthError(401, "UNAUTHORIZED", "invalid_client", INVALID_CLIENT)


def _invalid_grant(detail: str) -> OAuthError:
    return OAuthError(401, "UNAUTHORIZED", "invalid_grant", detail)


def _invalid_scope(detail: str) -> OAuthError:
    return OAuthError(400, "BAD_REQUEST", "invalid_scope", detail)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def read_params(request: Request) -> dict[str, Any]:
    raw = await request.body()
    ctype = request.headers.get("content-type", "")
    if "application/x-www-form-urlencoded" in ctype:
        form = dict(parse_qsl(raw.decode("utf-8", "replace")))
        if has_nul(form):
            raise OAuthError(
                400, "BAD_REQUEST", "invalid_request", "The body contains a NUL character."
            )
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
        raise OAuthError(
            400, "BAD_REQUEST", "invalid_request", "The body contains a NUL character."
        )
    return data


class OAuth:
    def __init__(self, services: Services, tokens: TokenService):
        self.services = services
        self.tokens = tokens
        self.limiter = SlidingWindow(Limit(services.settings.token_rate_limit, 60))

    @property
    def tables(self) -> dict[str, sa.Table]:
        reg = self.services.registry
        return {t: reg[t].table for t in ("applications", "organizations", "markets", "customers")}

    async def token(self, request: Request) -> Response:
        settings = self.services.settings
        client = request.client.host if request.client else "?"
        limited = settings.rate_limit and not self.limiter.allow(client)
        headers = self.limiter.headers(client) if settings.rate_limit else {}
        if limited:
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
            return Response(orjson.dumps(body), 429, headers, media_type="application/json")
        try:
            params = await read_params(request)
            body = await self._grant(params)
        except OAuthError as err:
            response = err.response()
            response.headers.update(headers)
            return response
        except Exception:
            log.exception("unhandled error on POST /oauth/token")
            return _server_error().response()
        return Response(orjson.dumps(body), 200, headers, media_type="application/json")

    async def _grant(self, params: dict[str, Any]) -> dict[str, Any]:
        grant = params.get("grant_type")
        if grant not in ("client_credentials", "password", "refresh_token"):
            raise OAuthError(
                400, "BAD_REQUEST", "unsupported_grant_type", f"{shown(grant)} is not supported."
            )
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
            raw_scope = params.get("scope")
            if raw_scope is not None and not isinstance(raw_scope, str):
                raise _invalid_scope("scope must be a string.")
            scope = (raw_scope or "").strip()
            if grant == "refresh_token":
                customer, scope = await self._use_refresh(conn, app, params)
            elif grant == "password":
                customer = await self._customer(conn, app, params)
            market = await self._market(conn, app, scope, customer)
        claims = self._claims(org, app, market, customer, scope)
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
        if customer is not None:
            body["refresh_token"] = await self._new_refresh(app, customer, scope)
            body["owner_id"] = customer["id"]
            body["owner_type"] = "customer"
        return body

    async def _client(self, conn: Any, params: dict[str, Any]) -> dict[str, Any]:
        apps = self.tables["applications"]
        client_id = params.get("client_id")
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
        if app["kind"] == "integration" and not secret_matches(
            app["secret_hash"], params.get("client_secret")
        ):
            raise _invalid_client()
        return app

    async def _customer(
        self, conn: Any, app: dict[str, Any], params: dict[str, Any]
    ) -> dict[str, Any]:
        customers = self.tables["customers"]
        username, password = params.get("username"), params.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            raise _invalid_grant("username and password are required.")
        row = (
            (
                await conn.execute(
                    sa.select(customers).where(
                        customers.c.organization_id == app["organization_id"],
                        customers.c.mode == app["mode"],
                        sa.func.lower(customers.c.email) == username.strip().lower(),
                    )
                )
            )
            .mappings()
            .first()
        )
        if row is None or not await verify_password(row["password_hash"], password):
            raise _invalid_grant("The provided authorization grant is invalid.")
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
                raise _invalid_scope(f"{shown(item)} is not a valid scope.")
            if len(parts) == 3 and parts[1] in ("id", "code"):
                cond = markets.c.id == parts[2] if parts[1] == "id" else markets.c.code == parts[2]
            elif len(parts) == 2 and _NUMBER.match(parts[1]):
                cond = markets.c.number == int(parts[1])
            else:
                raise _invalid_scope(f"{shown(item)} is not a valid scope.")
            row = (await conn.execute(sa.select(markets).where(*where, cond))).mappings().first()
            if row is None:
                raise _invalid_scope(f"{shown(item)}: no such market.")
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
            raise _invalid_scope(f"{shown(item)} is not a valid scope.")
        row = (await conn.execute(sa.select(locations.c.id).where(*where, cond))).first()
        if row is None or row[0] not in market["stock_location_ids"]:
            raise _invalid_scope(f"{shown(item)} is not a stock location of the market in scope.")

    def _claims(
        self,
        org: Any,
        app: dict[str, Any],
        market: dict[str, Any] | None,
        customer: dict[str, Any] | None,
        scope: str,
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
        return claims

    async def _new_refresh(self, app: dict[str, Any], customer: dict[str, Any], scope: str) -> str:
        token = secrets.token_urlsafe(32)
        async with self.services.db.engine.begin() as conn:
            await conn.execute(
                refresh_tokens.insert().values(
                    token_hash=_hash(token),
                    application_id=app["id"],
                    customer_id=customer["id"],
                    scope=scope,
                    expires_at=now() + timedelta(seconds=self.services.settings.refresh_token_ttl),
                )
            )
        return token

    async def _use_refresh(
        self, conn: Any, app: dict[str, Any], params: dict[str, Any]
    ) -> tuple[dict[str, Any], str]:
        token = params.get("refresh_token")
        if not isinstance(token, str) or not token:
            raise _invalid_grant("refresh_token is required.")
        # Rotation is a compare-and-set: of two concurrent refreshes only one wins.
        async with self.services.db.engine.begin() as tx:
            result = await tx.execute(
                refresh_tokens.update()
                .where(
                    refresh_tokens.c.token_hash == _hash(token),
                    refresh_tokens.c.application_id == app["id"],
                    refresh_tokens.c.revoked_at.is_(None),
                    refresh_tokens.c.expires_at > now(),
                )
                .values(revoked_at=now())
                .returning(refresh_tokens.c.customer_id, refresh_tokens.c.scope)
            )
            found = result.first()
        if found is None:
            raise _invalid_grant("The refresh token is invalid, expired or revoked.")
        customers = self.tables["customers"]
        row = (
            (await conn.execute(sa.select(customers).where(customers.c.id == found.customer_id)))
            .mappings()
            .first()
        )
        if row is None:
            raise _invalid_grant("The customer no longer exists.")
        return dict(row), found.scope

    async def revoke(self, request: Request) -> Response:
        try:
            params = await read_params(request)
            async with self.services.db.engine.connect() as conn:
                app = await self._client(conn, params)
        except OAuthError as err:
            return err.response()
        except Exception:
            log.exception("unhandled error on POST /oauth/revoke")
            return _server_error().response()
        token = params.get("token")
        if isinstance(token, str) and token:
            async with self.services.db.engine.begin() as conn:
                await conn.execute(
                    refresh_tokens.update()
                    .where(
                        refresh_tokens.c.token_hash == _hash(token),
                        refresh_tokens.c.application_id == app["id"],
                    )
                    .values(revoked_at=now())
                )
        return Response(b"{}", 200, media_type="application/json")
