"""Aggregates over crawl runs for ``govwatch status`` and ``/metrics``: a few grouped queries,
never a scan per site, nor of the articles table (its counts are summed from
``site_article_days``, a few rows per site and day, as the sites page reads them: a count of
a million articles on every scrape took a scan of the table)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import CrawlRun, MissedRun, SiteRow
from storage.records import MetricsSnapshot
from storage.repository.site_days import article_counts
from storage.status_reads import delivery_counts, link_counts, site_health

__all__ = ["delivery_counts", "link_counts", "metrics_snapshot", "site_health"]


def metrics_snapshot(session: Session) -> MetricsSnapshot:
    """Totals per site (and per missed job) for the Prometheus exposition."""
    runs = session.execute(
        select(SiteRow.name, CrawlRun.outcome, func.count(CrawlRun.id))
        .join(SiteRow, CrawlRun.site_id == SiteRow.id)
        .group_by(SiteRow.name, CrawlRun.outcome)
        .order_by(SiteRow.name, CrawlRun.outcome)
    ).all()
    sums = session.execute(
        select(SiteRow.name, func.sum(CrawlRun.error_count), func.sum(CrawlRun.articles_new))
        .join(SiteRow, CrawlRun.site_id == SiteRow.id)
        .group_by(SiteRow.name)
        .order_by(SiteRow.name)
    ).all()
    sites = session.execute(select(SiteRow.id, SiteRow.name).order_by(SiteRow.name)).all()
    counts = article_counts(session, [site for site, _ in sites])
    articles = [(name, counts.get(site, 0)) for site, name in sites]
    last_success = session.execute(
        select(SiteRow.name, func.max(CrawlRun.finished_at))
        .join(SiteRow, CrawlRun.site_id == SiteRow.id)
        .where(CrawlRun.outcome.in_(("succeeded", "warning")))
        .group_by(SiteRow.name)
        .order_by(SiteRow.name)
    ).all()
    newest_finished = (
        select(func.max(CrawlRun.id))
        .where(CrawlRun.outcome != "running")
        .group_by(CrawlRun.site_id)
    )
    last_runs = session.execute(
        select(SiteRow.name, CrawlRun.outcome, CrawlRun.message)
        .join(SiteRow, CrawlRun.site_id == SiteRow.id)
        .where(CrawlRun.id.in_(newest_finished))
        .order_by(SiteRow.name)
    ).all()
    missed = session.execute(
        select(MissedRun.job, MissedRun.reason, func.count(MissedRun.id))
        .group_by(MissedRun.job, MissedRun.reason)
        .order_by(MissedRun.job, MissedRun.reason)
    ).all()
    return MetricsSnapshot(
        links=tuple(link_counts(session).items()),
        deliveries=tuple(delivery_counts(session).items()),
        runs=tuple((s, o, int(n)) for s, o, n in runs),
        articles=tuple((s, int(n)) for s, n in articles),
        errors=tuple((s, int(e or 0)) for s, e, _ in sums),
        new_articles=tuple((s, int(n or 0)) for s, _, n in sums),
        last_success=tuple((s, t) for s, t in last_success if t is not None),
        missed=tuple((j, r, int(n)) for j, r, n in missed),
        last_runs=tuple((n, o, m or "") for n, o, m in last_runs),
    )
