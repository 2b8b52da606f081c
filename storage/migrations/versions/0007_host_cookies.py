"""host cookies: cookies kept per host between crawl runs (cookie replay)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "host_cookies",
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("secure", sa.Boolean(), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("domain", "path", "name", name=op.f("pk_host_cookies")),
    )
    with op.batch_alter_table("host_cookies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_host_cookies_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("host_cookies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_host_cookies_expires_at"))
    op.drop_table("host_cookies")
