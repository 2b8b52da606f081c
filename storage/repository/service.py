"""The background service's bookkeeping: its jobs, its heartbeat, missed runs, and the crawl
runs it has to close itself (a crawl process that was killed or died cannot)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from storage.models import (
    Article,
    CrawlError,
    CrawlRun,
    MissedRun,
    ServiceInstance,
    ServiceJob,
    SiteRow,
)
from storage.records import JobState, MissedRunView, RunningRun, RunView, ServiceInstanceView
from storage.repository.common import insert_for, run_view, utcnow

# crawl runs


def running_runs(session: Session, site: str | None = None) -> list[RunningRun]:
    """Runs still marked ``running`` (of one site, or all), oldest first."""
    stmt = (
        select(CrawlRun.id, SiteRow.name, CrawlRun.pid, CrawlRun.started_at, CrawlRun.host)
        .join(SiteRow, CrawlRun.site_id == SiteRow.id)
        .where(CrawlRun.outcome == "running")
        .order_by(CrawlRun.id)
    )
    if site is not None:
        stmt = stmt.where(SiteRow.name == site)
    return [
        RunningRun(id=id_, site=name, pid=pid, started_at=started, host=host)
        for id_, name, pid, started, host in session.execute(stmt)
    ]


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


def close_run(
    session: Session, run_id: int, *, outcome: str, message: str, only_if_running: bool = True
) -> bool:
    """End a run its own process could not end (killed, crashed, stopped at a time limit).

    A run that was still ``running`` gets its end time, and its counts of new articles and
    errors from what the process did store.  With ``only_if_running=False`` a finished run's
    outcome and message are replaced (the service stopped it, so it knows better why it
    ended).  Returns whether a row changed.
    """
    run = session.get(CrawlRun, run_id)
    if run is None or (only_if_running and run.outcome != "running"):
        return False
    if run.outcome == "running":
        run.finished_at = utcnow()
        run.articles_new = (
            session.scalar(select(func.count(Article.id)).where(Article.run_id == run_id)) or 0
        )
        run.error_count = (
            session.scalar(select(func.count(CrawlError.id)).where(CrawlError.run_id == run_id))
            or 0
        )
    run.outcome = outcome
    run.message = message
    session.flush()
    return True


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


def missed_runs(
    session: Session, *, since: datetime, job: str | None = None, limit: int = 1000
) -> list[MissedRunView]:
    """Missed runs recorded at or after ``since``, newest first."""
    stmt = (
        select(MissedRun)
        .where(MissedRun.recorded_at >= since)
        .order_by(MissedRun.id.desc())
        .limit(limit)
    )
    if job is not None:
        stmt = stmt.where(MissedRun.job == job)
    return [
        MissedRunView(
            job=m.job,
            scheduled_at=m.scheduled_at,
            recorded_at=m.recorded_at,
            reason=m.reason,
            message=m.message,
        )
        for m in session.scalars(stmt)
    ]


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


def job_states(session: Session) -> list[JobState]:
    return [
        JobState(
            name=j.name,
            schedule=j.schedule,
            next_run_at=j.next_run_at,
            last_started_at=j.last_started_at,
            last_finished_at=j.last_finished_at,
            last_result=j.last_result,
            last_message=j.last_message,
        )
        for j in session.scalars(select(ServiceJob).order_by(ServiceJob.name))
    ]


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


def latest_instance(session: Session) -> ServiceInstanceView | None:
    row = session.scalars(
        select(ServiceInstance).order_by(ServiceInstance.id.desc()).limit(1)
    ).first()
    if row is None:
        return None
    return ServiceInstanceView(
        id=row.id,
        host=row.host,
        pid=row.pid,
        started_at=row.started_at,
        heartbeat_at=row.heartbeat_at,
        stopped_at=row.stopped_at,
    )


def ping(session: Session) -> None:
    """A round trip to the database (raises when it cannot be reached)."""
    session.execute(select(1)).scalar_one()
