"""article search: an index of titles and bodies as character unigrams and bigrams, and the
listing's index

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 02:30:00

SQLite: ``article_search``, a contentless FTS5 table (``unicode61``, ``detail=column``) with
columns ``title`` and ``body``, rowid = article id.  PostgreSQL: ``article_search`` with
``title_terms`` and ``terms`` (title and body) as ``tsvector`` of literal terms, a GIN index on
each, and a partial index on the rows too big to index (``terms IS NULL``).  Both: the listing
index ``ix_articles_listing`` (newest publish time first, unknown last; first seen; id).

The terms are made in Python (``storage.search_terms``), so existing rows are indexed here,
in bulk (``storage.search_build``: one large FTS5 segment at a time on SQLite,
``COPY`` and the GIN indexes built after the load on PostgreSQL), with progress logged every
50,000.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from storage.search_build import create_postgres_indexes, index_all_articles

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE article_search USING fts5("
            "title, body, content='', detail=column, tokenize='unicode61')"
        )
        op.execute(
            "CREATE INDEX ix_articles_listing ON articles (publish_time, first_seen, id)"
        )
    else:
        op.execute(
            "CREATE TABLE article_search ("
            "article_id BIGINT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE, "
            "title_terms TSVECTOR NOT NULL, terms TSVECTOR)"
        )
        op.execute(
            "CREATE INDEX ix_articles_listing ON articles "
            "(publish_time NULLS FIRST, first_seen, id)"
        )
    index_all_articles(bind)
    if bind.dialect.name != "sqlite":
        create_postgres_indexes(bind)


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_articles_listing")
    op.execute("DROP TABLE IF EXISTS article_search")
