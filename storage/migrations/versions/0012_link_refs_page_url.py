"""the web view's indexes: link_refs by page (an article's page finds its links without
scanning every reference), and the article listing's order (a page of articles, and each
keyset page after it, reads an index range backwards instead of sorting the table)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 02:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_link_refs_page_url", "link_refs", ["page_url"])
    # ORDER BY publish_time DESC NULLS LAST, first_seen DESC, id DESC is this index read
    # backwards: SQLite sorts NULL first in ascending order already; PostgreSQL is told to.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_articles_listing ON articles "
            "(publish_time NULLS FIRST, first_seen, id)"
        )
    else:
        op.create_index("ix_articles_listing", "articles", ["publish_time", "first_seen", "id"])


def downgrade() -> None:
    op.drop_index("ix_articles_listing", table_name="articles")
    op.drop_index("ix_link_refs_page_url", table_name="link_refs")
