"""Keyset pages of the plain articles listing: exact (every row once, in the one-shot order,
NULL publish times and ties included) on SQLite and PostgreSQL, and each page a seek to its
cursor in ``ix_articles_listing`` (SQLite's plan; its instruction count does not grow with
the depth of the page)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from storage import repository
from storage.database import Database
from storage.records import ArticleCursor, ArticleQuery, ArticleView, NewArticle, SiteInfo

START = datetime(2026, 3, 1, tzinfo=UTC)


def _article(site_id: int, n: int, published: datetime | None) -> NewArticle:
    return NewArticle(
        site_id=site_id,
        url=f"https://s{site_id}.example.gov.cn/a/{n}.html",
        fetched_url=f"https://s{site_id}.example.gov.cn/a/{n}.html",
        title=f"第{n}篇",
        publish_time=published,
        source=None,
        author=None,
        body=f"正文{n}",
    )


def _fill(db: Database, batches: int, per_batch: int) -> None:
    """Articles over two sites in batches (one batch: one first_seen, so ties on it), many
    sharing a publish minute, every fifth without a publish time."""
    with db.session() as s:
        ids = repository.sync_sites(s, [SiteInfo("a", "A"), SiteInfo("b", "B")])
    n = 0
    for _ in range(batches):
        batch = []
        for _ in range(per_batch):
            published = None if n % 5 == 0 else START + timedelta(minutes=(n * 7) % 11)
            batch.append(_article(ids["a" if n % 3 else "b"], n, published))
            n += 1
        with db.session() as s:
            repository.store_articles(s, batch, run_id=None)


def _cursor(a: ArticleView) -> ArticleCursor:
    return ArticleCursor(a.publish_time, a.first_seen, a.id, None)


def _page(db: Database, query: ArticleQuery) -> list[ArticleView]:
    with db.session() as s:
        return repository.list_articles(s, query)


def _walk(db: Database, limit: int, **filters: Any) -> list[int]:
    seen: list[int] = []
    after = None
    while True:
        page = _page(db, ArticleQuery(limit=limit, after=after, **filters))
        seen += [a.id for a in page]
        if len(page) < limit:
            return seen
        after = _cursor(page[-1])
        assert len(seen) < 1000, "the pages do not end"


def _expected(db: Database, **filters: Any) -> list[int]:
    every = _page(db, ArticleQuery(limit=1000, **filters))
    undated = [a for a in every if a.publish_time is None]
    dated = [a for a in every if a.publish_time is not None]
    dated.sort(key=lambda a: (a.publish_time, a.first_seen, a.id), reverse=True)
    undated.sort(key=lambda a: (a.first_seen, a.id), reverse=True)
    return [a.id for a in dated + undated]


@pytest.mark.parametrize("limit", [1, 4])
def test_pages_one_row_at_a_time_give_the_one_shot_order(db: Database, limit: int) -> None:
    _fill(db, batches=6, per_batch=9)
    every = _expected(db, duplicates="show")
    assert len(every) == 54
    assert _walk(db, limit, duplicates="show") == every
    site_b = _expected(db, duplicates="show", site="b")
    assert 0 < len(site_b) < len(every)
    assert _walk(db, limit, duplicates="show", site="b") == site_b


def test_a_page_ending_at_the_last_dated_row_goes_on_with_the_undated_ones(db: Database) -> None:
    _fill(db, batches=1, per_batch=10)  # two undated: articles 0 and 5
    every = _expected(db, duplicates="show")
    last_dated = every.index(every[-3])  # the last dated row, then the two undated
    first = _page(db, ArticleQuery(limit=last_dated + 1, duplicates="show"))
    rest = _page(db, ArticleQuery(limit=10, duplicates="show", after=_cursor(first[-1])))
    assert [a.id for a in rest] == every[-2:]
    assert [a.publish_time for a in rest] == [None, None]


@contextmanager
def _plans(db: Database) -> Iterator[list[str]]:
    """SQLite's query plan of each article-listing statement run meanwhile."""
    plans: list[str] = []

    def explain(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.startswith("SELECT") and "ORDER BY articles.publish_time DESC" in statement:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
            plans.append("\n".join(r[-1] for r in rows))

    event.listen(db.engine, "before_cursor_execute", explain)
    try:
        yield plans
    finally:
        event.remove(db.engine, "before_cursor_execute", explain)


def test_a_keyset_page_seeks_to_its_cursor_on_sqlite(sqlite_db: Database) -> None:
    _fill(sqlite_db, batches=2, per_batch=10)
    every = _page(sqlite_db, ArticleQuery(limit=100))
    dated = next(a for a in every[5:] if a.publish_time is not None)
    undated = next(a for a in every if a.publish_time is None)
    for cursor in (_cursor(dated), _cursor(undated)):
        for filters in ({}, {"duplicates": "show"}):
            with _plans(sqlite_db) as plans:
                _page(sqlite_db, ArticleQuery(limit=3, after=cursor, **filters))
            assert plans
            for plan in plans:
                assert "SCAN articles" not in plan, plan
                assert "SEARCH articles USING INDEX ix_articles_listing (publish_time" in plan


def _instructions(db: Database, query: ArticleQuery) -> int:
    """SQLite virtual-machine instructions (in hundreds) the query took."""
    counted = [0]

    def tick() -> int:
        counted[0] += 1
        return 0

    with db.session() as s:
        raw = s.connection().connection.dbapi_connection
        assert isinstance(raw, sqlite3.Connection)
        raw.set_progress_handler(tick, 100)
        try:
            repository.list_articles(s, query)
        finally:
            raw.set_progress_handler(None, 0)
    return counted[0]


def test_a_deep_page_costs_what_the_first_costs_on_sqlite(sqlite_db: Database) -> None:
    _fill(sqlite_db, batches=20, per_batch=200)
    every = _page(sqlite_db, ArticleQuery(limit=4000, duplicates="show"))
    dated = [a for a in every if a.publish_time is not None]
    deep = _cursor(dated[len(dated) // 2])
    first = _instructions(sqlite_db, ArticleQuery(limit=20))
    half_way = _instructions(sqlite_db, ArticleQuery(limit=20, after=deep))
    assert half_way <= 2 * first, (first, half_way)


def test_a_keyset_page_without_copies_walks_the_listing_index_on_postgresql(
    db: Database,
) -> None:
    """With copies hidden (the web view's default), a later page is read from
    ``ix_articles_listing`` under the page's limit.  The clause SQLite needs
    (``coalesce(duplicate_of, 0) = 0``) has no statistics on PostgreSQL, which guessed it
    matches 0.5 % of the rows, read every row after the cursor and sorted them all (24 ms at
    20,000 articles, growing with the table); ``duplicate_of IS NULL`` it knows is most rows."""
    if db.is_sqlite:
        pytest.skip("the plan is PostgreSQL's")
    _fill(db, batches=10, per_batch=200)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE articles")  # as autovacuum does on a live table
    every = _page(db, ArticleQuery(limit=100))
    cursor = _cursor(next(a for a in every[50:] if a.publish_time is not None))
    plans: list[str] = []

    def explain(conn: Any, dbapi_cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.startswith("SELECT") and "ORDER BY articles.publish_time DESC" in statement:
            with dbapi_cursor.connection.cursor() as c:  # the same transaction
                c.execute("EXPLAIN " + statement, params)
                plans.append("\n".join(row[0] for row in c.fetchall()))

    event.listen(db.engine, "before_cursor_execute", explain)
    try:
        page = _page(db, ArticleQuery(limit=20, after=cursor, duplicates="hide"))
    finally:
        event.remove(db.engine, "before_cursor_execute", explain)
    assert len(page) == 20
    assert plans
    for plan in plans:
        assert "Sort" not in plan and "Index Scan Backward using ix_articles_listing" in plan, plan
