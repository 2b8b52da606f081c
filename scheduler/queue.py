"""The job queue of a scaled-out service: Procrastinate on the PostgreSQL database.

With ``[queue] backend = "procrastinate"``, ``govwatch run`` (the leader) defers its jobs
here instead of running them (:class:`Dispatcher`), and ``govwatch worker`` processes run
them (``scheduler.worker``).  One task, ``govwatch.run_job``, runs any service job by its
name (``crawl:SITE``, ``check-links``, ``digest:NAME``); the worker looks the job up in its
own configuration and runs it exactly as the single-machine service does
(``scheduler.job_runner``: a crawl in a process of its own, stopped at its time limit).

Guarantees, and what keeps each:

- at most one crawl running per site, cluster-wide: the job's Procrastinate ``lock``
  (``host:`` the host[:port] of the site's first start URL, so sites sharing it take turns
  too; a job waiting for a lock takes no worker slot);
- at most one waiting per job: its ``queueing_lock`` (the job's name); a deferral refused
  by it is recorded as missed, ``overlap``;
- a job whose worker died (``kill -9``, a lost machine) is retried on another worker: each
  worker heartbeats every ``[queue] heartbeat_seconds`` and sweeps, as often, the running
  jobs of workers silent for ``stalled_seconds`` back to the queue; after ``max_attempts``
  attempts the job is ``failed`` instead (:func:`sweep_stalled`).

Procrastinate's schema is applied by :func:`ensure_schema` (``govwatch init``, ``run``,
``worker``), once, under an advisory lock; a database that has it is left as it is.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import procrastinate
from procrastinate import exceptions as pexc
from procrastinate.manager import JobManager
from procrastinate.schema import SchemaManager
from psycopg.errors import Error as PsycopgError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from scheduler.config import QueueConfig
from scheduler.jobs import JobSpec
from storage.database import Database
from storage.errors import GovwatchError

log = logging.getLogger(__name__)

TASK = "govwatch.run_job"
CRAWL_QUEUE = "crawl"
LINKS_QUEUE = "links"
DIGEST_QUEUE = "digest"
_SCHEMA_LOCK = (0x67770010, 1)  # advisory lock key while the queue's schema is applied


class QueueError(GovwatchError):
    """The job queue cannot be reached or set up."""


class Released(Exception):
    """A job that did not run (to its end) here and goes back to the queue: its site is still
    crawled by a process that has not ended yet, or this worker is stopping."""


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a job goes: its queue, lock and queueing lock."""

    queue: str
    lock: str
    queueing_lock: str


def placement(spec: JobSpec) -> Placement:
    """The queue and locks of ``spec``.  A crawl's lock is its first start URL's host (and
    port), so one site is never crawled twice at once and two sites of one host take turns."""
    if spec.site is not None:
        lock = f"host:{spec.origin}" if spec.origin else spec.name
        return Placement(CRAWL_QUEUE, lock, spec.name)
    if spec.digest is not None:
        return Placement(DIGEST_QUEUE, spec.name, spec.name)
    return Placement(LINKS_QUEUE, spec.name, spec.name)


def conninfo(db: Database) -> str:
    """libpq's connection string of ``db`` (SQLAlchemy's URL without its driver name)."""
    return db.url.set(drivername="postgresql").render_as_string(hide_password=False)


def build_app(
    db: Database, settings: QueueConfig, run_job: Callable[..., None] | None = None
) -> procrastinate.App:
    """The Procrastinate app on ``db``, with the one task.

    ``run_job(context, job)`` is what a worker runs; the leader, which only defers, passes
    nothing (a placeholder that refuses to run stands in)."""
    connector = procrastinate.PsycopgConnector(conninfo=conninfo(db), min_size=1, max_size=4)
    app = procrastinate.App(connector=connector)
    attempts = settings.max_attempts
    retry: procrastinate.RetryStrategy | bool = (
        procrastinate.RetryStrategy(max_attempts=attempts - 1, wait=1, retry_exceptions={Released})
        if attempts > 1
        else False
    )

    def refuse(context: Any, job: str) -> None:
        raise QueueError(f"job {job}: this process only defers jobs")

    app.task(name=TASK, pass_context=True, retry=retry, queue=CRAWL_QUEUE)(run_job or refuse)
    return app


