"""What ``govwatch status`` reads and closes, in SQLAlchemy Core: no ORM, no models.

``status`` is a command people run often and by hand; importing the ORM and govwatch's
models (their mapper configuration) costs it about as much as the rest of its start-up, so
these queries name their tables and columns with Core's lightweight ``table()`` and
``column()`` (typed where a value needs converting: times are ``UTCDateTime``).  They run on a
Core ``Connection`` as well as on an ORM ``Session``; the repository re-exports them, so each
exists once.  Names here must match ``storage.models`` (tests/test_storage.py checks the
models against the migrations, and the status tests run these against both databases).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, String, column, func, select, table, text, update

from storage.digest_records import DeliveryView
from storage.queue_records import QueueJobView, QueueSnapshot, QueueWorkerView
from storage.records import (
    JobState,
    MissedRunView,
    RunningRun,
    RunView,
    ServiceInstanceView,
    SiteHealth,
)
from storage.types import UTCDateTime

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session

    Reader = Connection | Session

_TIME = UTCDateTime()

sites = table("sites", column("id", Integer), column("name", String))
crawl_runs = table(
    "crawl_runs",
    column("id", Integer),
    column("site_id", Integer),
    column("started_at", _TIME),
    column("finished_at", _TIME),
    column("outcome", String),
    column("list_pages", Integer),
    column("article_pages", Integer),
    column("articles_found", Integer),
    column("articles_new", Integer),
    column("articles_seen", Integer),
    column("error_count", Integer),
    column("warnings", String),
    column("message", String),
    column("pid", Integer),
    column("host", String),
    column("selector_misses", String),
)
articles = table(
    "articles",
    column("id", Integer),
    column("site_id", Integer),
    column("run_id", Integer),
    column("first_seen", _TIME),
)
# Articles per site and Beijing day (storage.repository.site_days keeps it at every insert).
site_article_days = table(
    "site_article_days",
    column("site_id", Integer),
    column("last_first_seen", _TIME),
)
crawl_errors = table("crawl_errors", column("id", Integer), column("run_id", Integer))
links = table("links", column("id", Integer), column("status", String))
service_jobs = table(
    "service_jobs",
    column("name", String),
    column("schedule", String),
    column("next_run_at", _TIME),
    column("last_started_at", _TIME),
    column("last_finished_at", _TIME),
    column("last_result", String),
    column("last_message", String),
)
service_instances = table(
    "service_instances",
    column("id", Integer),
    column("host", String),
    column("pid", Integer),
    column("started_at", _TIME),
    column("heartbeat_at", _TIME),
    column("stopped_at", _TIME),
)
missed_runs_table = table(
    "missed_runs",
    column("id", Integer),
    column("job", String),
    column("scheduled_at", _TIME),
    column("recorded_at", _TIME),
    column("reason", String),
    column("message", String),
)
digest_subscriptions = table("digest_subscriptions", column("id", Integer), column("name", String))
digest_windows = table(
    "digest_windows",
    column("id", Integer),
    column("subscription_id", Integer),
    column("seq", Integer),
)
digest_deliveries = table(
    "digest_deliveries",
    column("id", Integer),
    column("window_id", Integer),
    column("channel", String),
    column("channel_type", String),
    column("idempotency_key", String),
    column("state", String),
    column("attempts", Integer),
    column("parts_sent", Integer),
    column("next_attempt_at", _TIME),
    column("lease_until", _TIME),
    column("last_error", String),
    column("created_at", _TIME),
    column("delivered_at", _TIME),
)

# Runs that reached the site's list pages: their article counts mean something.
_FETCHED = ("succeeded", "warning", "partial")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def run_view(run: Any, site: str) -> RunView:
    """A crawl run's view, from a ``CrawlRun`` model object or a Core row of ``crawl_runs``."""
    return RunView(
        id=run.id,
        site=site,
        started_at=run.started_at,
        finished_at=run.finished_at,
        outcome=run.outcome,
        list_pages=run.list_pages,
        article_pages=run.article_pages,
        articles_found=run.articles_found,
        articles_new=run.articles_new,
        articles_seen=run.articles_seen,
        error_count=run.error_count,
        warnings=tuple(w for w in run.warnings.split("\n") if w),
        message=run.message,
        selector_misses=tuple(m for m in (run.selector_misses or "").split("\n") if m),
    )


