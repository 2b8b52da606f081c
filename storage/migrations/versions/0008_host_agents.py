"""host agents: the browser's User-Agent kept per host with its cookies

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 22:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "host_agents",
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("user_agent", sa.Text(), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("host", name=op.f("pk_host_agents")),
    )
    with op.batch_alter_table("host_agents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_host_agents_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("host_agents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_host_agents_expires_at"))
    op.drop_table("host_agents")
