"""Access tokens: RS512 JWTs with the claim layout the official clients decode."""

from __future__ import annotations

import base64
import json
import random
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import jwt
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.auth.keys import SigningKey
from kassa.auth.principal import Principal
from kassa.failures import invalid_token
from kassa.ids import now
from kassa.store.fast import Rows
from kassa.store.schema import refresh_tokens, revoked_tokens
from kassa.store.shapes import shape

if TYPE_CHECKING:
    from kassa.settings import Settings

_CACHE_MAX = 10_000


_UNSAFE = str.maketrans({ch: f"\\u{ord(ch):04x}" for ch in ">?~\x7f"})


class PlainBase64Encoder(json.JSONEncoder):
    """JSON whose base64url form has no ``-`` or ``_``.

    Only the ASCII bytes ``>``, ``?``, ``~`` and DEL can put those characters into base64url
    (and only at one of three byte alignments); outside strings JSON never uses them, inside
    strings they are written as ``\\u`` escapes, which decode to the same text.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs["ensure_ascii"] = True
        super().__init__(**kwargs)

    def encode(self, o: Any) -> str:
        return super().encode(o).translate(_UNSAFE)


def _clean_payload(token: str) -> bool:
    """The TypeScript SDK decodes the payload with plain ``atob``: no ``-`` or ``_`` allowed."""
    payload = token.split(".")[1]
    return "-" not in payload and "_" not in payload


def decode_payload(token: str) -> dict[str, Any]:
    segment = token.split(".")[1]
    return json.loads(base64.b64decode(segment + "=" * (-len(segment) % 4)))


def new_token_id() -> str:
    """A random id for a ``jti`` or a login's ``sid`` (22 characters, 128 bits)."""
    return secrets.token_urlsafe(16)


@dataclass(frozen=True, slots=True)
class Verified:
    """A token whose signature, issuer and lifetime were checked (revocation not yet)."""

    principal: Principal
    jti: str
    sid: str | None
    """The login (refresh-token family) a customer token was minted for."""
    exp: int


class TokenService:
    def __init__(self, key: SigningKey, domain: str):
        self.key = key
        self.issuer = f"https://auth.{domain}"
        self._cache: dict[str, Verified] = {}

    def issue(self, claims: dict[str, Any], ttl: int) -> tuple[str, int]:
        """Sign ``claims`` plus ``exp``/``iat``/``jti``/``rand``/``iss``; returns (token, iat)."""
        iat = int(time.time())
        payload = dict(claims)
        payload.update({"exp": iat + ttl, "iat": iat, "iss": self.issuer, "jti": new_token_id()})
        for _ in range(64):
            payload["rand"] = random.random()
            token = jwt.encode(
                payload,
                self.key.private_key,
                algorithm="RS512",
                headers={"kid": self.key.kid},
                json_encoder=PlainBase64Encoder,
            )
            if _clean_payload(token):
                return token, iat
        raise RuntimeError("could not encode a token payload without '-' or '_'")

    def verify(self, token: str) -> Principal:
        return self.verify_token(token).principal

    def verify_token(self, token: str) -> Verified:
        """Signature, issuer and lifetime; raises an ``INVALID_TOKEN`` failure.

        Only this pure check is cached: whether the token was revoked is asked of the
        database on every request (``in_force``), so a revocation holds on every process.
        """
        cached = self._cache.get(token)
        if cached is not None and cached.exp > time.time():
            return cached
        try:
            claims = jwt.decode(
                token,
                self.key.public_key,
                algorithms=["RS512"],
                options={"require": ["exp", "iat", "jti"], "verify_aud": False},
                issuer=self.issuer,
            )
            principal = principal_from_claims(claims)
            jti, sid = claims["jti"], claims.get("sid")
            if not isinstance(jti, str) or not (sid is None or isinstance(sid, str)):
                raise ValueError("jti")
            verified = Verified(principal, jti, sid, int(claims["exp"]))
        except (jwt.PyJWTError, KeyError, TypeError, ValueError, IndexError):
            raise invalid_token() from None
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[token] = verified
        return verified


async def in_force(
    conn: AsyncConnection, token: Verified, customers: sa.Table, rows: Rows | None = None
) -> bool:
    """Not revoked (by ``jti`` or by its login's ``sid``) and, for a customer, the customer
    still exists: one statement, primary-key lookups only."""
    customer_id = token.principal.customer_id
    login = token.sid is not None
    stmt = shape(
        ("in_force", customers, login, customer_id is not None),
        lambda: _in_force(customers, login, customer_id is not None),
    )
    params = {"jti": token.jti, "sid": token.sid, "customer_id": customer_id}
    if rows is None:
        found = [dict(r) for r in (await conn.execute(stmt, params)).mappings()]
    else:
        found = await rows(conn, stmt, params)
    if not found or found[0]["revoked"]:
        return False
    return customer_id is None or bool(found[0]["present"])


def _in_force(customers: sa.Table, login: bool, customer: bool) -> Any:
    """The deny-list check of :func:`in_force`, built once per shape."""
    ids: list[sa.BindParameter[Any]] = [sa.bindparam("jti")]
    if login:
        ids.append(sa.bindparam("sid"))
    revoked = sa.exists().where(revoked_tokens.c.jti.in_(ids)).label("revoked")
    if not customer:
        return sa.select(revoked)
    # The id is signed by us and unique across tenants: a primary-key lookup suffices.
    present = sa.exists().where(customers.c.id == sa.bindparam("customer_id")).label("present")
    return sa.select(revoked, present)


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    org = claims["organization"]
    app = claims["application"]
    market = claims.get("market") or {}
    owner = claims.get("owner") or {}
    market_ids = market.get("id") or []
    kind = app["kind"]
    if kind not in ("integration", "sales_channel"):
        raise ValueError(kind)
    return Principal(
        organization_id=org["id"],
        organization_slug=org["slug"],
        mode="test" if claims["test"] else "live",
        application_id=app["id"],
        kind=kind,
        market_id=market_ids[0] if market_ids else None,
        customer_id=owner.get("id") if owner.get("type") == "Customer" else None,
        role=app.get("role", "admin"),
    )


# --- revocation: a deny list shared by every process through the database -------------------


def login_lifetime(settings: Settings) -> timedelta:
    """How long a revoked login must stay on the deny list: no token of it outlives this."""
    return timedelta(seconds=max(settings.refresh_token_ttl, settings.sales_channel_token_ttl))


async def is_denied(conn: AsyncConnection, jti: str) -> bool:
    found = await conn.execute(sa.select(revoked_tokens.c.jti).where(revoked_tokens.c.jti == jti))
    return found.first() is not None


async def deny(conn: AsyncConnection, jti: str, expires_at: datetime) -> None:
    """Put ``jti`` (an access token's id or a login's ``sid``) on the deny list, once.

    Rows past their ``expires_at`` name only dead tokens; each call prunes them.
    """
    await conn.execute(revoked_tokens.delete().where(revoked_tokens.c.expires_at < now()))
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(revoked_tokens).values(jti=jti, expires_at=expires_at)
    await conn.execute(insert.on_conflict_do_nothing(index_elements=["jti"]))


async def revoke_family(conn: AsyncConnection, family: str, lifetime: timedelta) -> None:
    """End one login: its refresh tokens and every access token minted from them."""
    await deny(conn, family, now() + lifetime)
    await conn.execute(
        refresh_tokens.update()
        .where(refresh_tokens.c.family_id == family, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now())
    )
