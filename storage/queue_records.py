"""Frozen records of the job queue's state (``storage.repository.queue``), for ``govwatch
status`` and ``/metrics``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# the queues a job goes to (``[queue] queues``, ``govwatch worker --queues``): crawls, link
# checks, digests
QUEUE_NAMES = ("crawl", "links", "digest")


@dataclass(frozen=True, slots=True)
class QueueJobView:
    """A job that is running or stalled: which, where, since when, which attempt."""

    id: int
    queue: str
    task: str
    job: str  # the service's job name: crawl:SITE, check-links, digest:NAME
    attempts: int  # attempts before this one
    worker_id: int | None
    host: str | None  # the worker's, when it registered itself
    pid: int | None
    started_at: datetime | None


@dataclass(frozen=True, slots=True)
class QueueWorkerView:
    worker_id: int
    host: str | None
    pid: int | None
    last_heartbeat: datetime
    running: int  # jobs it runs now


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """The queue at one moment.  ``present`` is False where no queue schema exists."""

    present: bool
    counts: tuple[tuple[str, str, int], ...] = ()  # (queue, status, jobs)
    running: tuple[QueueJobView, ...] = ()
    stalled: tuple[QueueJobView, ...] = ()
    workers: tuple[QueueWorkerView, ...] = ()  # alive: heartbeat within the stall time
    retries: tuple[tuple[str, int], ...] = ()  # (queue, jobs retried) since they were kept
