"""token revocation: access-token deny list and refresh-token families

Revision ID: a1f0c2d9e801
Revises: e0135df9d999
Create Date: 2026-11-29 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "a1f0c2d9e801"
down_revision = "e0135df9d999"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
