"""``/metrics`` through ``prometheus_client``: a collector that reads the database on each
scrape, one for this service process's own gauges, and the library's process collector.

Counts come from the database (so every replica, leader or standby, reports the same
totals); gauges about the process come from the service.  The exposition format (text
0.0.4, escaping, number formatting) is the library's job.  A family is one
:func:`family` call in :func:`service_families` or :func:`snapshot_families`: add more
there (queue depths, link states, ...).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session

from crawler.guards.blocking import blocked_reason
from storage import repository
from storage.database import Database
from storage.errors import GovwatchError
from storage.records import MetricsSnapshot

log = logging.getLogger(__name__)

Labels = tuple[tuple[str, str], ...]
# the classic names (the library also takes UTF-8 ones, which text format 0.0.4 cannot carry)
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_TYPES: dict[str, type[CounterMetricFamily] | type[GaugeMetricFamily]] = {
    "counter": CounterMetricFamily,
    "gauge": GaugeMetricFamily,
}


@dataclass(frozen=True, slots=True)
class ServiceState:
    """What this ``govwatch run`` process reports about itself at one scrape."""

    leader: bool
    started_at: float  # Unix time
    running: tuple[str, ...]  # names of the job processes running now ("crawl:SITE", ...)


def service_text(
    db: Database,
    *,
    leader: bool,
    started_at: float,
    running: Sequence[str],
    extra: Sequence[Collector] = (),
) -> str:
    """The service's whole ``/metrics`` page; a database that does not answer is a gauge.
    ``extra`` collectors (the job queue's) are scraped beside the service's own."""
    state = ServiceState(leader, started_at, tuple(running))
    registry = service_registry(db, lambda: state)
    for collector in extra:
        registry.register(collector)
    return exposition(registry)


def service_registry(db: Database, state: Callable[[], ServiceState]) -> CollectorRegistry:
    """A registry of the service's collectors: its own gauges, the database's counts, and
    the process (memory, CPU, file descriptors, start time)."""
    registry = CollectorRegistry(auto_describe=False)  # nothing is read until a scrape
    registry.register(ServiceCollector(state))
    registry.register(DatabaseCollector(db))
    ProcessCollector(registry=registry)
    return registry


def exposition(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode("utf-8")


class ServiceCollector(Collector):
    """Gauges of this process, from ``state()`` at each scrape."""

    def __init__(self, state: Callable[[], ServiceState]) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        state = self.state()
        yield from service_families(
            leader=state.leader, started_at=state.started_at, running=state.running
        )


class DatabaseCollector(Collector):
    """The database's totals, read on each scrape, and whether the database answered."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        families: list[Metric] = []
        db_up = True
        try:
            with self.db.session() as session:
                families = database_families(session)
        except GovwatchError as exc:
            log.warning("metrics: %s", exc)
            db_up = False
        yield from families
        yield family(
            "govwatch_database_up",
            "gauge",
            "1 when the database answered this scrape.",
            [((), int(db_up))],
        )


def family(
    name: str, type_: str, help_: str, samples: Iterable[tuple[Labels, float]] = ()
) -> Metric:
    """One metric family (``counter`` or ``gauge``): every sample carries the same label
    names, in the same order."""
    if not _NAME.match(name) or type_ not in _TYPES:
        raise ValueError(f"bad metric {name!r} of type {type_!r}")
    rows = list(samples)
    names = [k for k, _ in rows[0][0]] if rows else []
    metric = _TYPES[type_](name, help_, labels=names)
    for labels, value in rows:
        if [k for k, _ in labels] != names:
            raise ValueError(f"{name}: labels {labels!r} differ from {names!r}")
        metric.add_metric([v for _, v in labels], value)
    return metric


def service_families(*, leader: bool, started_at: float, running: Sequence[str]) -> list[Metric]:
    """Gauges of this ``govwatch run`` process: its role, start and job processes."""
    crawls = sum(name.startswith("crawl:") for name in running)
    digests = sum(name.startswith("digest:") for name in running)  # in-process runs
    return [
        family(
            "govwatch_service_leader",
            "gauge",
            "1 when this govwatch run leads the schedule, 0 while it stands by.",
            [((), int(leader))],
        ),
        family(
            "govwatch_service_start_time_seconds",
            "gauge",
            "Unix time when this govwatch run started.",
            [((), started_at)],
        ),
        family(
            "govwatch_jobs_running",
            "gauge",
            "Jobs running now, by kind (crawl and other: processes; digest: in the service).",
            [
                ((("kind", "crawl"),), crawls),
                ((("kind", "digest"),), digests),
                ((("kind", "other"),), len(running) - crawls - digests),
            ],
        ),
    ]


def database_families(session: Session) -> list[Metric]:
    """Every family counted in the database."""
    return snapshot_families(repository.metrics_snapshot(session))


def snapshot_families(snapshot: MetricsSnapshot) -> list[Metric]:
    """The database's totals as metric families."""
    return [
        family(
            "govwatch_crawl_runs_total",
            "counter",
            "Crawl runs recorded, by site and outcome (running, succeeded, warning, partial, "
            "blocked, failed, interrupted).",
            [((("site", s), ("outcome", o)), n) for s, o, n in snapshot.runs],
        ),
        family(
            "govwatch_site_blocked",
            "gauge",
            "1 for a site whose newest finished run was blocked by the site's guard, by reason "
            "(captcha, JavaScript challenge unsolved, cookie expired, rate limited, access "
            "refused): the site is up and refuses the crawler.",
            [
                ((("site", s), ("reason", blocked_reason(m) or "other")), 1)
                for s, o, m in snapshot.last_runs
                if o == "blocked"
            ],
        ),
        family(
            "govwatch_articles",
            "gauge",
            "Articles stored, by site.",
            [((("site", s),), n) for s, n in snapshot.articles],
        ),
        family(
            "govwatch_articles_new_total",
            "counter",
            "Articles stored as new by crawl runs, by site.",
            [((("site", s),), n) for s, n in snapshot.new_articles],
        ),
        family(
            "govwatch_crawl_errors_total",
            "counter",
            "Pages that crawl runs could not fetch or parse (after retries), by site.",
            [((("site", s),), n) for s, n in snapshot.errors],
        ),
        family(
            "govwatch_last_success_timestamp_seconds",
            "gauge",
            "Unix time when the newest succeeded (or warning) run of the site ended.",
            [((("site", s),), t.timestamp()) for s, t in snapshot.last_success],
        ),
        family(
            "govwatch_missed_runs_total",
            "counter",
            "Scheduled runs that did not run, by job and reason (misfire, overlap, busy, "
            "downtime, shutdown, error); kept for [service] history_days.",
            [((("job", j), ("reason", r)), n) for j, r, n in snapshot.missed],
        ),
        family(
            "govwatch_links",
            "gauge",
            "Links found on crawled pages, by status (ok, redirected, dead, soft_404, error, "
            "blocked, ...).",
            [((("status", st),), n) for st, n in snapshot.links],
        ),
        family(
            "govwatch_digest_deliveries",
            "gauge",
            "Digest deliveries, by state (pending, retrying, sending, delivered, failed).",
            [((("state", st),), n) for st, n in snapshot.deliveries],
        ),
    ]
