"""list indexes: every filter and sort on the tables that grow with the shop

Revision ID: c4d2e5f1a003
Revises: b2e1d3c0f902
Create Date: 2026-11-30 10:00:00

Written by hand to match ``kassa.resources.tables.list_indexes``. Each filterable or sortable
column ``c`` gets ``ix_<table>_list_<c>`` on ``(organization_id, mode, c, id)``, which makes
the old ``(organization_id, mode, created_at)`` index redundant. PostgreSQL only: a GIN
index on each filterable JSON column (``ix_<table>_gin_<c>``, ``jsonb_path_ops``) and a GIN
trigram index on each searched string column (``ix_<table>_trgm_<c>``, extension pg_trgm).
"""

from __future__ import annotations

from alembic import op

revision = "c4d2e5f1a003"
down_revision = "b2e1d3c0f902"
branch_labels = None
depends_on = None

_STAMPS = ("created_at", "updated_at")
_REFERENCE = ("reference", "reference_origin")

LISTED: dict[str, tuple[str, ...]] = {
    "orders": (
        *_STAMPS,
        "number",
        "affiliate_code",
        "place_async",
        "status",
        "payment_status",
        "fulfillment_status",
        "guest",
        "customer_email",
        "language_code",
        "currency_code",
        "tax_included",
        "tax_rate",
        "country_code",
        "coupon_code",
        "gift_card_code",
        "subtotal_amount_cents",
        "shipping_amount_cents",
        "payment_method_amount_cents",
        "discount_amount_cents",
        "adjustment_amount_cents",
        "gift_card_amount_cents",
        "total_tax_amount_cents",
        "subtotal_tax_amount_cents",
        "total_amount_cents",
        "fees_amount_cents",
        "duty_amount_cents",
        "token",
        "placed_at",
        "approved_at",
        "cancelled_at",
        "payment_updated_at",
        "fulfillment_updated_at",
        "refreshed_at",
        "archived_at",
        "subscription_created_at",
        "expires_at",
        "circuit_state",
        "circuit_failure_count",
        *_REFERENCE,
    ),
    "line_items": (
        *_STAMPS,
        "sku_code",
        "quantity",
        "currency_code",
        "unit_amount_cents",
        "compare_at_amount_cents",
        "options_amount_cents",
        "discount_cents",
        "total_amount_cents",
        "tax_amount_cents",
        "name",
        "item_type",
        "circuit_state",
        "circuit_failure_count",
        *_REFERENCE,
    ),
    "customers": (*_STAMPS, "email", "status", "total_orders_count", *_REFERENCE),
    "transactions": (
        *_STAMPS,
        "number",
        "type",
        "currency_code",
        "amount_cents",
        "succeeded",
        "error_code",
        "token",
        "gateway_transaction_id",
        *_REFERENCE,
    ),
    "customer_payment_sources": (
        *_STAMPS,
        "name",
        "payment_source_token",
        *_REFERENCE,
        "default",
    ),
    "stock_items": (*_STAMPS, "quantity", *_REFERENCE),
    "skus": (*_STAMPS, "code", "name", "do_not_ship", "do_not_track", *_REFERENCE),
    "prices": (*_STAMPS, "amount_cents", "compare_at_amount_cents", *_REFERENCE),
}

JSON_COLUMNS: dict[str, tuple[str, ...]] = {
    table: ("payment_source_details", "metadata") if table == "orders" else ("metadata",)
    for table in LISTED
}

SEARCHED: dict[str, tuple[str, ...]] = {
    "orders": ("number", "customer_email", "reference"),
    "line_items": ("sku_code", "name", "reference"),
    "customers": ("email", "reference"),
    "transactions": ("number", "reference"),
    "customer_payment_sources": ("name", "reference"),
    "stock_items": ("reference",),
    "skus": ("code", "name", "reference"),
    "prices": ("reference",),
}


def _old(table: str) -> str:
    return f"ix_{table}_organization_id_mode_created_at"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table, columns in LISTED.items():
        for column in columns:
            op.create_index(
                f"ix_{table}_list_{column}", table, ["organization_id", "mode", column, "id"]
            )
        op.drop_index(_old(table), table_name=table)
        if not postgres:
            continue
        for column in JSON_COLUMNS[table]:
            op.create_index(
                f"ix_{table}_gin_{column}",
                table,
                [column],
                postgresql_using="gin",
                postgresql_ops={column: "jsonb_path_ops"},
            )
        for column in SEARCHED[table]:
            op.create_index(
                f"ix_{table}_trgm_{column}",
                table,
                [column],
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
            )


def downgrade() -> None:
    """Back to the single ``(organization_id, mode, created_at)`` index per table; the pg_trgm
    extension stays (dropping it could break objects created outside Kassa)."""
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, columns in LISTED.items():
        op.create_index(_old(table), table, ["organization_id", "mode", "created_at"])
        for column in columns:
            op.drop_index(f"ix_{table}_list_{column}", table_name=table)
        if not postgres:
            continue
        for column in (*JSON_COLUMNS[table], *SEARCHED[table]):
            kind = "gin" if column in JSON_COLUMNS[table] else "trgm"
            op.drop_index(f"ix_{table}_{kind}_{column}", table_name=table)
