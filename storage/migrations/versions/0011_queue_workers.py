"""queue workers: the host and pid of each govwatch worker process (issue 16)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 02:20:00

Procrastinate's own tables are created by ``scheduler.queue`` (PostgreSQL only, when
``[queue] backend = "procrastinate"``), not by this migration.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "queue_workers",
        sa.Column("worker_id", _ID, autoincrement=False, nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("queues", sa.String(length=100), nullable=False),
        sa.Column("started_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_queue_workers")),
    )


def downgrade() -> None:
    op.drop_table("queue_workers")
