"""Storage contract, on SQLite always and on PostgreSQL when configured."""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, text

from storage import repository
from storage.database import Database
from storage.errors import StorageError
from storage.migrate import current_revision, head_revision, upgrade
from storage.models import Base
from storage.records import ArticleQuery, NewArticle, RunTotals, SiteInfo

BEIJING = timezone(timedelta(hours=8))


def article(site_id: int, n: int, **changes: object) -> NewArticle:
    values: dict[str, object] = {
        "site_id": site_id,
        "url": f"https://example.gov.cn/a/{n}.html",
        "fetched_url": f"http://example.gov.cn/a/{n}.html",
        "title": f"标题{n}",
        "publish_time": datetime(2024, 6, 30, 10, n % 60, tzinfo=BEIJING),
        "source": "重庆日报",
        "author": None,
        "body": f"正文第{n}篇。\n第二段。",
    }
    values.update(changes)
    return NewArticle(**values)  # type: ignore[arg-type]


def site_id(db: Database, name: str = "local") -> int:
    with db.session() as s:
        return repository.sync_sites(s, [SiteInfo(name, "本地")])[name]


def _modelled(name: str | None, type_: str, _parents: object) -> bool:
    """Whether a schema object is described by the models: the search index (an FTS5 table
    on SQLite, tsvector columns on PostgreSQL) and the listing index (its order differs by
    dialect) are made by migration 0010 in SQL, per dialect."""
    return not (name or "").startswith(
        ("article_search", "ix_articles_listing", "ix_article_search")
    )


def test_upgrade_is_idempotent_and_matches_models(database_url: str) -> None:
    db = Database(database_url)
    assert current_revision(db) is None
    assert upgrade(db) == (None, head_revision())
    assert upgrade(db) == (head_revision(), head_revision())
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_name": _modelled,
                # the models declare the listing index too: leave it out on both sides
                "include_object": lambda _obj, name, type_, _ref, _to: _modelled(name, type_, None),
            },
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    db.dispose()


def test_store_and_read_back_with_aware_times(db: Database) -> None:
    sid = site_id(db)
    with db.session() as s:
        run = repository.start_run(s, sid)
        new = repository.store_articles(s, [article(sid, 1), article(sid, 2)], run_id=run)
    assert len(new) == 2
    with db.session() as s:
        (first, *_) = repository.list_articles(s, ArticleQuery(site="local"))
    assert first.title == "标题2"  # newest first
    assert first.publish_time == datetime(2024, 6, 30, 2, 2, tzinfo=UTC)
    assert first.publish_time.utcoffset() == timedelta(0)
    assert first.first_seen.tzinfo is not None
    assert first.url == "http://example.gov.cn/a/2.html"
    assert first.canonical_url == "https://example.gov.cn/a/2.html"


def test_second_store_of_same_url_is_not_a_duplicate(db: Database) -> None:
    sid = site_id(db)
    with db.session() as s:
        assert len(repository.store_articles(s, [article(sid, 1)], run_id=None)) == 1
    with db.session() as s:
        assert repository.store_articles(s, [article(sid, 1), article(sid, 3)], run_id=None) != []
        assert len(repository.store_articles(s, [article(sid, 1)], run_id=None)) == 0
    with db.session() as s:
        assert repository.count_articles(s) == 2
        assert repository.known_urls(s, ["https://example.gov.cn/a/1.html", "x"]) == {
            "https://example.gov.cn/a/1.html"
        }


