"""Keyset pages of the plain articles listing (no search text): each page seeks to its cursor
in ``ix_articles_listing`` instead of walking the index from the newest row.

The listing's order is publish time descending with unknown publish times last, then first
seen descending, then id descending.  One condition for "after the cursor" that also lets the
NULL tail in (``... OR publish_time IS NULL``) is no range of the index: SQLite then scans it
from the top, and page N costs O(N).  So a page is read in two branches, each a range:

- the cursor has a publish time: ``publish_time <= p AND (publish_time < p OR first_seen < f
  OR (first_seen = f AND id < i))`` (SQLite and PostgreSQL both seek to ``publish_time <= p``,
  the rest filters the rows tied with the cursor); when that runs out before the page is
  full, the NULL tail from its start;
- the cursor is in the NULL tail: ``publish_time IS NULL AND first_seen <= f AND (first_seen
  < f OR id < i)`` (an equality and a range on the index's columns).
"""

from __future__ import annotations

from typing import TypeVarTuple

from sqlalchemy import ColumnElement, Row, Select, and_, literal, tuple_
from sqlalchemy.orm import Session

from storage.models import Article
from storage.records import ArticleCursor
from storage.repository.search import listing_order

_Ts = TypeVarTuple("_Ts")


def listing_page(
    session: Session, stmt: Select[*_Ts], after: ArticleCursor | None, limit: int
) -> list[Row[*_Ts]]:
    """Up to ``limit`` rows of ``stmt`` (a filtered select over articles) in the listing's
    order, after ``after`` (``None``: from the first)."""
    if limit <= 0:
        return []
    if after is None:
        return _read(session, stmt, limit)
    if after.publish_time is None:
        return _read(session, stmt.where(_after_in_undated(after)), limit)
    rows = _read(session, stmt.where(_after_dated(after)), limit)
    if len(rows) < limit:  # the dated rows ran out: the undated ones follow, from the first
        rows += _read(session, stmt.where(Article.publish_time.is_(None)), limit - len(rows))
    return rows


def _read(session: Session, stmt: Select[*_Ts], limit: int) -> list[Row[*_Ts]]:
    return list(session.execute(stmt.order_by(*listing_order()).limit(limit)))


def _after_dated(cursor: ArticleCursor) -> ColumnElement[bool]:
    """Rows with a publish time after ``cursor`` (which has one)."""
    return and_(
        Article.publish_time.is_not(None),
        tuple_(Article.publish_time, Article.first_seen, Article.id)
        < tuple_(
            literal(cursor.publish_time, Article.publish_time.type),
            literal(cursor.first_seen, Article.first_seen.type),
            literal(cursor.id, Article.id.type),
        ),
    )


def _after_in_undated(cursor: ArticleCursor) -> ColumnElement[bool]:
    """Rows without a publish time after ``cursor`` (which has none)."""
    return and_(
        Article.publish_time.is_(None),
        tuple_(Article.first_seen, Article.id)
        < tuple_(
            literal(cursor.first_seen, Article.first_seen.type),
            literal(cursor.id, Article.id.type),
        ),
    )
