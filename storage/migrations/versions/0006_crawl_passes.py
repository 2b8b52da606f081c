"""crawl passes: resumable crawls; crawl runs' host and selector misses

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "crawl_passes",
        sa.Column("id", _ID, nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("start_url", sa.Text(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("backlog_run_id", _ID, nullable=True),
        sa.Column("last_complete_run_id", _ID, nullable=True),
        sa.Column("pages_reached", sa.Integer(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_crawl_passes_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crawl_passes")),
        sa.UniqueConstraint("site_id", "start_url", name=op.f("uq_crawl_passes_site_id")),
    )
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("host", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("selector_misses", sa.Text(), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.drop_column("selector_misses")
        batch_op.drop_column("host")
    op.drop_table("crawl_passes")
