"""Sites: their rows and per-site summaries."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import CrawlRun, SiteRow
from storage.records import (
    SiteInfo,
    SiteSummary,
)
from storage.repository.common import insert_for, run_view, utcnow
from storage.repository.site_days import article_counts


def sync_sites(session: Session, sites: Sequence[SiteInfo]) -> dict[str, int]:
    """Make sure every configured site has a row (updating titles); return name -> id."""
    names = [s.name for s in sites]
    rows = {r.name: r for r in session.scalars(select(SiteRow).where(SiteRow.name.in_(names)))}
    now = utcnow()
    for site in sites:
        row = rows.get(site.name)
        if row is None:
            insert = insert_for(session)
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


def site_summaries(session: Session, names: Sequence[str]) -> list[SiteSummary]:
    """Per configured site (in the given order): title, stored articles and the last run."""
    sites = {r.name: r for r in session.scalars(select(SiteRow).where(SiteRow.name.in_(names)))}
    counts = article_counts(session, [s.id for s in sites.values()])
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
                last_run=None if run is None else run_view(run, name),
            )
        )
    return out
