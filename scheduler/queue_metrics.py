"""``/metrics`` families of the job queue (``[queue] backend = "procrastinate"``).

Kept apart from ``scheduler.metrics`` (the service's own families): :class:`QueueCollector`
is registered beside the service's collectors when the service dispatches to the queue, and
:func:`queue_families` turns one :class:`~storage.queue_records.QueueSnapshot` into families.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from scheduler.metrics import family
from storage import repository
from storage.database import Database
from storage.errors import GovwatchError
from storage.queue_records import QueueSnapshot

log = logging.getLogger(__name__)


class QueueCollector(Collector):
    """The queue's families, read from the database at each scrape (none when the database
    does not answer or the queue's tables are not there yet)."""

    def __init__(self, db: Database, stalled_seconds: float) -> None:
        self.db = db
        self.stalled_seconds = stalled_seconds

    def collect(self) -> Iterator[Metric]:
        try:
            with self.db.session() as session:
                snapshot = repository.queue_snapshot(session, self.stalled_seconds)
        except GovwatchError as exc:
            log.warning("metrics: the job queue: %s", exc)
            return
        if snapshot.present:
            yield from queue_families(snapshot)


def queue_families(snapshot: QueueSnapshot) -> list[Metric]:
    """Queue depth per queue and status, running jobs per worker, retries, stalled jobs,
    live workers."""
    per_worker: dict[tuple[str, str], int] = {}
    for worker in snapshot.workers:
        key = (str(worker.worker_id), worker.host or "")
        per_worker[key] = worker.running
    return [
        family(
            "govwatch_queue_jobs",
            "gauge",
            "Jobs in the queue, by queue (crawl, links, digest) and status (todo, doing, "
            "succeeded, failed, cancelled, aborted).",
            [((("queue", q), ("status", s)), n) for q, s, n in snapshot.counts],
        ),
        family(
            "govwatch_queue_running_jobs",
            "gauge",
            "Jobs running now, by worker (its id and host).",
            [((("worker", w), ("host", h)), n) for (w, h), n in per_worker.items()],
        ),
        family(
            "govwatch_queue_workers",
            "gauge",
            "govwatch worker processes alive (a heartbeat within [queue] stalled_seconds).",
            [((), len(snapshot.workers))],
        ),
        family(
            "govwatch_queue_stalled_jobs",
            "gauge",
            "Jobs marked running whose worker stopped its heartbeat (it died): the next sweep "
            "queues them again, or fails them after [queue] max_attempts.",
            [((), len(snapshot.stalled))],
        ),
        family(
            "govwatch_queue_retried_jobs_total",
            "counter",
            "Jobs queued again after an attempt (a dead worker, a released job), by queue.",
            [((("queue", q),), n) for q, n in snapshot.retries],
        ),
    ]
