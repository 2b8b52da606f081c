"""the sites page's counts: articles per site and Beijing day of first_seen, kept at store
time (the page no longer counts the articles table); filled from the stored articles

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 05:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "site_article_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("articles", sa.Integer(), nullable=False),
        sa.Column("last_first_seen", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_site_article_days_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_article_days")),
    )
    # Rows are only inserted (one per site and day per storing transaction) and summed when
    # read: writers of one site never wait for each other on a shared counter row.
    op.create_index("ix_site_article_days_site_day", "site_article_days", ["site_id", "day"])
    if op.get_bind().dialect.name == "sqlite":
        day = "date(first_seen, '+8 hours')"
    else:
        day = "CAST(timezone('Asia/Shanghai', first_seen) AS DATE)"
    op.execute(
        "INSERT INTO site_article_days (site_id, day, articles, last_first_seen) "
        f"SELECT site_id, {day}, count(*), max(first_seen) FROM articles "
        f"GROUP BY site_id, {day}"
    )


def downgrade() -> None:
    op.drop_table("site_article_days")
