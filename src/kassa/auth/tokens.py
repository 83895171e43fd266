"""Access tokens: RS512 JWTs with the claim layout the official clients decode."""

from __future__ import annotations

import base64
import json
import random
import time
from typing import Any

import jwt

from kassa.auth.keys import SigningKey
from kassa.auth.principal import Principal
from kassa.jsonapi.errors import invalid_token

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


class TokenService:
    def __init__(self, key: SigningKey, domain: str):
        self.key = key
        self.issuer = f"https://auth.{domain}"
        self._cache: dict[str, tuple[Principal, int]] = {}

    def issue(self, claims: dict[str, Any], ttl: int) -> tuple[str, int]:
        """Sign ``claims`` plus ``exp``/``iat``/``rand``/``iss``; returns (token, iat)."""
        iat = int(time.time())
        payload = dict(claims)
        payload.update({"exp": iat + ttl, "iat": iat, "iss": self.issuer})
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
        cached = self._cache.get(token)
        now = time.time()
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            claims = jwt.decode(
                token,
                self.key.public_key,
                algorithms=["RS512"],
                options={"require": ["exp", "iat"], "verify_aud": False},
                issuer=self.issuer,
            )
            principal = principal_from_claims(claims)
        except (jwt.PyJWTError, KeyError, TypeError, ValueError, IndexError):
            raise invalid_token() from None
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[token] = (principal, int(claims["exp"]))
        return principal


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
