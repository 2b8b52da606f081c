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

The terms are made in Python (``storage.search_terms``), so existing rows are indexed here in
batches of 2,000, in id order, with progress logged every 50,000.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

from storage.search_terms import document_terms

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger(__name__)

_BATCH = 2000
_PROGRESS = 50_000
_MAX_PG_TERMS = 60_000  # as storage.repository.search.MAX_PG_TERMS


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
        insert = sa.text("INSERT INTO article_search(rowid, title, body) VALUES (:id, :t, :b)")
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
        insert = sa.text(
            "INSERT INTO article_search (article_id, title_terms, terms) "
            "VALUES (:id, array_to_tsvector(:t), array_to_tsvector(:b))"
        ).bindparams(
            sa.bindparam("t", type_=ARRAY(sa.Text)), sa.bindparam("b", type_=ARRAY(sa.Text))
        )
    _backfill(bind, insert, sqlite=bind.dialect.name == "sqlite")
    if bind.dialect.name != "sqlite":
        # built after the backfill: one GIN build is much faster than 1M GIN inserts
        op.execute("CREATE INDEX ix_article_search_title ON article_search USING gin (title_terms)")
        op.execute("CREATE INDEX ix_article_search_terms ON article_search USING gin (terms)")
        op.execute(
            "CREATE INDEX ix_article_search_unindexed ON article_search (article_id) "
            "WHERE terms IS NULL"
        )
        op.execute("ANALYZE article_search")


def _backfill(bind: sa.Connection, insert: sa.TextClause, *, sqlite: bool) -> None:
    total = bind.scalar(sa.text("SELECT count(*) FROM articles")) or 0
    done = 0
    last = -1
    select = sa.text(
        "SELECT id, title, body FROM articles WHERE id > :last ORDER BY id LIMIT :batch"
    )
    while True:
        rows = bind.execute(select, {"last": last, "batch": _BATCH}).all()
        if not rows:
            break
        params = []
        for aid, title, body in rows:
            title_terms = document_terms(title or "")
            body_terms = document_terms(body or "")
            if sqlite:
                params.append({"id": aid, "t": " ".join(title_terms), "b": " ".join(body_terms)})
            else:
                terms = title_terms | body_terms
                params.append(
                    {
                        "id": aid,
                        "t": sorted(title_terms),
                        "b": sorted(terms) if len(terms) <= _MAX_PG_TERMS else None,
                    }
                )
        bind.execute(insert, params)
        last = rows[-1][0]
        before, done = done, done + len(rows)
        if done // _PROGRESS != before // _PROGRESS or done == total:
            log.info("article search index: %d of %d articles indexed", done, total)


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_articles_listing")
    op.execute("DROP TABLE IF EXISTS article_search")
