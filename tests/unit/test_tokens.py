"""Access tokens: RS512, verified by the server, payload readable with plain base64."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from kassa.auth.keys import SigningKey
from kassa.auth.tokens import PlainBase64Encoder, TokenService, decode_payload
from kassa.failures import Failure

KEY = SigningKey("testkid", rsa.generate_private_key(public_exponent=65537, key_size=2048))
SERVICE = TokenService(KEY, "kassa.localhost")
CLAIMS = {
    "organization": {"id": "AbcdefGhij", "slug": "shop", "enterprise": False, "region": "x"},
    "application": {"id": "AbcdefGhik", "kind": "sales_channel", "public": True},
    "scope": "market:code:eu~?>",
    "test": True,
}


def plain_b64(segment: str) -> dict[str, object]:
    assert "-" not in segment and "_" not in segment
    return dict(json.loads(base64.b64decode(segment + "=" * (-len(segment) % 4))))


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.text(alphabet=st.sampled_from('~?>\x7f<a \\"é😀'), max_size=40))
def test_encoder_never_yields_dash_or_underscore(text: str) -> None:
    for pad in range(3):
        raw = json.dumps({"p": "x" * pad, "v": text}, cls=PlainBase64Encoder).encode()
        encoded = base64.urlsafe_b64encode(raw).decode()
        assert "-" not in encoded and "_" not in encoded
        assert json.loads(raw) == {"p": "x" * pad, "v": text}


def test_issue_and_verify() -> None:
    token, iat = SERVICE.issue(CLAIMS, 60)
    claims = plain_b64(token.split(".")[1])
    assert claims == decode_payload(token)
    assert claims["scope"] == "market:code:eu~?>"
    assert claims["iss"] == "https://auth.kassa.localhost"
    assert (claims["iat"], claims["exp"]) == (iat, iat + 60)
    assert jwt.get_unverified_header(token) == {"alg": "RS512", "typ": "JWT", "kid": "testkid"}
    verified = jwt.decode(
        token, jwt.PyJWK(KEY.jwk()).key, algorithms=["RS512"], issuer=SERVICE.issuer
    )
    assert verified == claims
    principal = SERVICE.verify(token)
    assert (principal.kind, principal.mode, principal.market_id) == ("sales_channel", "test", None)


def test_other_issuer_or_key_is_rejected() -> None:
    other = TokenService(KEY, "example.com")
    token, _ = other.issue(CLAIMS, 60)
    with pytest.raises(Failure) as info:
        SERVICE.verify(token)
    assert info.value.code == "INVALID_TOKEN"
    foreign = SigningKey("testkid", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    token, _ = TokenService(foreign, "kassa.localhost").issue(CLAIMS, 60)
    with pytest.raises(Failure):
        SERVICE.verify(token)
    expired, _ = SERVICE.issue(CLAIMS, -5)
    with pytest.raises(Failure):
        SERVICE.verify(expired)
    bad_kind, _ = SERVICE.issue({**CLAIMS, "application": {"id": "x", "kind": "user"}}, 60)
    with pytest.raises(Failure):
        SERVICE.verify(bad_kind)
