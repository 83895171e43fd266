"""Small helpers shared by the webhook tests."""

from __future__ import annotations

import secrets
import time
from typing import Any

from kassa.webhooks.signing import signature, verify
from tests.support import Client


def subscribe(
    admin: Client, topic: str, url: str, include: list[str] | None = None
) -> dict[str, Any]:
    attributes: dict[str, Any] = {"name": f"hook {topic}", "topic": topic, "callback_url": url}
    if include is not None:
        attributes["include_resources"] = include
    return admin.create("webhooks", attributes)


def signed(body: bytes, secret: str, header: str | None) -> bool:
    """The receiver's check, done twice: by hand and with Kassa's helper."""
    return header == signature(body, secret) and verify(body, secret, header)


def webhook(admin: Client, hook_id: str) -> dict[str, Any]:
    r = admin.get(f"/api/webhooks/{hook_id}")
    assert r.status_code == 200, r.text
    return r.json()["data"]["attributes"]


def wait_until(check: Any, timeout: float = 15.0) -> Any:
    deadline = time.time() + timeout
    while True:
        value = check()
        if value or time.time() > deadline:
            return value
        time.sleep(0.05)


def new_customer(shop: Any) -> dict[str, Any]:
    email = f"c-{secrets.token_hex(4)}@example.com"
    created: dict[str, Any] = shop.admin.create("customers", {"email": email})
    return created
