"""The callout signature against the spec's test vector (payments-and-wallet §4.2)."""

from __future__ import annotations

import base64
import hashlib
import hmac

from kassa import fake_processor
from kassa.payments.callouts import SIGNATURE_HEADER, classify, sign

SECRET = "1c0994cc4e996e8c6ee56a2198f66f3c"
BODY = b'{"data":{"id":"ZNKjeUYepv","type":"external_payments"},"included":[]}'
EXPECTED = "uT3u9tk4DZ0obxwYbSzhd00oqCfIFSE/+y7d/mu+xRg="


def test_spec_test_vector() -> None:
    assert sign(SECRET, BODY) == EXPECTED
    assert SIGNATURE_HEADER == "X-CommerceLayer-Signature"


def test_signature_is_base64_hmac_sha256_of_the_raw_bytes() -> None:
    body = '{"data":{"attributes":{"name":"Café"}}}'.encode()
    raw = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
    assert base64.b64decode(sign(SECRET, body)) == raw
    assert sign(SECRET, body) != sign(SECRET, body.replace(b":", b": "))
    assert fake_processor.verify(SECRET, body, sign(SECRET, body))


def test_classification_first_match_wins() -> None:
    ok = b'{"success":true,"data":{"transaction_token":"t1"}}'
    assert classify(200, ok).kind == "success"
    assert classify(202, ok).kind == "success"
    pending = b'{"success":true,"data":{"action_id":"a1","transaction_token":"t1"}}'
    assert classify(202, pending).kind == "pending"
    assert classify(200, pending).kind == "success"
    assert classify(202, b'{"success":true,"data":{"action_id":""}}').kind == "success"
    declined = classify(200, b'{"success":false,"data":{"error":{"code":"C","message":"M"}}}')
    assert (declined.kind, declined.error_code, declined.message) == ("decline", "C", "M")
    top = classify(200, b'{"success":false,"error":{"code":"C2","message":"M2"}}')
    assert (top.kind, top.error_code, top.message) == ("decline", "C2", "M2")
    for status, body, code in (
        (500, ok, "HTTP_500"),
        (301, ok, "HTTP_301"),
        (200, b"not json", "INVALID_RESPONSE"),
        (200, b"[1, 2]", "INVALID_RESPONSE"),
        (200, b'{"success":"yes"}', "INVALID_RESPONSE"),
        (200, b'{"data":{}}', "INVALID_RESPONSE"),
    ):
        failed = classify(status, body)
        assert (failed.kind, failed.error_code) == ("failure", code)