def _flush(reader: Reader) -> None:
    """An ORM session's pending changes go out first (a Core statement does not autoflush),
    so these functions see what the caller's session did, as the ORM queries did."""
    flush = getattr(reader, "flush", None)
    if flush is not None:
        flush()


def _pairs(rows: Iterable[Sequence[Any]]) -> dict[Any, Any]:
    return {key: value for key, value in rows}


def site_health(reader: Reader, names: Sequence[str]) -> list[SiteHealth]:
    """Per site (in the given order): last finished run, run in progress, and streaks."""
    _flush(reader)
    runs = crawl_runs.c
    ids = {
        name: id_
        for name, id_ in reader.execute(
            select(sites.c.name, sites.c.id).where(sites.c.name.in_(names))
        )
    }
    site_ids = list(ids.values())
    in_sites = runs.site_id.in_(site_ids)

    newest_finished = (
        select(func.max(runs.id)).where(in_sites, runs.outcome != "running").group_by(runs.site_id)
    )
    last_runs = {
        r.site_id: r for r in reader.execute(select(crawl_runs).where(runs.id.in_(newest_finished)))
    }
    newest_running = (
        select(func.max(runs.id)).where(in_sites, runs.outcome == "running").group_by(runs.site_id)
    )
    running = {
        r.site_id: r for r in reader.execute(select(crawl_runs).where(runs.id.in_(newest_running)))
    }
    last_ok = _pairs(
        reader.execute(
            select(runs.site_id, func.max(runs.started_at, type_=_TIME))
            .where(in_sites, runs.outcome.in_(_FETCHED))
            .group_by(runs.site_id)
        )
    )
    failures: dict[int, int] = {}
    for site_id in site_ids:
        failures[site_id] = int(
            reader.scalar(
                select(func.count(runs.id)).where(
                    runs.site_id == site_id,
                    runs.outcome == "failed",
                    runs.started_at > last_ok.get(site_id, _EPOCH),
                )
            )
            or 0
        )
    first_run = _pairs(
        reader.execute(
            select(runs.site_id, func.min(runs.started_at, type_=_TIME))
            .where(in_sites)
            .group_by(runs.site_id)
        )
    )
    newest_article = _pairs(
        reader.execute(
            select(
                site_article_days.c.site_id,
                func.max(site_article_days.c.last_first_seen, type_=_TIME),
            )
            .where(site_article_days.c.site_id.in_(site_ids))
            .group_by(site_article_days.c.site_id)
        )
    )

    out: list[SiteHealth] = []
    for name in names:
        if name not in ids:
            out.append(SiteHealth(name, None, None, 0, None, None))
            continue
        site_id = ids[name]
        last = last_runs.get(site_id)
        now_running = running.get(site_id)
        out.append(
            SiteHealth(
                site=name,
                last_run=None if last is None else run_view(last, name),
                running=None
                if now_running is None
                else RunningRun(
                    id=now_running.id,
                    site=name,
                    pid=now_running.pid,
                    started_at=now_running.started_at,
                ),
                failures_in_a_row=failures.get(site_id, 0),
                first_run_at=first_run.get(site_id),
                last_new_article_at=newest_article.get(site_id),
            )
        )
    return out


def link_counts(reader: Reader) -> dict[str, int]:
    """Links by status (ok, redirected, dead, soft_404, error, blocked, unchecked…)."""
    _flush(reader)
    c = links.c
    rows = reader.execute(select(c.status, func.count(c.id)).group_by(c.status).order_by(c.status))
    return {status: int(n) for status, n in rows}


