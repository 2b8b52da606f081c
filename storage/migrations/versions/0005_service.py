"""service: scheduled jobs, service instances (heartbeats), missed runs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, storage.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "service_jobs",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("schedule", sa.String(length=100), nullable=False),
        _time("next_run_at", True),
        _time("last_started_at", True),
        _time("last_finished_at", True),
        sa.Column("last_result", sa.String(length=16), nullable=False),
        sa.Column("last_message", sa.Text(), nullable=False),
        _time("updated_at", False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_service_jobs")),
    )
    op.create_table(
        "service_instances",
        sa.Column("id", _ID, nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        _time("started_at", False),
        _time("heartbeat_at", False),
        _time("stopped_at", True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_instances")),
    )
    with op.batch_alter_table("service_instances", schema=None) as batch_op:
        batch_op.create_index("ix_service_instances_heartbeat_at", ["heartbeat_at"], unique=False)
    op.create_table(
        "missed_runs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("job", sa.String(length=100), nullable=False),
        _time("scheduled_at", True),
        _time("recorded_at", False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_missed_runs")),
    )
    with op.batch_alter_table("missed_runs", schema=None) as batch_op:
        batch_op.create_index("ix_missed_runs_job_recorded_at", ["job", "recorded_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_missed_runs_recorded_at"), ["recorded_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("missed_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_missed_runs_recorded_at"))
        batch_op.drop_index("ix_missed_runs_job_recorded_at")
    op.drop_table("missed_runs")
    with op.batch_alter_table("service_instances", schema=None) as batch_op:
        batch_op.drop_index("ix_service_instances_heartbeat_at")
    op.drop_table("service_instances")
    op.drop_table("service_jobs")
