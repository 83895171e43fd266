"""leases on in-flight callouts, so a crashed process's work is recovered

Revision ID: f7a5b8c4d006
Revises: e6f4a7b3c005
Create Date: 2026-11-30 00:00:00

Matches ``kassa.store.schema.callout_leases``: one row per gateway callout in flight, with
its idempotency key, the exact body sent, and the moment its lease expires.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "f7a5b8c4d006"
down_revision = "e6f4a7b3c005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callout_leases",
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("organization_id", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(4), nullable=False),
        sa.Column("order_id", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("gateway_id", sa.String(16), nullable=False),
        sa.Column("target_type", sa.String(64), nullable=False),
        sa.Column("target_id", sa.String(16), nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("context", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("lease_until", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_callout_leases"),
        sa.UniqueConstraint("order_id", name="uq_callout_leases_order_id"),
    )
    op.create_index("ix_callout_leases_lease_until", "callout_leases", ["lease_until"])


def downgrade() -> None:
    op.drop_index("ix_callout_leases_lease_until", table_name="callout_leases")
    op.drop_table("callout_leases")