def test_a_batch_is_a_few_statements_whatever_fields_its_articles_leave_empty(
    db: Database,
) -> None:
    # Articles with and without an author, a source, a publish time were one INSERT each
    # (the ORM groups rows by the fields they set), their dedupe bands one INSERT per band on
    # PostgreSQL: 8,000 statements for a 300-page crawl.  Now a batch's rows share each one.
    sid = site_id(db)
    batch = [
        article(
            sid,
            n,
            author=None if n % 2 else f"作者{n}",
            source=None if n % 3 else "中央纪委国家监委网站",
            publish_time=None if n % 5 == 0 else datetime(2024, 6, 30, 10, n, tzinfo=BEIJING),
            bands=tuple(range(n * 16, n * 16 + 16)),
        )
        for n in range(1, 41)
    ]
    inserts: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO ARTICLES"):
            inserts.append("articles")
        elif statement.lstrip().upper().startswith("INSERT INTO DEDUPE_BANDS"):
            inserts.append("bands")

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        with db.session() as s:
            assert len(repository.store_articles(s, batch, run_id=None)) == 40
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert inserts.count("articles") == 1, inserts
    assert inserts.count("bands") <= 1, inserts  # SQLite's executemany is one call too
    with db.session() as s:
        stored = repository.list_articles(s, ArticleQuery(limit=100))
    assert {(a.canonical_url, a.author, a.source) for a in stored} == {
        (a.url, a.author, a.source) for a in batch
    }
    assert sum(a.publish_time is None for a in stored) == 8


def test_concurrent_inserts_of_the_same_url_never_raise(db: Database) -> None:
    sid = site_id(db)
    barrier = threading.Barrier(4)
    results: list[int] = []
    errors: list[BaseException] = []

    def insert() -> None:
        try:
            barrier.wait()
            with db.session() as s:
                results.append(len(repository.store_articles(s, [article(sid, 7)], run_id=None)))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=insert) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == [0, 0, 0, 1]
    with db.session() as s:
        assert repository.count_articles(s) == 1


def test_naive_datetimes_are_refused(db: Database) -> None:
    sid = site_id(db)
    with pytest.raises(StorageError), db.session() as s:
        repository.store_articles(
            s, [article(sid, 1, publish_time=datetime(2024, 1, 1))], run_id=None
        )


def test_query_filters(db: Database) -> None:
    sid = site_id(db)
    other = site_id(db, "other")
    with db.session() as s:
        repository.store_articles(
            s,
            [
                article(sid, 1, title="落实中央八项规定精神", body="正文"),
                article(sid, 2, publish_time=datetime(2023, 1, 1, tzinfo=BEIJING)),
                article(other, 3, body="深化纪检监察体制改革，100%_完成"),
                article(sid, 4, publish_time=None),
            ],
            run_id=None,
        )
    with db.session() as s:
        assert [a.title for a in repository.list_articles(s, ArticleQuery(search="八项"))] == [
            "落实中央八项规定精神"
        ]
        assert [a.site for a in repository.list_articles(s, ArticleQuery(search="纪"))] == ["other"]
        assert len(repository.list_articles(s, ArticleQuery(search="100%_"))) == 1
        assert len(repository.list_articles(s, ArticleQuery(search="%"))) == 1  # escaped
        since = datetime(2024, 1, 1, tzinfo=BEIJING)
        recent = repository.list_articles(s, ArticleQuery(site="local", since=since))
        assert sorted(a.title for a in recent) == ["标题4", "落实中央八项规定精神"]
        assert len(repository.list_articles(s, ArticleQuery(limit=2))) == 2
        # articles without a publish time come last
        assert repository.list_articles(s, ArticleQuery(site="local"))[-1].title == "标题4"


def test_runs_errors_and_site_summaries(db: Database) -> None:
    sid = site_id(db)
    with db.session() as s:
        run = repository.start_run(s, sid, pid=123)
        repository.record_crawl_error(
            s, run, url="http://x/404", status=404, kind="http", message="HTTP 404"
        )
    with db.session() as s:
        repository.finish_run(
            s,
            run,
            RunTotals(
                list_pages=2, articles_found=5, articles_new=3, error_count=1, warnings=("w1", "w2")
            ),
            outcome="partial",
            message="1 page(s) failed",
        )
    with db.session() as s:
        summaries = repository.site_summaries(s, ["local", "missing"])
        view = repository.get_run(s, run)
        errors = repository.run_errors(s, run)
    assert summaries[0].last_run is not None
    assert summaries[0].last_run.outcome == "partial"
    assert summaries[0].last_run.warnings == ("w1", "w2")
    assert summaries[1].last_run is None and summaries[1].article_count == 0
    assert view is not None and view.finished_at is not None and view.articles_new == 3
    assert [(e.status, e.kind) for e in errors] == [(404, "http")]


