"""The organization (singleton) and the caller's own API credentials (``/api/application``)."""

from __future__ import annotations

import sqlalchemy as sa

from kassa.resources import contract
from kassa.resources.base import Access, Resource, verbs

_READ = verbs("retrieve")

ORGANIZATIONS = Resource(
    contract.ORGANIZATION,
    access=Access(guest=_READ, customer=_READ),
    tenant_scoped=False,
    unique=[("slug",)],
)

APPLICATIONS = Resource(
    contract.APPLICATION,
    access=Access(guest=_READ, customer=_READ),
    extra_columns=[
        sa.Column("client_id", sa.String(64), nullable=False, unique=True),
        sa.Column("secret_hash", sa.String(64), nullable=True),
        sa.Column("role", sa.String(16), nullable=False, server_default="admin"),
    ],
)
