"""Who is calling: the verified claims of a bearer token."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    organization_id: str
    organization_slug: str
    mode: str
    """``test`` or ``live``: the data space every query is scoped to."""
    application_id: str
    kind: str
    """``integration`` or ``sales_channel``."""
    market_id: str | None = None
    customer_id: str | None = None
    role: str = "admin"

    @property
    def integration(self) -> bool:
        return self.kind == "integration"

    @property
    def sales_channel(self) -> bool:
        return self.kind == "sales_channel"

    @property
    def guest(self) -> bool:
        return self.sales_channel and self.customer_id is None

    @property
    def customer(self) -> bool:
        return self.sales_channel and self.customer_id is not None
