"""Helpers shared by the repository modules: the clock, dialect inserts, row -> view."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import QueryableAttribute, Session

from storage.models import Article
from storage.records import ArticleView
from storage.status_reads import run_view, utcnow

__all__ = [
    "IN_CHUNK",
    "article_view",
    "insert_for",
    "is_postgres",
    "pg_insert_columns",
    "run_view",
    "sqlite_insert_rows",
    "stored_value",
    "utcnow",
]

# Bound parameters per statement stay well below SQLite's and PostgreSQL's limits.
IN_CHUNK = 500


def insert_for(session: Session) -> Any:
    """The dialect's INSERT construct (both have ON CONFLICT ... DO NOTHING)."""
    # imported here: a crawl into SQLite does not load PostgreSQL's dialect (~20 ms)
    if is_postgres(session):
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert


def is_postgres(session: Session) -> bool:
    """Whether the session's database is PostgreSQL (else SQLite, the other one supported)."""
    return session.get_bind().dialect.name == "postgresql"


def pg_insert_columns(
    session: Session,
    table: str,
    columns: dict[str, tuple[str, list[Any]]],
    suffix: str = "",
) -> None:
    """PostgreSQL: insert rows given column by column (``name: (SQL type, values)``) in one
    statement, ``INSERT ... SELECT * FROM unnest(array, ...)`` then ``suffix`` (an ON CONFLICT
    clause).

    One short statement, the same text whatever the number of rows: PostgreSQL parses and
    plans it once per connection.  A multi-row ``VALUES`` of 500 rows was a new text of 3,500
    parameters each time, 25-36 ms to parse and 30 ms to bind; one statement per row, 3,000
    statements for a crawl's link references.
    """
    from sqlalchemy import text

    names = ", ".join(columns)
    arrays = ", ".join(f"CAST(:c{i} AS {kind}[])" for i, (kind, _) in enumerate(columns.values()))
    session.execute(
        text(f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) {suffix}"),
        {f"c{i}": values for i, (_, values) in enumerate(columns.values())},
    )


def stored_value(
    session: Session, column: ColumnElement[Any] | QueryableAttribute[Any], value: Any
) -> Any:
    """``value`` as the session's database driver takes it for ``column``: through the
    column type's bind processing (an aware datetime becomes SQLite's UTC text), done once
    for a value every row of a batch shares."""
    dialect = session.get_bind().dialect
    processor = column.type.dialect_impl(dialect).bind_processor(dialect)
    return processor(value) if processor is not None else value


def sqlite_insert_rows(
    session: Session,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    suffix: str = "",
    returning: str = "",
) -> list[tuple[Any, ...]]:
    """SQLite: insert ``rows`` (tuples of driver values, see :func:`stored_value`) into
    ``table``'s ``columns``, then ``suffix`` (an ON CONFLICT clause); with ``returning``
    (``RETURNING ...``), one multi-row ``VALUES`` per 500 rows, giving the rows back raw.

    The twin of :func:`pg_insert_columns` for a crawl's largest batches (dedupe bands, links,
    link references): SQLAlchemy's Core insert processed every value of every row in Python
    (four datetimes a link, the same one each time), more CPU than SQLite's own insert.
    """
    if not rows:
        return []
    names = ", ".join(columns)
    one = "(" + ", ".join("?" * len(columns)) + ")"
    connection = session.connection()
    if not returning:
        connection.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES {one} {suffix}", rows)
        return []
    out: list[tuple[Any, ...]] = []
    for start in range(0, len(rows), IN_CHUNK):
        part = rows[start : start + IN_CHUNK]
        values = ", ".join([one] * len(part))
        flat = tuple(value for row in part for value in row)
        result = connection.exec_driver_sql(
            f"INSERT INTO {table} ({names}) VALUES {values} {suffix} {returning}", flat
        )
        out += [tuple(row) for row in result]
    return out


def article_view(a: Article, site: str) -> ArticleView:
    return ArticleView(
        id=a.id,
        site=site,
        url=a.fetched_url,
        canonical_url=a.url,
        title=a.title,
        pretitle=a.pretitle,
        subtitle=a.subtitle,
        publish_time=a.publish_time,
        publish_time_precision=a.publish_time_precision,
        source=a.source,
        author=a.author,
        editor=a.editor,
        body=a.body,
        first_seen=a.first_seen,
        last_seen=a.last_seen,
        duplicate_of=a.duplicate_of,
        revision=a.revision,
        changed_at=a.changed_at,
        gone_at=a.gone_at,
        gone_status=a.gone_status,
    )
