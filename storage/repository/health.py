"""Aggregates over crawl runs for ``govwatch status`` and ``/metrics``: a few grouped queries,
never a scan per site."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from storage.models import Article, CrawlRun, DigestDelivery, Link, MissedRun, SiteRow
from storage.records import MetricsSnapshot, RunningRun, SiteHealth
from storage.repository.common import run_view
from storage.repository.site_days import newest_first_seen

# Runs that reached the site's list pages: their article counts mean something.
_FETCHED = ("succeeded", "warning", "partial")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _pairs(rows: Iterable[Sequence[Any]]) -> dict[Any, Any]:
    return {key: value for key, value in rows}


def site_health(session: Session, names: Sequence[str]) -> list[SiteHealth]:
    """Per site (in the given order): last finished run, run in progress, and streaks."""
    ids = {
        name: id_
        for name, id_ in session.execute(
            select(SiteRow.name, SiteRow.id).where(SiteRow.name.in_(names))
        )
    }
    site_ids = list(ids.values())
    in_sites = CrawlRun.site_id.in_(site_ids)

    newest_finished = (
        select(func.max(CrawlRun.id))
        .where(in_sites, CrawlRun.outcome != "running")
        .group_by(CrawlRun.site_id)
    )
    last_runs = {
        r.site_id: r
        for r in session.scalars(select(CrawlRun).where(CrawlRun.id.in_(newest_finished)))
    }
    newest_running = (
        select(func.max(CrawlRun.id))
        .where(in_sites, CrawlRun.outcome == "running")
        .group_by(CrawlRun.site_id)
    )
    running = {
        r.site_id: r
        for r in session.scalars(select(CrawlRun).where(CrawlRun.id.in_(newest_running)))
    }

    last_ok = _pairs(
        session.execute(
            select(CrawlRun.site_id, func.max(CrawlRun.started_at))
            .where(in_sites, CrawlRun.outcome.in_(_FETCHED))
            .group_by(CrawlRun.site_id)
        )
    )
    failures: dict[int, int] = {}
    for site_id in site_ids:
        failures[site_id] = int(
            session.scalar(
                select(func.count(CrawlRun.id)).where(
                    CrawlRun.site_id == site_id,
                    CrawlRun.outcome == "failed",
                    CrawlRun.started_at > last_ok.get(site_id, _EPOCH),
                )
            )
            or 0
        )
    first_run = _pairs(
        session.execute(
            select(CrawlRun.site_id, func.min(CrawlRun.started_at))
            .where(in_sites)
            .group_by(CrawlRun.site_id)
        )
    )
    newest_article = newest_first_seen(session, site_ids)

    out: list[SiteHealth] = []
    for name in names:
        if name not in ids:
            out.append(SiteHealth(name, None, None, 0, None, None))
            continue
        site_id = ids[name]
        last = last_runs.get(site_id)
        now_running = running.get(site_id)
        out.append(
            SiteHealth(
                site=name,
                last_run=None if last is None else run_view(last, name),
                running=None
                if now_running is None
                else RunningRun(
                    id=now_running.id,
                    site=name,
                    pid=now_running.pid,
                    started_at=now_running.started_at,
                ),
                failures_in_a_row=failures.get(site_id, 0),
                first_run_at=first_run.get(site_id),
                last_new_article_at=newest_article.get(site_id),
            )
        )
    return out


def metrics_snapshot(session: Session) -> MetricsSnapshot:
    """Totals per site (and per missed job) for the Prometheus exposition."""
    runs = session.execute(
        select(SiteRow.name, CrawlRun.outcome, func.count(CrawlRun.id))
        .join(SiteRow, CrawlRun.site_id == SiteRow.id)
        .group_by(SiteRow.name, CrawlRun.outcome)
        .order_by(SiteRow.name, CrawlRun.outcome)
    ).tuples()
    sums = session.execute(
        select(SiteRow.name, func.sum(CrawlRun.error_count), func.sum(CrawlRun.articles_new))
        .join(SiteRow, CrawlRun.site_id == SiteRow.id)
        .group_by(SiteRow.name)
        .order_by(SiteRow.name)
    ).all()
    articles = session.execute(
        select(SiteRow.name, func.count(Article.id))
        .join(Article, and_(Article.site_id == SiteRow.id), isouter=True)
        .group_by(SiteRow.name)
        .order_by(SiteRow.name)
    ).tuples()
    last_success = session.execute(
        select(SiteRow.name, func.max(CrawlRun.finished_at))
        .join(SiteRow, CrawlRun.site_id == SiteRow.id)
        .where(CrawlRun.outcome.in_(("succeeded", "warning")))
        .group_by(SiteRow.name)
        .order_by(SiteRow.name)
    ).tuples()
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
    ).tuples()
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


def link_counts(session: Session) -> dict[str, int]:
    """Links by status (ok, redirected, dead, soft_404, error, blocked, unchecked…)."""
    rows = session.execute(
        select(Link.status, func.count(Link.id)).group_by(Link.status).order_by(Link.status)
    )
    return {status: int(n) for status, n in rows}


def delivery_counts(session: Session) -> dict[str, int]:
    """Digest deliveries by state (pending, retrying, sending, delivered, failed)."""
    rows = session.execute(
        select(DigestDelivery.state, func.count(DigestDelivery.id))
        .group_by(DigestDelivery.state)
        .order_by(DigestDelivery.state)
    )
    return {state: int(n) for state, n in rows}
