"""Every resource Kassa serves, assembled into one registry (and its tables)."""

from __future__ import annotations

from functools import cache

from kassa.resources import catalog, customers, orders, organization, payments, webhooks
from kassa.resources.base import Registry
from kassa.resources.tables import build_tables


@cache
def build_registry() -> Registry:
    registry = Registry()
    registry.add(organization.ORGANIZATIONS, organization.APPLICATIONS)
    registry.add(*catalog.ALL, *customers.ALL, *orders.ALL, *payments.ALL)
    registry.add(*webhooks.ALL)
    registry.aliases["payment_gateways"] = ("external_gateways", "manual_gateways")
    registry.finish()
    build_tables(registry)
    return registry
