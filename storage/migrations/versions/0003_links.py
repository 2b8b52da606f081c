"""links: link inventory, referencing pages, check history, events; articles gone flag

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 12:00:00

New tables ``links`` (one row per canonical URL, with its status and check schedule),
``link_refs`` (which page references which link), ``link_checks`` (bounded history) and
``link_events`` (newly dead / recovered).  Adds to ``articles``: ``gone_at`` and
``gone_status`` (a stored article whose page later answers 404/410).

The article columns are added with a plain ``ALTER TABLE … ADD COLUMN`` on every database:
copying ``articles`` (SQLite batch mode) would drop it, and with foreign keys on, dropping it
deletes the rows of every table that cascades from it.  They are dropped the same way
(SQLite 3.35+ has ``DROP COLUMN``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, storage.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.add_column("articles", _time("gone_at", True))
    op.add_column("articles", sa.Column("gone_status", sa.Integer(), nullable=True))

    op.create_table(
        "links",
        sa.Column("id", _ID, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("fetch_url", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _time("status_since", False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("redirect_url", sa.Text(), nullable=True),
        _time("first_seen", False),
        _time("last_seen", False),
        _time("last_checked_at", True),
        _time("next_check_at", False),
        sa.Column("streak", sa.Integer(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        _time("failing_since", True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_links")),
        sa.UniqueConstraint("url", name=op.f("uq_links_url")),
    )
    op.create_index("ix_links_next_check_at", "links", ["next_check_at"], unique=False)
    op.create_index("ix_links_status_since", "links", ["status", "status_since"], unique=False)

    op.create_table(
        "link_refs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("link_id", _ID, nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("page_url", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _time("first_seen", False),
        _time("last_seen", False),
        sa.ForeignKeyConstraint(
            ["link_id"], ["links.id"], name=op.f("fk_link_refs_link_id_links"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_link_refs_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_refs")),
        sa.UniqueConstraint("link_id", "page_url", name=op.f("uq_link_refs_link_id")),
    )
    op.create_index("ix_link_refs_site_id", "link_refs", ["site_id"], unique=False)

    op.create_table(
        "link_checks",
        sa.Column("id", _ID, nullable=False),
        sa.Column("link_id", _ID, nullable=False),
        _time("checked_at", False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("final_url", sa.Text(), nullable=True),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("elapsed_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["links.id"],
            name=op.f("fk_link_checks_link_id_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_checks")),
    )
    op.create_index("ix_link_checks_link_id_id", "link_checks", ["link_id", "id"], unique=False)

    op.create_table(
        "link_events",
        sa.Column("id", _ID, nullable=False),
        sa.Column("link_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("previous_status", sa.String(length=16), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        _time("at", False),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["links.id"],
            name=op.f("fk_link_events_link_id_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_events")),
    )
    op.create_index("ix_link_events_at", "link_events", ["at"], unique=False)
    op.create_index(op.f("ix_link_events_link_id"), "link_events", ["link_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_link_events_link_id"), table_name="link_events")
    op.drop_index("ix_link_events_at", table_name="link_events")
    op.drop_table("link_events")
    op.drop_index("ix_link_checks_link_id_id", table_name="link_checks")
    op.drop_table("link_checks")
    op.drop_index("ix_link_refs_site_id", table_name="link_refs")
    op.drop_table("link_refs")
    op.drop_index("ix_links_status_since", table_name="links")
    op.drop_index("ix_links_next_check_at", table_name="links")
    op.drop_table("links")
    op.drop_column("articles", "gone_status")
    op.drop_column("articles", "gone_at")
