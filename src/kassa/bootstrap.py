"""Create an organization and its API credentials (``kassa init``)."""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kassa.auth.passwords import hash_secret
from kassa.auth.principal import Principal
from kassa.engine.context import Ctx, Services
from kassa.ids import new_id
from kassa.resources.registry import build_registry
from kassa.settings import Settings
from kassa.store.db import Database

_SLUG = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def credentials_file() -> Path:
    return Path(os.environ.get("KASSA_DATA_DIR", "var")) / "credentials.json"


async def _find(ctx: Ctx, type_: str, *where: sa.ColumnElement[bool]) -> dict[str, Any] | None:
    rows = await ctx.select(type_, *where)
    return rows[0] if rows else None


async def init_organization(
    settings: Settings,
    slug: str,
    name: str,
    mode: str = "test",
    credentials_path: Path | None = None,
) -> dict[str, Any]:
    """Create (or reuse) the organization and its two applications; returns credentials.

    Secrets are stored hashed; the integration secret is kept in the local credentials file
    so that running ``init`` again prints the same one (a new one if the file is gone).
    """
    if not _SLUG.match(slug):
        raise ValueError("the organization slug must be a lowercase DNS label")
    registry = build_registry()
    db = Database(settings.database_url)
    services = Services(settings, db, registry, http=None)  # type: ignore[arg-type]
    saved: dict[str, Any] = {}
    path = credentials_path
    if path is not None and path.exists():
        saved = json.loads(path.read_text())
    try:
        orgs = registry["organizations"].table
        apps = registry["applications"].table
        async with db.engine.begin() as conn:
            org = (
                (await conn.execute(sa.select(orgs).where(orgs.c.slug == slug))).mappings().first()
            )
            org_id = org["id"] if org else new_id()
        principal = Principal(org_id, slug, mode, "", "integration")
        ctx = Ctx(services, principal, "")
        async with ctx.step():
            if org is None:
                await ctx.insert("organizations", {"id": org_id, "name": name, "slug": slug})
            integration = await _find(
                ctx,
                "applications",
                apps.c.kind == "integration",
                apps.c.name == "Kassa integration",
            )
            secret = (
                saved.get("integration_client_secret")
                if saved.get("organization_id") == org_id
                else None
            )
            if integration is None:
                secret = secrets.token_urlsafe(32)
                integration = await ctx.insert(
                    "applications",
                    {
                        "name": "Kassa integration",
                        "kind": "integration",
                        "client_id": secrets.token_urlsafe(24),
                        "secret_hash": hash_secret(secret),
                        "public_access": False,
                        "role": "admin",
                    },
                )
            elif not secret or integration["secret_hash"] != hash_secret(secret):
                secret = secrets.token_urlsafe(32)
                await ctx.update(
                    "applications", integration["id"], {"secret_hash": hash_secret(secret)}
                )
            channel = await _find(
                ctx,
                "applications",
                apps.c.kind == "sales_channel",
                apps.c.name == "Kassa storefront",
            )
            if channel is None:
                channel = await ctx.insert(
                    "applications",
                    {
                        "name": "Kassa storefront",
                        "kind": "sales_channel",
                        "client_id": secrets.token_urlsafe(24),
                        "public_access": True,
                        "role": "admin",
                    },
                )
        creds = {
            "organization_id": org_id,
            "organization_slug": slug,
            "mode": mode,
            "integration_client_id": integration["client_id"],
            "integration_client_secret": secret,
            "sales_channel_client_id": channel["client_id"],
        }
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(creds, indent=2))
            path.chmod(0o600)
        return creds
    finally:
        await db.dispose()


async def organization_exists(settings: Settings, slug: str) -> bool:
    """Whether ``kassa init`` would reuse an organization rather than create one."""
    orgs = build_registry()["organizations"].table
    db = Database(settings.database_url)
    try:
        async with db.engine.connect() as conn:
            found = await conn.execute(sa.select(orgs.c.id).where(orgs.c.slug == slug))
            return found.first() is not None
    finally:
        await db.dispose()
