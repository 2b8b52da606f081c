"""Reads for the web view: an article page's links, articles per day, feed entries.

Every query here is bounded by a ``limit`` or by an indexed time range; the web view opens
the database read-only, so nothing here writes.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.digest_records import ArticleFilter
from storage.models import Article, Link, LinkRef, SiteArticleDay, SiteRow
from storage.records import ArticleView
from storage.repository.common import IN_CHUNK, article_view
from storage.repository.digest import article_filter
from storage.repository.site_days import beijing_day
from storage.view_records import DayCount, PageLink

MAX_PAGE_LINKS = 500  # links listed on one article's page at most


def page_links(session: Session, page_url: str, limit: int = MAX_PAGE_LINKS) -> list[PageLink]:
    """The links the page with canonical ``page_url`` references, broken ones first."""
    stmt = (
        select(LinkRef.kind, LinkRef.text, Link)
        .join(Link, LinkRef.link_id == Link.id)
        .where(LinkRef.page_url == page_url)
        .order_by(Link.status.in_(("dead", "soft_404")).desc(), LinkRef.id)
        .limit(limit)
    )
    return [
        PageLink(
            url=link.fetch_url,
            kind=kind,
            text=text,
            status=link.status,
            http_status=link.http_status,
            detail=link.detail,
            status_since=link.status_since,
            last_checked_at=link.last_checked_at,
        )
        for kind, text, link in session.execute(stmt)
    ]


def site_names(session: Session) -> list[str]:
    """Every site with a row (configured now or once), by name."""
    return list(session.scalars(select(SiteRow.name).order_by(SiteRow.name)))


def articles_per_day(session: Session, now: datetime, days: int) -> dict[str, list[DayCount]]:
    """Per site: articles first stored on each of the last ``days`` Beijing days (today
    included), oldest first, days without articles left out."""
    since = beijing_day(now) - timedelta(days=days - 1)
    stmt = (
        select(SiteRow.name, SiteArticleDay.day, func.sum(SiteArticleDay.articles))
        .join(SiteRow, SiteArticleDay.site_id == SiteRow.id)
        .where(SiteArticleDay.day >= since)
        .group_by(SiteRow.name, SiteArticleDay.day)
        .order_by(SiteRow.name, SiteArticleDay.day)
    )
    out: dict[str, list[DayCount]] = defaultdict(list)
    for site, day, n in session.execute(stmt):
        out[site].append(DayCount(day=day, count=int(n)))
    return dict(out)


def filtered_articles(session: Session, flt: ArticleFilter, limit: int) -> list[ArticleView]:
    """The newest articles a digest subscription's filter lets through (every copy)."""
    stmt = (
        select(Article, SiteRow.name)
        .join(SiteRow, Article.site_id == SiteRow.id)
        .where(*article_filter(flt))
        .order_by(
            Article.publish_time.desc().nulls_last(), Article.first_seen.desc(), Article.id.desc()
        )
        .limit(limit)
    )
    return [article_view(a, site) for a, site in session.execute(stmt)]


def article_ids(session: Session, urls: list[str]) -> dict[str, int]:
    """Canonical URL -> id of the stored articles among ``urls`` (at most a few hundred)."""
    if not urls:
        return {}
    stmt = select(Article.url, Article.id).where(Article.url.in_(urls[:IN_CHUNK]))
    return {url: id_ for url, id_ in session.execute(stmt)}