def ensure_schema(db: Database) -> bool:
    """Create Procrastinate's tables if they are missing (PostgreSQL); True when created."""
    if db.is_sqlite:
        raise QueueError("the job queue needs a PostgreSQL database")
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:a, :b)"), _lock_params())
            try:
                exists = conn.execute(
                    text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
                ).scalar()
                if exists:
                    conn.commit()
                    return False
                raw = conn.connection.dbapi_connection
                assert raw is not None
                cursor = raw.cursor()
                try:
                    cursor.execute(SchemaManager.get_schema())
                finally:
                    cursor.close()
                conn.commit()
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"), _lock_params())
                conn.commit()
    except (SQLAlchemyError, PsycopgError) as exc:
        raise QueueError(f"cannot set up the job queue's schema: {_first_line(exc)}") from exc
    log.info("created the job queue's schema (Procrastinate %s)", procrastinate.__version__)
    return True


def _lock_params() -> dict[str, int]:
    return {"a": _SCHEMA_LOCK[0], "b": _SCHEMA_LOCK[1]}


class Dispatcher:
    """The leader's side: defers a job, or says it is already waiting."""

    def __init__(self, db: Database, settings: QueueConfig) -> None:
        self.app = build_app(db, settings)
        self._opened = False
        self._lock = threading.Lock()  # jobs are deferred from the scheduler's threads

    def defer(self, spec: JobSpec) -> int | None:
        """Defer ``spec``: its job id, or None when one is already waiting (its queueing
        lock).  Raises :class:`QueueError` when the database does not answer."""
        where = placement(spec)
        try:
            with self._lock:
                if not self._opened:
                    self.app.open()
                    self._opened = True
            return self.app.configure_task(
                TASK, queue=where.queue, lock=where.lock, queueing_lock=where.queueing_lock
            ).defer(job=spec.name)
        except pexc.AlreadyEnqueued:
            return None
        except (pexc.ProcrastinateException, PsycopgError, OSError) as exc:
            raise QueueError(f"cannot defer job {spec.name}: {_first_line(exc)}") from exc

    def close(self) -> None:
        with self._lock:
            if not self._opened:
                return
            self._opened = False
            try:
                self.app.close()
            except (pexc.ProcrastinateException, PsycopgError, OSError) as exc:
                log.debug("closing the queue: %s", exc)


async def sweep_stalled(app: procrastinate.App, settings: QueueConfig) -> list[str]:
    """Put the running jobs of dead workers back in the queue, or fail those out of
    attempts; what was done, a line per job.  Safe to run on every worker at once: a job
    another worker swept meanwhile is skipped."""
    manager = app.job_manager
    done: list[str] = []
    stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=settings.stalled_seconds)
    for job in stalled:
        assert job.id is not None
        name = job.task_kwargs.get("job", job.task_name)
        attempt = job.attempts + 1
        try:
            if job.queueing_lock and await _waiting(manager, job.queueing_lock):
                await manager.finish_job(
                    job, status=procrastinate.jobs.Status.ABORTED, delete_job=False
                )
                line = (
                    f"job {job.id} ({name}): its worker died during attempt {attempt}; "
                    "a newer job of it waits already: aborted"
                )
                log.warning("%s", line)
            elif attempt >= settings.max_attempts:
                await manager.finish_job(
                    job, status=procrastinate.jobs.Status.FAILED, delete_job=False
                )
                line = (
                    f"job {job.id} ({name}): its worker died during attempt {attempt} of "
                    f"{settings.max_attempts}: failed"
                )
                log.error("%s", line)
            else:
                await manager.retry_job(job)
                line = (
                    f"job {job.id} ({name}): its worker died during attempt {attempt} of "
                    f"{settings.max_attempts}: queued again"
                )
                log.warning("%s", line)
        except (pexc.ProcrastinateException, PsycopgError) as exc:
            log.info("job %d (%s): swept by another worker meanwhile (%s)", job.id, name, exc)
            continue
        done.append(line)
    return done


async def _waiting(manager: JobManager, queueing_lock: str) -> bool:
    jobs = await manager.list_jobs_async(queueing_lock=queueing_lock, status="todo")
    return any(True for _ in jobs)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
