"""publish time precision: whether an article's time was shown to the minute, to the day,
or only read from its URL

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-30 21:30:00

Rows stored before this revision keep NULL: how precise their time is was not recorded.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("publish_time_precision", sa.String(length=8), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("publish_time_precision")