def test_unreachable_database_is_a_storage_error() -> None:
    db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(StorageError) as info:
        upgrade(db)
    assert "127.0.0.1" in str(info.value)
    assert "\n" not in str(info.value)


def sqlite_memory_used() -> Callable[[], int]:
    """SQLite's own count of the bytes it holds (its shared library's, through ctypes); the
    test is skipped where there is no such library."""
    try:
        lib = ctypes.CDLL("libsqlite3.so.0")
    except OSError:
        pytest.skip("no shared libsqlite3 to ask for its memory")
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    used: Callable[[], int] = lib.sqlite3_memory_used
    return used


def test_sqlite_connections_keep_no_prepared_statements(tmp_path: Path) -> None:
    # most statements are written once per batch size (multi-row INSERTs, IN lists): kept
    # prepared by the sqlite3 module's cache (128 per connection by default), they grew a
    # crawl process's and the service's memory by megabytes that were never used again
    memory_used = sqlite_memory_used()
    db = Database(f"sqlite:///{tmp_path / 'gw.db'}")
    try:
        with db.connect() as conn:
            conn.execute(text("SELECT 1"))
            before = memory_used()
            for n in range(1, 200):  # 199 statements, each run once, each larger
                values = ", ".join(f"({i}, 'x{i}')" for i in range(n))
                conn.execute(text(f"SELECT count(*) FROM (VALUES {values})"))
            grown = memory_used() - before
    finally:
        db.dispose()
    assert grown < 256 * 1024, grown


def test_a_limited_sqlite_cache_holds_few_pages_on_every_connection(tmp_path: Path) -> None:
    # the service's connections (scheduler.commands.open_service_database): with SQLite's
    # default cache each one kept the pages it read, and its memory grew with the database
    memory_used = sqlite_memory_used()
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    db = Database(url)
    with db.connect() as conn:  # ~4 MB of pages
        conn.execute(text("CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT)"))
        conn.execute(
            text(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000) "
                "INSERT INTO filler (body) SELECT printf('%.1000c', 'x') FROM n"
            )
        )
    db.dispose()  # the writer's cache goes with it

    def cache_growth(database: Database) -> tuple[int, list[int]]:
        """SQLite's memory grown by reading the table on two connections at once, and
        their cache_size pragmas."""
        with database.connect() as first, database.connect() as second:
            sizes = [c.execute(text("PRAGMA cache_size")).scalar_one() for c in (first, second)]
            before = memory_used()
            for conn in (first, second):
                assert conn.execute(text("SELECT sum(length(body)) FROM filler")).scalar() == (
                    4_000_000
                )
            return memory_used() - before, sizes

    try:
        default_growth, default_sizes = cache_growth(db)
        db.limit_sqlite_cache(64)
        limited_growth, limited_sizes = cache_growth(db)
    finally:
        db.dispose()
    assert default_sizes == [-2000, -2000]  # SQLite's default: 2,000 KiB
    assert limited_sizes == [-64, -64]  # the pooled connections were closed: none kept -2000
    assert default_growth > 3 * 1024 * 1024, default_growth  # ~2 MB each
    assert limited_growth < 2 * 128 * 1024, limited_growth


def test_a_limited_sqlite_cache_is_nothing_on_postgresql(database_url: str) -> None:
    db = Database(database_url)
    try:
        db.limit_sqlite_cache(64)
        with db.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
            if db.is_sqlite:
                assert conn.execute(text("PRAGMA cache_size")).scalar() == -64
        with pytest.raises(ValueError):
            db.limit_sqlite_cache(0)
    finally:
        db.dispose()
