"""the web view's index: link_refs by page (an article's page finds its links without
scanning every reference); the article listing's order index is 0010's

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


def downgrade() -> None:
    op.drop_index("ix_link_refs_page_url", table_name="link_refs")
