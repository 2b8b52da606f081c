"""digest: subscriptions' start positions, windows, the delivery outbox and its attempts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 14:00:00

New tables only: ``digest_subscriptions`` (where a subscription's first window starts),
``digest_windows`` (the database positions each digest covered, and its content as JSON),
``digest_deliveries`` (one row per window and channel: state, idempotency key, retry
schedule) and ``digest_attempts`` (every try at sending, recorded before the send).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, storage.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "digest_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        _time("created_at", False),
        sa.Column("start_article_id", sa.BigInteger(), nullable=False),
        sa.Column("start_link_event_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_subscriptions")),
        sa.UniqueConstraint("name", name=op.f("uq_digest_subscriptions_name")),
    )
    op.create_table(
        "digest_windows",
        sa.Column("id", _ID, nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("after_article_id", sa.BigInteger(), nullable=False),
        sa.Column("upto_article_id", sa.BigInteger(), nullable=False),
        sa.Column("after_link_event_id", sa.BigInteger(), nullable=False),
        sa.Column("upto_link_event_id", sa.BigInteger(), nullable=False),
        _time("built_at", False),
        sa.Column("article_count", sa.Integer(), nullable=False),
        sa.Column("dead_link_count", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Boolean(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["digest_subscriptions.id"],
            name=op.f("fk_digest_windows_subscription_id_digest_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_windows")),
        sa.UniqueConstraint(
            "subscription_id", "seq", name=op.f("uq_digest_windows_subscription_id")
        ),
    )
    op.create_table(
        "digest_deliveries",
        sa.Column("id", _ID, nullable=False),
        sa.Column("window_id", _ID, nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("channel_type", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("parts_sent", sa.Integer(), nullable=False),
        _time("next_attempt_at", True),
        _time("lease_until", True),
        sa.Column("last_error", sa.Text(), nullable=False),
        _time("created_at", False),
        _time("delivered_at", True),
        sa.ForeignKeyConstraint(
            ["window_id"],
            ["digest_windows.id"],
            name=op.f("fk_digest_deliveries_window_id_digest_windows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_deliveries")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_digest_deliveries_idempotency_key")),
        sa.UniqueConstraint("window_id", "channel", name=op.f("uq_digest_deliveries_window_id")),
    )
    op.create_index(
        "ix_digest_deliveries_state_next",
        "digest_deliveries",
        ["state", "next_attempt_at"],
        unique=False,
    )
    op.create_table(
        "digest_attempts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("delivery_id", _ID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        _time("started_at", False),
        _time("finished_at", True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["digest_deliveries.id"],
            name=op.f("fk_digest_attempts_delivery_id_digest_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_attempts")),
    )
    op.create_index(
        op.f("ix_digest_attempts_delivery_id"), "digest_attempts", ["delivery_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_digest_attempts_delivery_id"), table_name="digest_attempts")
    op.drop_table("digest_attempts")
    op.drop_index("ix_digest_deliveries_state_next", table_name="digest_deliveries")
    op.drop_table("digest_deliveries")
    op.drop_table("digest_windows")
    op.drop_table("digest_subscriptions")
