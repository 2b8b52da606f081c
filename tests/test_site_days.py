"""The sites page's counts (``site_article_days``): kept exact by every insert of articles
and filled by migration 0013 from the stored ones, on SQLite and PostgreSQL; the page reads
no article row, however many are stored."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from alembic import command
from sqlalchemy import event, select

from storage import repository
from storage.database import Database
from storage.migrate import alembic_config, upgrade
from storage.models import Article, SiteRow
from storage.records import NewArticle, SiteInfo
from storage.repository import web_views
from web import views

BEIJING = timezone(timedelta(hours=8))


def _article(site_id: int, n: int, body: str = "正文") -> NewArticle:
    return NewArticle(
        site_id=site_id,
        url=f"https://s{site_id}.example.gov.cn/a/{n}.html",
        fetched_url=f"https://s{site_id}.example.gov.cn/a/{n}.html",
        title=f"第{n}篇",
        publish_time=datetime(2026, 5, 1, tzinfo=UTC) + timedelta(hours=n),
        source=None,
        author=None,
        body=body,
    )


def _truth(db: Database) -> tuple[Counter[str], Counter[tuple[str, Any]], dict[str, datetime]]:
    """Counts from the articles table itself: per site, per site and Beijing day, newest."""
    per_site: Counter[str] = Counter()
    per_day: Counter[tuple[str, Any]] = Counter()
    newest: dict[str, datetime] = {}
    with db.session() as s:
        names = {i: name for i, name in s.execute(select(SiteRow.id, SiteRow.name))}
        for site_id, first_seen in s.execute(select(Article.site_id, Article.first_seen)):
            name = names[site_id]
            per_site[name] += 1
            per_day[name, first_seen.astimezone(BEIJING).date()] += 1
            newest[name] = max(newest.get(name, first_seen), first_seen)
    return per_site, per_day, newest


def _shown(db: Database) -> dict[str, Any]:
    with db.session() as s:
        return {site["name"]: site for site in views.sites_overview(s, datetime.now(UTC))["sites"]}


def test_counts_follow_every_insert_and_only_inserts(db: Database) -> None:
    with db.session() as s:
        ids = repository.sync_sites(s, [SiteInfo("a", "A"), SiteInfo("b", "B"), SiteInfo("c", "C")])
    for batch in range(3):
        with db.session() as s:
            repository.store_articles(
                s,
                [_article(ids["a" if n % 3 else "b"], n) for n in range(batch * 7, 20)],
                run_id=None,
            )  # later batches repeat stored URLs: not counted again
    with db.session() as s:  # an edit is no new article
        result = repository.save_articles(s, [_article(ids["a"], 1, "改过的正文")], run_id=None)
        assert result.changed
    per_site, per_day, newest = _truth(db)
    assert per_site == {"a": 13, "b": 7}
    shown = _shown(db)
    for name in ("a", "b"):
        assert shown[name]["articles"] == per_site[name]
        assert {(name, d.day): d.count for d in shown[name]["articles_per_day"]} == {
            k: v for k, v in per_day.items() if k[0] == name
        }
        assert shown[name]["last_new_article_at"] == newest[name]
    assert shown["c"]["articles"] == 0 and shown["c"]["articles_per_day"] == []
    with db.session() as s:
        assert {x.name: x.article_count for x in repository.site_summaries(s, ["a", "b"])} == {
            "a": 13,
            "b": 7,
        }
        assert dict(repository.metrics_snapshot(s).articles) == {"a": 13, "b": 7, "c": 0}


def _metrics_count(db: Database) -> int:
    with db.session() as s:
        return dict(repository.metrics_snapshot(s).articles)["a"]


@pytest.mark.parametrize("read", [lambda db: _shown(db)["a"]["articles"], _metrics_count])
def test_the_sites_page_and_metrics_read_no_article_row(
    sqlite_db: Database, read: Callable[[Database], int]
) -> None:
    with sqlite_db.session() as s:
        ids = repository.sync_sites(s, [SiteInfo("a", "A")])
        repository.store_articles(s, [_article(ids["a"], n) for n in range(30)], run_id=None)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(sqlite_db.engine, "before_cursor_execute", seen)
    try:
        assert read(sqlite_db) == 30
    finally:
        event.remove(sqlite_db.engine, "before_cursor_execute", seen)
    assert statements
    reads = [q for q in statements if " articles " in q.replace("articles.", "articles ")]
    assert not [q for q in reads if "FROM articles" in q or "JOIN articles" in q], reads


def test_migration_counts_the_stored_articles(database_url: str) -> None:
    db = Database(database_url)
    with db.engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0012")
    with db.session() as s:
        ids = repository.sync_sites(s, [SiteInfo("old", "旧"), SiteInfo("new", "新")])
        # 15:59 UTC and 16:01 UTC are two Beijing days
        day = datetime(2026, 3, 1, 15, 59, tzinfo=UTC)
        for n, (site, seen) in enumerate(
            [("old", day), ("old", day + timedelta(minutes=2)), ("old", day), ("new", day)]
        ):
            a = _article(ids[site], n)
            s.add(
                Article(
                    site_id=a.site_id,
                    url=a.url,
                    fetched_url=a.fetched_url,
                    title=a.title,
                    body=a.body,
                    publish_time=a.publish_time,
                    first_seen=seen,
                    last_seen=seen,
                    revision=0,
                )
            )
    upgrade(db)
    per_site, per_day, newest = _truth(db)
    assert len(per_day) == 3
    with db.session() as s:
        got = web_views.articles_per_day(s, day + timedelta(days=1), 14)
        assert {(n, d.day): d.count for n, days in got.items() for d in days} == per_day
        health = {h.site: h for h in repository.site_health(s, ["old", "new"])}
        assert {n: h.last_new_article_at for n, h in health.items()} == newest
        summaries = repository.site_summaries(s, ["old", "new"])
        assert {x.name: x.article_count for x in summaries} == per_site
    with db.engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0012")
    db.dispose()
