"""Crawl passes: per start URL, whether the last pass over its list pages completed.

A run calls :func:`begin_passes` when it starts: it reads how the last pass of each start
URL ended and marks every one incomplete (a backlog) until :func:`complete_pass` says
otherwise, so a run that dies (SIGKILL, power cut) leaves its start URLs in backlog and the
next run walks past stored articles to find what it missed.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import CrawlPass
from storage.records import PassState
from storage.repository.common import insert_for, utcnow


def begin_passes(
    session: Session, site_id: int, start_urls: Sequence[str], run_id: int
) -> dict[str, PassState]:
    """How each start URL's last pass ended; then mark them all incomplete for ``run_id``.

    A start URL already in backlog keeps the run that left it so first.
    """
    urls = list(dict.fromkeys(start_urls))
    if not urls:
        return {}
    now = utcnow()
    insert = insert_for(session)
    session.execute(
        insert(CrawlPass)
        .values(
            [
                {
                    "site_id": site_id,
                    "start_url": url,
                    "complete": False,
                    "backlog_run_id": run_id,
                    "pages_reached": 0,
                    "updated_at": now,
                }
                for url in urls
            ]
        )
        .on_conflict_do_nothing(index_elements=[CrawlPass.site_id, CrawlPass.start_url])
    )
    rows = session.scalars(
        select(CrawlPass)
        .where(CrawlPass.site_id == site_id, CrawlPass.start_url.in_(urls))
        .with_for_update()
    ).all()
    states: dict[str, PassState] = {}
    for row in rows:
        fresh = row.backlog_run_id == run_id and not row.complete  # inserted just now
        states[row.start_url] = PassState(
            start_url=row.start_url,
            complete=row.complete and not fresh,
            backlog_run_id=None if fresh else row.backlog_run_id,
            pages_reached=row.pages_reached,
        )
        if row.complete:
            row.complete = False
            row.backlog_run_id = run_id
            row.updated_at = now
    return states


def complete_pass(
    session: Session, site_id: int, start_url: str, run_id: int, pages_reached: int
) -> int | None:
    """Mark a start URL's pass complete; returns the run that had left it incomplete."""
    row = session.scalars(
        select(CrawlPass)
        .where(CrawlPass.site_id == site_id, CrawlPass.start_url == start_url)
        .with_for_update()
    ).first()
    if row is None:
        return None
    backlog = row.backlog_run_id
    session.execute(
        update(CrawlPass)
        .where(CrawlPass.id == row.id)
        .values(
            complete=True,
            backlog_run_id=None,
            last_complete_run_id=run_id,
            pages_reached=pages_reached,
            updated_at=utcnow(),
        )
    )
    return backlog
