"""The search index's table, and building it for the articles already stored, in bulk:
migration 0010's backfill (and the benchmark, which builds its index the same way).

Outside the repository package, and with SQLAlchemy Core only, so that creating a new
database (every migration, 0010 among them) imports no ORM: the crawl command's database
child creates the schema while the crawl process starts (``crawler.store.child``).

Row-at-a-time indexing (:func:`storage.repository.search.index_articles`) is right for a
crawl's batches but slow for a million rows: on SQLite FTS5 flushes its pending terms to a new
segment every megabyte and merges segments as it goes, rewriting the index many times over; on
PostgreSQL a GIN index updated row by row, or built with the default 64 MB of
``maintenance_work_mem``, spills and merges the same way.  So here:

- SQLite: FTS5's in-memory buffer is raised (``hashsize``) and its automatic merging switched
  off while the rows go in (one transaction), so each flush writes one large segment; then
  the defaults come back, leaving a few large segments that later writes merge gradually; a
  bigger page cache for the connection while it runs.
- PostgreSQL: rows go in by ``COPY`` (the terms as ``tsvector`` text: they hold only
  ``[a-z0-9]`` and CJK ideographs, which need no quoting), the GIN indexes are built after the
  load (the migration creates them after calling this), with ``maintenance_work_mem`` raised
  for the transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

from storage.search_terms import document_terms

log = logging.getLogger(__name__)

__all__ = [
    "BUILD_MAINTENANCE_MEM",
    "MAX_PG_TERMS",
    "TABLE",
    "create_postgres_indexes",
    "index_all_articles",
]

TABLE = "article_search"
# A tsvector holds at most 1 MB: a text with more distinct terms is not indexed (NULL) and is a
# candidate for every search, checked by its substring like any other.
MAX_PG_TERMS = 60_000

_BATCH = 2000
_PROGRESS = 50_000
_FTS5_HASHSIZE = 256 * 2**20  # bytes of pending terms per flush (FTS5's default: 1 MiB)
_FTS5_DEFAULT_HASHSIZE = 2**20
_FTS5_DEFAULT_AUTOMERGE = 4
_SQLITE_CACHE_KIB = 256 * 1024
BUILD_MAINTENANCE_MEM = "512MB"  # PostgreSQL's maintenance_work_mem for the GIN builds


def index_all_articles(conn: Connection) -> int:
    """Index every stored article into the (empty) search index, in the caller's transaction;
    returns how many.  On PostgreSQL the table's indexes should not exist yet: create them
    after, with :func:`create_postgres_indexes`."""
    if conn.dialect.name == "sqlite":
        return _index_sqlite(conn)
    return _index_postgres(conn)


def _batches(conn: Connection) -> Iterator[Sequence[Any]]:
    total = conn.scalar(text("SELECT count(*) FROM articles")) or 0
    select = text("SELECT id, title, body FROM articles WHERE id > :last ORDER BY id LIMIT :n")
    done, last = 0, -1
    while rows := conn.execute(select, {"last": last, "n": _BATCH}).all():
        yield rows
        last = rows[-1][0]
        before, done = done, done + len(rows)
        if done // _PROGRESS != before // _PROGRESS or done >= total:
            log.info("article search index: %d of %d articles indexed", done, total)


def _fts5_option(conn: Connection, name: str, value: int) -> None:
    try:
        conn.execute(
            text(f"INSERT INTO {TABLE}({TABLE}, rank) VALUES (:name, :value)"),
            {"name": name, "value": value},
        )
    except OperationalError:  # an SQLite without the option (hashsize): only slower
        log.info("article search index: this SQLite has no FTS5 option %r", name)


def _index_sqlite(conn: Connection) -> int:
    cache = conn.scalar(text("PRAGMA cache_size"))
    conn.execute(text(f"PRAGMA cache_size = -{_SQLITE_CACHE_KIB}"))
    _fts5_option(conn, "automerge", 0)
    _fts5_option(conn, "hashsize", _FTS5_HASHSIZE)
    insert = text(f"INSERT INTO {TABLE}(rowid, title, body) VALUES (:id, :t, :b)")
    count = 0
    try:
        for rows in _batches(conn):
            conn.execute(
                insert,
                [
                    {
                        "id": aid,
                        "t": " ".join(document_terms(title or "")),
                        "b": " ".join(document_terms(body or "")),
                    }
                    for aid, title, body in rows
                ],
            )
            count += len(rows)
    finally:
        _fts5_option(conn, "hashsize", _FTS5_DEFAULT_HASHSIZE)
        _fts5_option(conn, "automerge", _FTS5_DEFAULT_AUTOMERGE)
        conn.execute(text(f"PRAGMA cache_size = {int(cache or -2000)}"))
    return count


def _index_postgres(conn: Connection) -> int:
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    count = 0
    for rows in _batches(conn):
        with cursor.copy(f"COPY {TABLE} (article_id, title_terms, terms) FROM STDIN") as copy:
            for aid, title, body in rows:
                title_terms = document_terms(title or "")
                terms = title_terms | document_terms(body or "")
                copy.write_row(
                    (
                        aid,
                        " ".join(title_terms),
                        " ".join(terms) if len(terms) <= MAX_PG_TERMS else None,
                    )
                )
        count += len(rows)
    return count


# kB of new terms a GIN index holds before merging them in (PostgreSQL's default is 4,096).
GIN_PENDING_LIST_KB = 256


def create_postgres_indexes(conn: Connection) -> None:
    """The PostgreSQL search table's indexes, built once its rows are in (one GIN build is
    much faster than a million GIN inserts), and its statistics (the planner's estimates of
    how many articles hold a term)."""
    conn.execute(text(f"SET LOCAL maintenance_work_mem = '{BUILD_MAINTENANCE_MEM}'"))
    # A short pending list: new rows' terms wait in at most 256 kB, merged into the index when
    # it fills.  PostgreSQL's 4 MB default is read through by every search until a vacuum
    # (1,000 new articles made searches 0.5 s); no list at all (fastupdate off) made every
    # stored article pay its GIN inserts at once (a crawl's store stage 2.5x slower).
    for name, col in (
        ("ix_article_search_title", "title_terms"),
        ("ix_article_search_terms", "terms"),
    ):
        conn.execute(
            text(
                f"CREATE INDEX {name} ON {TABLE} USING gin ({col})"
                f" WITH (gin_pending_list_limit = {GIN_PENDING_LIST_KB})"
            )
        )
    conn.execute(
        text(
            f"CREATE INDEX ix_article_search_unindexed ON {TABLE} (article_id) WHERE terms IS NULL"
        )
    )
    conn.execute(text(f"ANALYZE {TABLE}"))
