"""Articles: storing, looking up and listing them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.models import Article, SiteRow
from storage.records import (
    ArticleQuery,
    ArticleView,
    NewArticle,
)
from storage.repository.common import IN_CHUNK, article_view, insert_for, utcnow


def known_urls(session: Session, urls: Collection[str]) -> set[str]:
    """The subset of ``urls`` (canonical) already stored as articles."""
    found: set[str] = set()
    ordered = list(dict.fromkeys(urls))
    for start in range(0, len(ordered), IN_CHUNK):
        chunk = ordered[start : start + IN_CHUNK]
        found.update(session.scalars(select(Article.url).where(Article.url.in_(chunk))))
    return found


def store_articles(
    session: Session, articles: Sequence[NewArticle], *, run_id: int | None
) -> list[int]:
    """Insert articles whose URL is new; touch ``last_seen`` of the others.

    Safe against a concurrent crawl inserting the same URL: the unique constraint decides,
    and the loser's row is counted as seen, never raised.  Returns the ids of new rows.
    """
    if not articles:
        return []
    now = utcnow()
    rows: list[dict[str, Any]] = [
        {
            "site_id": a.site_id,
            "url": a.url,
            "fetched_url": a.fetched_url,
            "title": a.title,
            "pretitle": a.pretitle,
            "subtitle": a.subtitle,
            "publish_time": a.publish_time,
            "source": a.source,
            "author": a.author,
            "editor": a.editor,
            "body": a.body,
            "first_seen": now,
            "last_seen": now,
            "run_id": run_id,
        }
        for a in articles
    ]
    insert = insert_for(session)
    stmt = (
        insert(Article)
        .on_conflict_do_nothing(index_elements=[Article.url])
        .returning(Article.id, Article.url)
    )
    new = {r.url: r.id for r in session.execute(stmt, rows)}
    seen = [r["url"] for r in rows if r["url"] not in new]
    for start in range(0, len(seen), IN_CHUNK):
        session.execute(
            update(Article)
            .where(Article.url.in_(seen[start : start + IN_CHUNK]))
            .values(last_seen=now)
        )
    return list(new.values())


def list_articles(session: Session, query: ArticleQuery) -> list[ArticleView]:
    stmt = select(Article, SiteRow.name).join(SiteRow, Article.site_id == SiteRow.id)
    if query.site is not None:
        stmt = stmt.where(SiteRow.name == query.site)
    if query.since is not None:
        stmt = stmt.where(func.coalesce(Article.publish_time, Article.first_seen) >= query.since)
    if query.search:
        stmt = stmt.where(
            Article.title.contains(query.search, autoescape=True)
            | Article.body.contains(query.search, autoescape=True)
        )
    stmt = stmt.order_by(
        Article.publish_time.desc().nulls_last(), Article.first_seen.desc(), Article.id.desc()
    ).limit(query.limit)
    return [article_view(article, site) for article, site in session.execute(stmt)]


def get_article(session: Session, article_id: int) -> ArticleView | None:
    row = session.execute(
        select(Article, SiteRow.name)
        .join(SiteRow, Article.site_id == SiteRow.id)
        .where(Article.id == article_id)
    ).first()
    return None if row is None else article_view(row[0], row[1])


def count_articles(session: Session, site: str | None = None) -> int:
    stmt = select(func.count(Article.id))
    if site is not None:
        stmt = stmt.join(SiteRow, Article.site_id == SiteRow.id).where(SiteRow.name == site)
    return int(session.scalar(stmt) or 0)
