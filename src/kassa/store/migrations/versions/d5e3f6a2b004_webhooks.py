"""webhooks: webhooks, event_callbacks and the event outbox

Revision ID: d5e3f6a2b004
Revises: c4d2e5f1a003
Create Date: 2026-11-30 00:00:00

``webhooks`` and ``event_callbacks`` follow their declarations
(``kassa.resources.webhooks``); ``webhook_events`` is the outbox the delivery worker reads
(``kassa.store.schema.webhook_events``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "d5e3f6a2b004"
down_revision = "c4d2e5f1a003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _tenant() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("organization_id", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=4), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "webhooks",
        *_tenant(),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("topic", sa.String(), nullable=True),
        sa.Column("callback_url", sa.String(), nullable=True),
        sa.Column("include_resources", JSON, nullable=True),
        sa.Column("disabled_at", sa.DateTime(), nullable=True),
        sa.Column("circuit_state", sa.String(), nullable=True),
        sa.Column("circuit_failure_count", sa.BigInteger(), nullable=True),
        sa.Column("shared_secret", sa.String(), nullable=True),
        sa.Column("reference", sa.String(), nullable=True),
        sa.Column("reference_origin", sa.String(), nullable=True),
        sa.Column("metadata", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhooks_organization_id_mode_created_at"),
            ["organization_id", "mode", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_webhooks_organization_id_mode_topic"),
            ["organization_id", "mode", "topic"],
            unique=False,
        )

    op.create_table(
        "event_callbacks",
        *_tenant(),
        sa.Column("callback_url", sa.String(), nullable=True),
        sa.Column("payload", JSON, nullable=True),
        sa.Column("response_code", sa.String(), nullable=True),
        sa.Column("response_message", sa.String(), nullable=True),
        sa.Column("reference", sa.String(), nullable=True),
        sa.Column("reference_origin", sa.String(), nullable=True),
        sa.Column("metadata", JSON, nullable=True),
        sa.Column("webhook_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_callbacks")),
    )
    with op.batch_alter_table("event_callbacks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_event_callbacks_organization_id_mode_created_at"),
            ["organization_id", "mode", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_event_callbacks_webhook_id"), ["webhook_id"], unique=False
        )

    op.create_table(
        "webhook_events",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("organization_id", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=4), nullable=False),
        sa.Column("webhook_id", sa.String(length=16), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=32), nullable=False),
        sa.Column("callback_url", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(length=32), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("extra", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_webhook_events")),
    )
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_events_due", ["status", "next_attempt_at", "seq"], unique=False
        )
        batch_op.create_index("ix_webhook_events_resource", ["resource_id", "seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_events_resource")
        batch_op.drop_index("ix_webhook_events_due")
    op.drop_table("webhook_events")
    with op.batch_alter_table("event_callbacks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_callbacks_webhook_id"))
        batch_op.drop_index(batch_op.f("ix_event_callbacks_organization_id_mode_created_at"))
    op.drop_table("event_callbacks")
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhooks_organization_id_mode_topic"))
        batch_op.drop_index(batch_op.f("ix_webhooks_organization_id_mode_created_at"))
    op.drop_table("webhooks")