def delivery_counts(reader: Reader) -> dict[str, int]:
    """Digest deliveries by state (pending, retrying, sending, delivered, failed)."""
    _flush(reader)
    c = digest_deliveries.c
    rows = reader.execute(select(c.state, func.count(c.id)).group_by(c.state).order_by(c.state))
    return {state: int(n) for state, n in rows}


def list_deliveries(
    reader: Reader,
    *,
    subscription: str | None = None,
    states: Sequence[str] | None = None,
    limit: int = 50,
) -> list[DeliveryView]:
    """Deliveries, newest first (``govwatch digest NAME --status``, ``govwatch status``),
    without their content."""
    _flush(reader)
    d = digest_deliveries.c
    stmt = (
        select(
            d.id,
            d.window_id,
            digest_subscriptions.c.name.label("subscription"),
            digest_windows.c.seq,
            d.channel,
            d.channel_type,
            d.idempotency_key,
            d.state,
            d.attempts,
            d.parts_sent,
            d.next_attempt_at,
            d.lease_until,
            d.last_error,
            d.created_at,
            d.delivered_at,
        )
        .join(digest_windows, d.window_id == digest_windows.c.id)
        .join(digest_subscriptions, digest_windows.c.subscription_id == digest_subscriptions.c.id)
    )
    if subscription is not None:
        stmt = stmt.where(digest_subscriptions.c.name == subscription)
    if states is not None:
        stmt = stmt.where(d.state.in_(states))
    stmt = stmt.order_by(d.id.desc()).limit(limit)
    return [DeliveryView(**row._asdict()) for row in reader.execute(stmt)]


def missed_runs(
    reader: Reader, *, since: datetime, job: str | None = None, limit: int = 1000
) -> list[MissedRunView]:
    """Missed runs recorded at or after ``since``, newest first."""
    _flush(reader)
    m = missed_runs_table.c
    stmt = (
        select(m.job, m.scheduled_at, m.recorded_at, m.reason, m.message)
        .where(m.recorded_at >= since)
        .order_by(m.id.desc())
        .limit(limit)
    )
    if job is not None:
        stmt = stmt.where(m.job == job)
    return [MissedRunView(*row) for row in reader.execute(stmt)]


def job_states(reader: Reader) -> list[JobState]:
    _flush(reader)
    j = service_jobs.c
    stmt = select(
        j.name,
        j.schedule,
        j.next_run_at,
        j.last_started_at,
        j.last_finished_at,
        j.last_result,
        j.last_message,
    ).order_by(j.name)
    return [JobState(*row) for row in reader.execute(stmt)]


def latest_instance(reader: Reader) -> ServiceInstanceView | None:
    _flush(reader)
    row = reader.execute(
        select(service_instances).order_by(service_instances.c.id.desc()).limit(1)
    ).first()
    return None if row is None else ServiceInstanceView(*row)


def running_runs(reader: Reader, site: str | None = None) -> list[RunningRun]:
    """Runs still marked ``running`` (of one site, or all), oldest first."""
    _flush(reader)
    runs = crawl_runs.c
    stmt = (
        select(runs.id, sites.c.name, runs.pid, runs.started_at, runs.host)
        .join(sites, runs.site_id == sites.c.id)
        .where(runs.outcome == "running")
        .order_by(runs.id)
    )
    if site is not None:
        stmt = stmt.where(sites.c.name == site)
    return [RunningRun(*row) for row in reader.execute(stmt)]


