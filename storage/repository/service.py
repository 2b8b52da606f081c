"""The background service's bookkeeping: its jobs, its heartbeat, missed runs, and the crawl
runs it has to close itself (a crawl process that was killed or died cannot)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from storage.models import (
    CrawlRun,
    MissedRun,
    ServiceInstance,
    ServiceJob,
    SiteRow,
)
from storage.records import RunView
from storage.repository.common import insert_for, run_view, utcnow
from storage.status_reads import close_run as close_run
from storage.status_reads import job_states as job_states
from storage.status_reads import latest_instance as latest_instance
from storage.status_reads import missed_runs as missed_runs
from storage.status_reads import running_runs as running_runs

# crawl runs


def run_of_process(session: Session, site: str, pid: int, since: datetime) -> RunView | None:
    """The run of ``site`` that process ``pid`` started at or after ``since``, if any."""
    row = session.execute(
        select(CrawlRun)
        .join(SiteRow, CrawlRun.site_id == SiteRow.id)
        .where(SiteRow.name == site, CrawlRun.pid == pid, CrawlRun.started_at >= since)
        .order_by(CrawlRun.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return None if row is None else run_view(row, site)


def last_run_started(session: Session, site: str) -> datetime | None:
    """When the newest run of ``site`` started (by any process), or ``None``."""
    return session.scalar(
        select(func.max(CrawlRun.started_at))
        .join(SiteRow, CrawlRun.site_id == SiteRow.id)
        .where(SiteRow.name == site)
    )


# missed runs


def record_missed(
    session: Session, job: str, *, reason: str, message: str, scheduled_at: datetime | None
) -> None:
    session.add(
        MissedRun(
            job=job,
            scheduled_at=scheduled_at,
            recorded_at=utcnow(),
            reason=reason,
            message=message,
        )
    )


def prune_service_history(session: Session, before: datetime) -> int:
    """Delete missed runs and stopped service instances older than ``before``."""
    missed = session.execute(delete(MissedRun).where(MissedRun.recorded_at < before))
    stopped = session.execute(delete(ServiceInstance).where(ServiceInstance.heartbeat_at < before))
    return int(getattr(missed, "rowcount", 0) or 0) + int(getattr(stopped, "rowcount", 0) or 0)


# jobs


def sync_jobs(session: Session, jobs: Sequence[tuple[str, str]]) -> None:
    """Make ``service_jobs`` hold exactly these ``(name, schedule)`` jobs (history kept)."""
    names = [name for name, _ in jobs]
    session.execute(delete(ServiceJob).where(ServiceJob.name.not_in(names)))
    now = utcnow()
    for name, schedule in jobs:
        insert = insert_for(session)
        session.execute(
            insert(ServiceJob)
            .values(name=name, schedule=schedule, last_result="", last_message="", updated_at=now)
            .on_conflict_do_update(
                index_elements=[ServiceJob.name], set_={"schedule": schedule, "updated_at": now}
            )
        )


def set_next_runs(session: Session, next_runs: Sequence[tuple[str, datetime | None]]) -> None:
    now = utcnow()
    for name, when in next_runs:
        session.execute(
            update(ServiceJob)
            .where(ServiceJob.name == name)
            .values(next_run_at=when, updated_at=now)
        )


def job_started(session: Session, name: str) -> None:
    now = utcnow()
    session.execute(
        update(ServiceJob)
        .where(ServiceJob.name == name)
        .values(last_started_at=now, updated_at=now)
    )


def job_finished(session: Session, name: str, *, result: str, message: str) -> None:
    now = utcnow()
    session.execute(
        update(ServiceJob)
        .where(ServiceJob.name == name)
        .values(last_finished_at=now, last_result=result, last_message=message, updated_at=now)
    )


# service instances


def start_instance(session: Session, *, host: str, pid: int) -> int:
    now = utcnow()
    row = ServiceInstance(host=host, pid=pid, started_at=now, heartbeat_at=now)
    session.add(row)
    session.flush()
    return row.id


def heartbeat(session: Session, instance_id: int) -> None:
    session.execute(
        update(ServiceInstance)
        .where(ServiceInstance.id == instance_id)
        .values(heartbeat_at=utcnow())
    )


def stop_instance(session: Session, instance_id: int) -> None:
    now = utcnow()
    session.execute(
        update(ServiceInstance)
        .where(ServiceInstance.id == instance_id)
        .values(heartbeat_at=now, stopped_at=now)
    )


def ping(session: Session) -> None:
    """A round trip to the database (raises when it cannot be reached)."""
    session.execute(select(1)).scalar_one()
