"""accounts: password resets and login throttling

Revision ID: b2e1d3c0f902
Revises: a1f0c2d9e801
Create Date: 2026-11-29 21:00:01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "b2e1d3c0f902"
down_revision = "a1f0c2d9e801"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_password_resets",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("organization_id", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=4), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("customer_email", sa.String(), nullable=True),
        sa.Column("reset_password_at", sa.DateTime(), nullable=True),
        sa.Column("reference", sa.String(), nullable=True),
        sa.Column("reference_origin", sa.String(), nullable=True),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("reset_password_token_digest", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_password_resets")),
    )
    with op.batch_alter_table("customer_password_resets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_password_resets_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_customer_password_resets_organization_id_mode_created_at"),
            ["organization_id", "mode", "created_at"],
            unique=False,
        )

    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttles")),
    )
    with op.batch_alter_table("login_throttles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_throttles_window_started_at"), ["window_started_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("login_throttles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_throttles_window_started_at"))
    op.drop_table("login_throttles")
    with op.batch_alter_table("customer_password_resets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_password_resets_organization_id_mode_created_at"))
        batch_op.drop_index(batch_op.f("ix_customer_password_resets_customer_id"))
    op.drop_table("customer_password_resets")