def close_run(
    reader: Reader, run_id: int, *, outcome: str, message: str, only_if_running: bool = True
) -> bool:
    """End a run its own process could not end (killed, crashed, stopped at a time limit).

    A run that was still ``running`` gets its end time, and its counts of new articles and
    errors from what the process did store.  With ``only_if_running=False`` a finished run's
    outcome and message are replaced (the service stopped it, so it knows better why it
    ended).  Returns whether a row changed.
    """
    _flush(reader)
    runs = crawl_runs.c
    new_articles = select(func.count(articles.c.id)).where(articles.c.run_id == run_id)
    errors = select(func.count(crawl_errors.c.id)).where(crawl_errors.c.run_id == run_id)
    closed = reader.execute(
        update(crawl_runs)
        .where(runs.id == run_id, runs.outcome == "running")
        .values(
            finished_at=utcnow(),
            articles_new=new_articles.scalar_subquery(),
            error_count=errors.scalar_subquery(),
            outcome=outcome,
            message=message,
        )
    )
    if _rowcount(closed) or only_if_running:
        return bool(_rowcount(closed))
    replaced = reader.execute(
        update(crawl_runs).where(runs.id == run_id).values(outcome=outcome, message=message)
    )
    return bool(_rowcount(replaced))


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


# The job queue: Procrastinate's tables, read only, in plain SQL (they are not govwatch's).


def queue_present(reader: Reader) -> bool:
    """Whether Procrastinate's schema is in this database (PostgreSQL only)."""
    dialect = reader.get_bind().dialect if hasattr(reader, "get_bind") else reader.dialect
    if dialect.name != "postgresql":
        return False
    present = text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
    return bool(reader.execute(present).scalar())


_JOB_COLUMNS = (
    "SELECT j.id, j.queue_name, j.task_name, coalesce(j.args->>'job', ''), j.attempts,"
    " j.worker_id, q.host, q.pid,"
    " (SELECT max(e.at) FROM procrastinate_events e"
    "   WHERE e.job_id = j.id AND e.type = 'started') AS started_at"
    " FROM procrastinate_jobs j"
    " LEFT JOIN queue_workers q ON q.worker_id = j.worker_id"
    " LEFT JOIN procrastinate_workers w ON w.id = j.worker_id"
    " WHERE j.status = 'doing'"
)


def queue_snapshot(reader: Reader, stalled_seconds: float) -> QueueSnapshot:
    """Jobs by queue and status, running and stalled jobs, live workers, retries."""
    if not queue_present(reader):
        return QueueSnapshot(present=False)
    params = {"s": stalled_seconds}
    fresh = "w.last_heartbeat >= now() - make_interval(secs => :s)"
    counts = reader.execute(
        text(
            "SELECT queue_name, status::text, count(*) FROM procrastinate_jobs"
            " GROUP BY 1, 2 ORDER BY 1, 2"
        )
    )
    running = reader.execute(text(f"{_JOB_COLUMNS} AND {fresh} ORDER BY j.id"), params)
    stalled = reader.execute(
        text(f"{_JOB_COLUMNS} AND (w.id IS NULL OR NOT {fresh}) ORDER BY j.id"), params
    )
    workers = reader.execute(
        text(
            "SELECT w.id, q.host, q.pid, w.last_heartbeat,"
            " (SELECT count(*) FROM procrastinate_jobs j"
            "   WHERE j.worker_id = w.id AND j.status = 'doing')"
            f" FROM procrastinate_workers w LEFT JOIN queue_workers q ON q.worker_id = w.id"
            f" WHERE {fresh} ORDER BY w.id"
        ),
        params,
    )
    retries = reader.execute(
        text(
            "SELECT j.queue_name, count(DISTINCT j.id) FROM procrastinate_jobs j"
            " JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'deferred_for_retry'"
            " GROUP BY 1 ORDER BY 1"
        )
    )
    return QueueSnapshot(
        present=True,
        counts=tuple((q, s, int(n)) for q, s, n in counts),
        running=tuple(QueueJobView(*row) for row in running),
        stalled=tuple(QueueJobView(*row) for row in stalled),
        workers=tuple(QueueWorkerView(*row) for row in workers),
        retries=tuple((q, int(n)) for q, n in retries),
    )
