"""``govwatch status``: is the service alive, how did each site's last run go, what looks
wrong.  Read-only: everything comes from the database the service writes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from crawler.guards.blocking import blocked_reason, pace_in
from scheduler.config import Config
from scheduler.output import beijing, iso, table
from scheduler.queue_status import queue_lines, queue_record
from storage import status_reads as reads
from storage.database import Database
from storage.queue_records import QueueSnapshot
from storage.records import JobState, MissedRunView, ServiceInstanceView, SiteHealth

_MISSED_WINDOW = timedelta(hours=24)
_FAILED_DELIVERIES_WINDOW = timedelta(days=7)
_PENDING_DELIVERIES = ("pending", "retrying", "sending")


@dataclass(frozen=True, slots=True)
class SiteStatus:
    name: str
    title: str
    enabled: bool
    schedule: str
    health: SiteHealth
    next_run: datetime | None
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Status:
    now: datetime
    service: ServiceInstanceView | None
    service_alive: bool
    sites: tuple[SiteStatus, ...]
    jobs: tuple[JobState, ...]  # jobs other than crawls (link checks, digests)
    warnings: tuple[str, ...]  # about the service itself, its jobs and deliveries
    links: dict[str, int]  # links by status
    deliveries: dict[str, int]  # digest deliveries by state
    queue: QueueSnapshot | None = None  # with [queue] backend = "procrastinate"


def build_status(config: Config, db: Database, now: datetime | None = None) -> Status:
    now = now or reads.utcnow()
    settings = config.service
    with db.connect() as conn:  # SQLAlchemy Core only: status does not pay for the ORM
        instance = reads.latest_instance(conn)
        states = {s.name: s for s in reads.job_states(conn)}
        healths = reads.site_health(conn, [s.name for s in config.sites])
        missed = reads.missed_runs(conn, since=now - _MISSED_WINDOW)
        links = reads.link_counts(conn)
        deliveries = reads.delivery_counts(conn)
        failed = reads.list_deliveries(conn, states=["failed"], limit=5)
        queue = (
            reads.queue_snapshot(conn, config.queue.stalled_seconds)
            if config.queue.enabled
            else None
        )
    stale = timedelta(seconds=3 * settings.heartbeat_seconds + 30)
    alive = (
        instance is not None and instance.stopped_at is None and now - instance.heartbeat_at < stale
    )
    service_warnings: list[str] = []
    if instance is None:
        service_warnings.append("govwatch run has never run on this database")
    elif not alive:
        why = "stopped" if instance.stopped_at else "stopped answering (crashed or killed?)"
        service_warnings.append(
            f"govwatch run is not running: it {why}; last heartbeat "
            f"{beijing(instance.heartbeat_at)} (Beijing) on {instance.host}"
        )
    sites = []
    for site, health in zip(config.sites, healths, strict=True):
        state = states.get(f"crawl:{site.name}")
        next_run = state.next_run_at if (alive and state is not None and site.enabled) else None
        site_missed = [m for m in missed if m.job == f"crawl:{site.name}"]
        sites.append(
            SiteStatus(
                name=site.name,
                title=site.title,
                enabled=site.enabled,
                schedule=site.schedule,
                health=health,
                next_run=next_run,
                warnings=tuple(_site_warnings(health, site_missed, config, now)),
            )
        )
    jobs = tuple(s for s in states.values() if not s.name.startswith("crawl:"))
    for job in jobs:
        job_missed = [m for m in missed if m.job == job.name]
        if job_missed:
            service_warnings.append(f"{job.name}: {_describe_missed(job_missed)}")
        if job.last_result not in ("", "ok", "interrupted"):
            service_warnings.append(f"{job.name}: last run {job.last_result}: {job.last_message}")
    for delivery in failed:
        if now - delivery.created_at <= _FAILED_DELIVERIES_WINDOW:
            service_warnings.append(
                f"digest {delivery.subscription} #{delivery.seq} via {delivery.channel}: "
                f"failed after {delivery.attempts} attempt(s): {delivery.last_error}"
            )
    return Status(
        now=now,
        links=links,
        deliveries=deliveries,
        service=instance,
        service_alive=alive,
        sites=tuple(sites),
        jobs=jobs if alive else tuple(_without_next_run(j) for j in jobs),
        warnings=tuple(service_warnings),
        queue=queue,
    )


def _site_warnings(
    health: SiteHealth, missed: list[MissedRunView], config: Config, now: datetime
) -> list[str]:
    settings = config.service
    out: list[str] = []
    last = health.last_run
    if health.failures_in_a_row >= settings.failing_runs_warning:
        why = f": {last.message}" if last is not None and last.message else ""
        out.append(f"failing: the last {health.failures_in_a_row} runs failed{why}")
    quiet_since = health.quiet_since(now, timedelta(hours=settings.zero_articles_warning_hours))
    if quiet_since is not None:
        hours = (now - quiet_since).total_seconds() / 3600
        since = "since " + beijing(quiet_since)
        what = "no new article" if health.last_new_article_at else "no article ever"
        out.append(
            f"{what} for {hours:.0f}h ({since}): do list_link_selector and "
            "article_url_pattern still match?"
        )
    if last is not None:
        out += [f"last run: {w}" for w in last.warnings]
    if missed:
        out.append(_describe_missed(missed))
    running = health.running
    limit = timedelta(seconds=settings.crawl_time_limit_seconds + settings.kill_after_seconds + 60)
    if running is not None and now - running.started_at > limit:
        out.append(
            f"run {running.id} has been running since {beijing(running.started_at)} "
            f"(pid {running.pid}), longer than the crawl time limit: is the process stuck?"
        )
    return out


def _describe_missed(missed: list[MissedRunView]) -> str:
    reasons: dict[str, int] = {}
    for m in missed:
        reasons[m.reason] = reasons.get(m.reason, 0) + 1
    detail = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items()))
    return f"{len(missed)} missed run(s) in the last 24h ({detail}); latest: {missed[0].message}"


def _without_next_run(job: JobState) -> JobState:
    return JobState(
        name=job.name,
        schedule=job.schedule,
        next_run_at=None,
        last_started_at=job.last_started_at,
        last_finished_at=job.last_finished_at,
        last_result=job.last_result,
        last_message=job.last_message,
    )


def render_text(status: Status) -> str:
    lines = [_service_line(status), ""]
    rows = []
    for site in status.sites:
        run = site.health.last_run
        running = site.health.running
        if running is not None:
            next_run = f"running since {beijing(running.started_at, '%H:%M:%S')}"
        elif not site.enabled:
            next_run = "(disabled)"
        elif site.next_run is not None:
            next_run = beijing(site.next_run, "%Y-%m-%d %H:%M:%S")
        else:
            next_run = "-"
        rows.append(
            (
                site.name,
                "never" if run is None else beijing(run.started_at),
                "" if run is None else run.outcome,
                "" if run is None else str(run.list_pages + run.article_pages),
                "" if run is None else str(run.articles_new),
                "" if run is None else str(run.error_count),
                next_run,
            )
        )
    lines.append(
        table(
            ("SITE", "LAST RUN (BEIJING)", "OUTCOME", "PAGES", "NEW", "ERRORS", "NEXT RUN"),
            rows,
            (14, 18, 11, 6, 5, 6, 28),
        )
    )
    if status.jobs:
        lines += ["", "other jobs:"]
        for job in status.jobs:
            last = "never" if job.last_started_at is None else beijing(job.last_started_at)
            result = f" {job.last_result}" if job.last_result else ""
            nxt = beijing(job.next_run_at, "%Y-%m-%d %H:%M:%S") if job.next_run_at else "-"
            lines.append(f"  {job.name}: last {last}{result}; next {nxt}")
    if status.links:
        counts = ", ".join(f"{n} {state}" for state, n in sorted(status.links.items()))
        lines += ["", f"links: {counts}"]
    if status.deliveries:
        pending = sum(status.deliveries.get(state, 0) for state in _PENDING_DELIVERIES)
        lines += [
            "",
            f"digest deliveries: {pending} pending, {status.deliveries.get('failed', 0)} failed, "
            f"{status.deliveries.get('delivered', 0)} delivered",
        ]
    misses = [
        f"  {s.name}: {m}"
        for s in status.sites
        if s.health.last_run is not None
        for m in s.health.last_run.selector_misses
    ]
    blocked = [
        f"  {s.name}: blocked: {s.health.last_run.message}"
        for s in status.sites
        if s.health.last_run is not None and s.health.last_run.outcome == "blocked"
    ]
    if blocked:  # a guard, not a failure: the message says what to do
        lines += ["", "blocked by the site's guard in the last run:", *blocked]
    paces = [
        f"  {s.name}: {pace}"
        for s in status.sites
        if s.health.last_run is not None and (pace := pace_in(s.health.last_run.message))
    ]
    if paces:
        lines += ["", "hosts that throttled the last run (delay between requests):", *paces]
    if misses:  # a few pages of another template: counted, not a warning
        lines += ["", "selectors that missed on some pages of the last run:", *misses]
    if status.queue is not None:
        lines += queue_lines(status.queue)
    warnings = list(status.warnings) + [f"{s.name}: {w}" for s in status.sites for w in s.warnings]
    lines += ["", "warnings:" if warnings else "no warnings"]
    lines += [f"  {w}" for w in warnings]
    return "\n".join(lines) + "\n"


def _service_line(status: Status) -> str:
    instance = status.service
    if instance is None:
        return "service: never ran on this database"
    age = (status.now - instance.heartbeat_at).total_seconds()
    if status.service_alive:
        return (
            f"service: running on {instance.host} (pid {instance.pid}) since "
            f"{beijing(instance.started_at)} (Beijing); last heartbeat {age:.0f}s ago"
        )
    return (
        f"service: not running (last: {instance.host} pid {instance.pid}, last heartbeat "
        f"{beijing(instance.heartbeat_at)} Beijing)"
    )


def render_json(status: Status) -> str:
    def site_record(site: SiteStatus) -> dict[str, Any]:
        run = site.health.last_run
        running = site.health.running
        return {
            "site": site.name,
            "title": site.title,
            "enabled": site.enabled,
            "schedule": site.schedule,
            "last_run": None
            if run is None
            else {
                "id": run.id,
                "started_at": iso(run.started_at),
                "finished_at": iso(run.finished_at),
                "outcome": run.outcome,
                "pages": run.list_pages + run.article_pages,
                "articles_found": run.articles_found,
                "articles_new": run.articles_new,
                "errors": run.error_count,
                "warnings": list(run.warnings),
                "selector_misses": list(run.selector_misses),
                "message": run.message,
                "blocked_reason": blocked_reason(run.message) if run.outcome == "blocked" else None,
                "host_delays": pace_in(run.message),
            },
            "running": None
            if running is None
            else {"id": running.id, "pid": running.pid, "started_at": iso(running.started_at)},
            "next_run": iso(site.next_run),
            "failures_in_a_row": site.health.failures_in_a_row,
            "last_new_article_at": iso(site.health.last_new_article_at),
            "warnings": list(site.warnings),
        }

    instance = status.service
    data = {
        "service": None
        if instance is None
        else {
            "running": status.service_alive,
            "host": instance.host,
            "pid": instance.pid,
            "started_at": iso(instance.started_at),
            "heartbeat_at": iso(instance.heartbeat_at),
            "stopped_at": iso(instance.stopped_at),
        },
        "sites": [site_record(s) for s in status.sites],
        "jobs": [
            {
                "job": j.name,
                "schedule": j.schedule,
                "last_started_at": iso(j.last_started_at),
                "last_result": j.last_result,
                "last_message": j.last_message,
                "next_run": iso(j.next_run_at),
            }
            for j in status.jobs
        ],
        "links": status.links,
        "deliveries": status.deliveries,
        "queue": None if status.queue is None else queue_record(status.queue),
        "warnings": list(status.warnings),
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
