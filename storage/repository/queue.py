"""The job queue's state: Procrastinate's tables (read only) and ``queue_workers``.

Procrastinate owns ``procrastinate_jobs``, ``procrastinate_events`` and
``procrastinate_workers``; govwatch only reads them here (status, metrics, the leader's last
deferral per job), in plain SQL since they are not govwatch's models.  Every function answers
``present=False`` / empty on a database without them (SQLite, or a queue never set up).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from storage.models import QueueWorker
from storage.repository.common import insert_for, utcnow
from storage.status_reads import queue_present as queue_present
from storage.status_reads import queue_snapshot as queue_snapshot


def register_queue_worker(
    session: Session, worker_id: int, *, host: str, pid: int, queues: str
) -> None:
    values = {"host": host, "pid": pid, "queues": queues[:100], "started_at": utcnow()}
    stmt = insert_for(session)(QueueWorker).values(worker_id=worker_id, **values)
    session.execute(stmt.on_conflict_do_update(index_elements=["worker_id"], set_=values))


def forget_queue_workers(session: Session, worker_ids: list[int] | None = None) -> int:
    """Delete the rows of these workers, or of every worker Procrastinate no longer knows."""
    if worker_ids is not None:
        stmt = delete(QueueWorker).where(QueueWorker.worker_id.in_(worker_ids))
    else:
        known = text("SELECT id FROM procrastinate_workers").columns()
        ids = [row[0] for row in session.execute(known)]
        stmt = delete(QueueWorker).where(QueueWorker.worker_id.not_in(ids))
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


def last_deferrals(session: Session) -> dict[str, datetime]:
    """When each service job was last deferred (its newest job's ``deferred`` event)."""
    if not queue_present(session):
        return {}
    rows = session.execute(
        text(
            "SELECT j.args->>'job', max(e.at) FROM procrastinate_jobs j"
            " JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'deferred'"
            " WHERE j.args ? 'job' GROUP BY 1"
        )
    )
    return {name: at for name, at in rows if name is not None and at is not None}


def job_waiting(session: Session, queueing_lock: str) -> bool:
    """Whether a job with this queueing lock waits in the queue (status ``todo``)."""
    found = session.execute(
        text("SELECT 1 FROM procrastinate_jobs WHERE queueing_lock = :q AND status = 'todo'"),
        {"q": queueing_lock},
    )
    return found.first() is not None


def live_worker_hosts(session: Session, stalled_seconds: float) -> set[str]:
    """Hosts of the workers whose heartbeat is fresher than ``stalled_seconds``."""
    if not queue_present(session):
        return set()
    rows = session.execute(
        text(
            "SELECT q.host FROM procrastinate_workers w JOIN queue_workers q"
            " ON q.worker_id = w.id"
            " WHERE w.last_heartbeat >= now() - make_interval(secs => :s)"
        ),
        {"s": stalled_seconds},
    )
    return {host for (host,) in rows}


def queue_worker_rows(session: Session) -> list[tuple[int, str, int]]:
    """Every registered worker row: (worker id, host, pid)."""
    stmt = select(QueueWorker.worker_id, QueueWorker.host, QueueWorker.pid)
    return [(w, h, p) for w, h, p in session.execute(stmt)]
