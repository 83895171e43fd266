"""accounts: password resets and login throttling

Revision ID: b2e1d3c0f902
Revises: a1f0c2d9e801
Create Date: 2026-11-29 21:00:01
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "b2e1d3c0f902"
down_revision = "a1f0c2d9e801"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
