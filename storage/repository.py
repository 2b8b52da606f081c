"""Repository functions: the only place in govwatch that queries the database.

Each function takes an open :class:`~sqlalchemy.orm.Session` (from ``Database.session()``),
so a caller decides what one transaction holds.  Values in and out are the frozen records
of ``storage.records``; ORM rows never leave this module.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.models import Article, CrawlError, CrawlRun, SiteRow
from storage.records import (
    ArticleQuery,
    ArticleView,
    ErrorView,
    NewArticle,
    RunTotals,
    RunView,
    SiteInfo,
    SiteSummary,
)

# Bound parameters per statement stay well below SQLite's and PostgreSQL's limits.
_IN_CHUNK = 500


def utcnow() -> datetime:
    return datetime.now(UTC)


def sync_sites(session: Session, sites: Sequence[SiteInfo]) -> dict[str, int]:
    """Make sure every configured site has a row (updating titles); return name -> id."""
    names = [s.name for s in sites]
    rows = {r.name: r for r in session.scalars(select(SiteRow).where(SiteRow.name.in_(names)))}
    now = utcnow()
    for site in sites:
        row = rows.get(site.name)
        if row is None:
            insert = _insert_for(session)
            session.execute(
                insert(SiteRow)
                .values(name=site.name, title=site.title, created_at=now)
                .on_conflict_do_nothing(index_elements=[SiteRow.name])
            )
        elif row.title != site.title:
            row.title = site.title
    session.flush()
    stmt = select(SiteRow.name, SiteRow.id).where(SiteRow.name.in_(names))
    return {name: id_ for name, id_ in session.execute(stmt)}


def start_run(session: Session, site_id: int, *, pid: int | None = None) -> int:
    run = CrawlRun(
        site_id=site_id,
        started_at=utcnow(),
        outcome="running",
        list_pages=0,
        article_pages=0,
        articles_found=0,
        articles_new=0,
        articles_seen=0,
        error_count=0,
        warnings="",
        message="",
        pid=pid,
    )
    session.add(run)
    session.flush()
    return run.id


def finish_run(
    session: Session, run_id: int, totals: RunTotals, *, outcome: str, message: str = ""
) -> None:
    session.execute(
        update(CrawlRun)
        .where(CrawlRun.id == run_id)
        .values(
            finished_at=utcnow(),
            outcome=outcome,
            message=message,
            list_pages=totals.list_pages,
            article_pages=totals.article_pages,
            articles_found=totals.articles_found,
            articles_new=totals.articles_new,
            articles_seen=totals.articles_seen,
            error_count=totals.error_count,
            warnings="\n".join(totals.warnings),
        )
    )


def record_crawl_error(
    session: Session, run_id: int, *, url: str, status: int | None, kind: str, message: str
) -> None:
    session.add(
        CrawlError(run_id=run_id, url=url, status=status, kind=kind, message=message, at=utcnow())
    )


def known_urls(session: Session, urls: Collection[str]) -> set[str]:
    """The subset of ``urls`` (canonical) already stored as articles."""
    found: set[str] = set()
    ordered = list(dict.fromkeys(urls))
    for start in range(0, len(ordered), _IN_CHUNK):
        chunk = ordered[start : start + _IN_CHUNK]
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
    insert = _insert_for(session)
    stmt = (
        insert(Article)
        .on_conflict_do_nothing(index_elements=[Article.url])
        .returning(Article.id, Article.url)
    )
    new = {r.url: r.id for r in session.execute(stmt, rows)}
    seen = [r["url"] for r in rows if r["url"] not in new]
    for start in range(0, len(seen), _IN_CHUNK):
        session.execute(
            update(Article)
            .where(Article.url.in_(seen[start : start + _IN_CHUNK]))
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
    return [_article_view(article, site) for article, site in session.execute(stmt)]


def get_article(session: Session, article_id: int) -> ArticleView | None:
    row = session.execute(
        select(Article, SiteRow.name)
        .join(SiteRow, Article.site_id == SiteRow.id)
        .where(Article.id == article_id)
    ).first()
    return None if row is None else _article_view(row[0], row[1])


def count_articles(session: Session, site: str | None = None) -> int:
    stmt = select(func.count(Article.id))
    if site is not None:
        stmt = stmt.join(SiteRow, Article.site_id == SiteRow.id).where(SiteRow.name == site)
    return int(session.scalar(stmt) or 0)


def site_summaries(session: Session, names: Sequence[str]) -> list[SiteSummary]:
    """Per configured site (in the given order): title, stored articles and the last run."""
    sites = {r.name: r for r in session.scalars(select(SiteRow).where(SiteRow.name.in_(names)))}
    counts = {
        sid: n
        for sid, n in session.execute(
            select(Article.site_id, func.count(Article.id)).group_by(Article.site_id)
        )
    }
    last_ids = (
        select(func.max(CrawlRun.id)).where(CrawlRun.site_id.in_([s.id for s in sites.values()]))
    ).group_by(CrawlRun.site_id)
    last_runs = {
        run.site_id: run
        for run in session.scalars(select(CrawlRun).where(CrawlRun.id.in_(last_ids)))
    }
    out: list[SiteSummary] = []
    for name in names:
        row = sites.get(name)
        if row is None:
            out.append(SiteSummary(name=name, title="", article_count=0, last_run=None))
            continue
        run = last_runs.get(row.id)
        out.append(
            SiteSummary(
                name=name,
                title=row.title,
                article_count=int(counts.get(row.id, 0)),
                last_run=None if run is None else _run_view(run, name),
            )
        )
    return out


def get_run(session: Session, run_id: int) -> RunView | None:
    row = session.execute(
        select(CrawlRun, SiteRow.name)
        .join(SiteRow, CrawlRun.site_id == SiteRow.id)
        .where(CrawlRun.id == run_id)
    ).first()
    return None if row is None else _run_view(row[0], row[1])


def run_errors(session: Session, run_id: int, limit: int = 100) -> list[ErrorView]:
    stmt = (
        select(CrawlError).where(CrawlError.run_id == run_id).order_by(CrawlError.id).limit(limit)
    )
    return [
        ErrorView(url=e.url, status=e.status, kind=e.kind, message=e.message, at=e.at)
        for e in session.scalars(stmt)
    ]


def _insert_for(session: Session) -> Any:
    """The dialect's INSERT construct (both have ON CONFLICT ... DO NOTHING)."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _article_view(a: Article, site: str) -> ArticleView:
    return ArticleView(
        id=a.id,
        site=site,
        url=a.fetched_url,
        canonical_url=a.url,
        title=a.title,
        pretitle=a.pretitle,
        subtitle=a.subtitle,
        publish_time=a.publish_time,
        source=a.source,
        author=a.author,
        editor=a.editor,
        body=a.body,
        first_seen=a.first_seen,
        last_seen=a.last_seen,
    )


def _run_view(run: CrawlRun, site: str) -> RunView:
    return RunView(
        id=run.id,
        site=site,
        started_at=run.started_at,
        finished_at=run.finished_at,
        outcome=run.outcome,
        list_pages=run.list_pages,
        article_pages=run.article_pages,
        articles_found=run.articles_found,
        articles_new=run.articles_new,
        articles_seen=run.articles_seen,
        error_count=run.error_count,
        warnings=tuple(w for w in run.warnings.split("\n") if w),
        message=run.message,
    )
