"""Crawl runs and the errors they record."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import CrawlError, CrawlRun, SiteRow
from storage.records import (
    ErrorView,
    RunTotals,
    RunView,
)
from storage.repository.common import run_view, utcnow


def start_run(
    session: Session, site_id: int, *, pid: int | None = None, host: str | None = None
) -> int:
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
        host=host,
        selector_misses="",
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
            selector_misses="\n".join(totals.selector_misses),
        )
    )


def record_crawl_error(
    session: Session, run_id: int, *, url: str, status: int | None, kind: str, message: str
) -> None:
    session.add(
        CrawlError(run_id=run_id, url=url, status=status, kind=kind, message=message, at=utcnow())
    )


def get_run(session: Session, run_id: int) -> RunView | None:
    row = session.execute(
        select(CrawlRun, SiteRow.name)
        .join(SiteRow, CrawlRun.site_id == SiteRow.id)
        .where(CrawlRun.id == run_id)
    ).first()
    return None if row is None else run_view(row[0], row[1])


def run_errors(session: Session, run_id: int, limit: int = 100) -> list[ErrorView]:
    stmt = (
        select(CrawlError).where(CrawlError.run_id == run_id).order_by(CrawlError.id).limit(limit)
    )
    return [
        ErrorView(url=e.url, status=e.status, kind=e.kind, message=e.message, at=e.at)
        for e in session.scalars(stmt)
    ]
