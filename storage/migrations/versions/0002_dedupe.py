"""dedupe and incremental crawling: fingerprints, duplicate links, revisions, validators

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 10:00:00

Adds to ``articles``: ``body_hash`` (exact fingerprint), ``duplicate_of`` (the earliest copy
of the same story), ``revision`` and ``changed_at`` (edits); new tables ``dedupe_bands``
(MinHash-LSH keys: the near-duplicate index) and ``http_validators`` (ETag / Last-Modified
per URL, for conditional requests).

On SQLite, adding the foreign key ``duplicate_of`` means copying ``articles`` (Alembic's
batch mode: create, copy, drop, rename); a plain ``ALTER TABLE … ADD COLUMN … REFERENCES``
would work but SQLite does not keep its name or ``ON DELETE``, so models and migrations
would disagree.  Caution for whoever re-chains migrations: with foreign keys on, dropping
``articles`` deletes the rows of tables that cascade from it, so this copy must run before
any migration that fills a table referencing ``articles`` (on an empty new table it is
harmless).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # On SQLite, adding a foreign key copies the table (batch mode); see the note above.
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_hash", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("duplicate_of", _ID, nullable=True))
        batch_op.add_column(
            sa.Column("revision", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("changed_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_articles_duplicate_of_articles"),
            "articles",
            ["duplicate_of"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(batch_op.f("ix_articles_body_hash"), ["body_hash"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_articles_duplicate_of"), ["duplicate_of"], unique=False
        )

    op.create_table(
        "dedupe_bands",
        sa.Column("key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("article_id", _ID, autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_dedupe_bands_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", "article_id", name=op.f("pk_dedupe_bands")),
    )
    op.create_index(
        op.f("ix_dedupe_bands_article_id"), "dedupe_bands", ["article_id"], unique=False
    )
    op.create_table(
        "http_validators",
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("url", name=op.f("pk_http_validators")),
    )


def downgrade() -> None:
    op.drop_table("http_validators")
    op.drop_index(op.f("ix_dedupe_bands_article_id"), table_name="dedupe_bands")
    op.drop_table("dedupe_bands")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_articles_duplicate_of"))
        batch_op.drop_index(batch_op.f("ix_articles_body_hash"))
        batch_op.drop_constraint(
            batch_op.f("fk_articles_duplicate_of_articles"), type_="foreignkey"
        )
        for column in ("changed_at", "revision", "duplicate_of", "body_hash"):
            batch_op.drop_column(column)
