"""What each page shows, read from the database: plain values the HTML templates and the
JSON API both render (so the two never disagree).  Runs in a worker thread, one read-only
session per call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy.orm import Session

from storage import repository
from storage.digest_records import ArticleFilter
from storage.link_records import LinkQuery
from storage.records import ArticleCursor, ArticleQuery, ArticleView
from storage.repository import web_views
from storage.repository.search import title_matches

BEIJING = timezone(timedelta(hours=8))
EXCERPT_CHARS = 160
BROKEN_STATUSES = ("dead", "soft_404")
DAYS_PER_SITE = 14  # the sites page's articles-per-day span
WINDOWS_PER_DIGEST = 10
DELIVERIES_PER_DIGEST = 20


@dataclass(frozen=True, slots=True)
class DigestFeed:
    """A configured digest subscription, as the web view shows it and feeds it."""

    name: str
    filter: ArticleFilter
    schedule: str = ""
    channels: tuple[str, ...] = ()
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class ArticleFilters:
    """The articles page's filters, parsed from the query string."""

    search: str | None = None
    site: str | None = None
    since: date | None = None  # Beijing day, inclusive
    until: date | None = None  # Beijing day, inclusive
    copies: str = "hide"  # hide | show
    limit: int = 50
    after: ArticleCursor | None = None


@dataclass(frozen=True, slots=True)
class ArticleRow:
    """An article in a list: no body, an excerpt."""

    id: int
    site: str
    title: str
    url: str
    canonical_url: str
    source: str | None
    publish_time: datetime | None
    publish_time_precision: str | None
    first_seen: datetime
    duplicate_of: int | None
    revision: int
    gone_at: datetime | None
    excerpt: str


@dataclass(frozen=True, slots=True)
class ArticlePage:
    articles: list[ArticleRow]
    next_cursor: ArticleCursor | None
    filters: ArticleFilters
    sites: list[str] = field(default_factory=list)


def beijing_midnight(value: date) -> datetime:
    return datetime(value.year, value.month, value.day, tzinfo=BEIJING).astimezone(UTC)


def article_row(a: ArticleView) -> ArticleRow:
    body = " ".join(a.body.split())
    return ArticleRow(
        id=a.id,
        site=a.site,
        title=a.title,
        url=a.url,
        canonical_url=a.canonical_url,
        source=a.source,
        publish_time=a.publish_time,
        publish_time_precision=a.publish_time_precision,
        first_seen=a.first_seen,
        duplicate_of=a.duplicate_of,
        revision=a.revision,
        gone_at=a.gone_at,
        excerpt=body[:EXCERPT_CHARS] + ("…" if len(body) > EXCERPT_CHARS else ""),
    )


def article_query(filters: ArticleFilters, limit: int) -> ArticleQuery:
    """The repository's article listing query for these filters (search included: the one
    ``govwatch articles --search`` uses)."""
    return ArticleQuery(
        site=filters.site,
        since=None if filters.since is None else beijing_midnight(filters.since),
        until=None
        if filters.until is None
        else beijing_midnight(filters.until + timedelta(days=1)),
        search=filters.search,
        limit=limit,
        duplicates=filters.copies,
        after=filters.after,
    )


def list_articles(session: Session, filters: ArticleFilters) -> ArticlePage:
    """One page of articles (newest first) and the cursor of the next, if there is one."""
    found = repository.list_articles(session, article_query(filters, filters.limit + 1))
    page = found[: filters.limit]
    more = len(found) > filters.limit
    last = page[-1] if page else None
    cursor = (
        ArticleCursor(
            last.publish_time,
            last.first_seen,
            last.id,
            title_matches(last.title, filters.search) if filters.search else None,
        )
        if more and last is not None
        else None
    )
    return ArticlePage(
        articles=[article_row(a) for a in page],
        next_cursor=cursor,
        filters=filters,
        sites=web_views.site_names(session),
    )


def article_detail(session: Session, article_id: int) -> dict[str, Any] | None:
    """One article in full: body, its other copies, the state of its page's links."""
    article = repository.get_article(session, article_id)
    if article is None:
        return None
    return {
        "article": article,
        "copies": repository.story_copies(session, article_id),
        "links": web_views.page_links(session, article.canonical_url),
    }


def broken_links(session: Session, site: str | None, status: str, limit: int) -> dict[str, Any]:
    """Dead links (or one status) with the pages that reference them and since when."""
    statuses = BROKEN_STATUSES if status == "broken" else (status,)
    links = repository.list_links(session, LinkQuery(statuses=statuses, site=site, limit=limit))
    pages = web_views.article_ids(
        session, sorted({ref.page_url for link in links for ref in link.refs})
    )
    return {
        "links": links,
        "page_articles": pages,
        "counts": repository.count_links(session, site),
        "status": status,
        "site": site,
        "sites": web_views.site_names(session),
    }


def sites_overview(session: Session, now: datetime) -> dict[str, Any]:
    """Every site: last runs, whether its guard blocked it, failures, articles per day."""
    names = web_views.site_names(session)
    health = {h.site: h for h in repository.site_health(session, names)}
    summaries = {s.name: s for s in repository.site_summaries(session, names)}
    per_day = web_views.articles_per_day(session, now, DAYS_PER_SITE)
    sites = []
    for name in names:
        h = health[name]
        last = h.last_run
        sites.append(
            {
                "name": name,
                "title": summaries[name].title,
                "articles": summaries[name].article_count,
                "last_run": last,
                "running": h.running,
                "blocked": last is not None and last.outcome == "blocked",
                "failures_in_a_row": h.failures_in_a_row,
                "last_new_article_at": h.last_new_article_at,
                "articles_per_day": per_day.get(name, []),
            }
        )
    return {"sites": sites, "days": DAYS_PER_SITE}


def digests_overview(session: Session, digests: Sequence[DigestFeed]) -> dict[str, Any]:
    """Each configured subscription with its recent digests and their deliveries."""
    out = []
    for d in digests:
        out.append(
            {
                "name": d.name,
                "schedule": d.schedule,
                "enabled": d.enabled,
                "channels": list(d.channels),
                "sites": list(d.filter.sites),
                "keywords": list(d.filter.keywords),
                "windows": repository.list_windows(session, d.name, limit=WINDOWS_PER_DIGEST),
                "deliveries": [
                    {k: v for k, v in asdict(delivery).items() if k != "content"}
                    for delivery in repository.list_deliveries(
                        session, subscription=d.name, limit=DELIVERIES_PER_DIGEST
                    )
                ],
            }
        )
    return {"digests": out}


def feed_articles(
    session: Session,
    *,
    limit: int,
    site: str | None = None,
    search: str | None = None,
    digest: ArticleFilter | None = None,
) -> list[ArticleView]:
    """Articles for a feed, every copy (the feed folds them), newest first: twice the
    entries asked for, so that folding copies still leaves enough."""
    if digest is not None:
        return web_views.filtered_articles(session, digest, limit * 2)
    query = ArticleQuery(site=site, search=search, limit=limit * 2, duplicates="show")
    return repository.list_articles(session, query)


def jsonable(value: Any) -> Any:
    """Dataclasses, times and tuples as JSON values (times ISO 8601 with their zone)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {k: jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
