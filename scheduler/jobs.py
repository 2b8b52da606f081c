"""The service's jobs: what runs, on which schedule, and when each first runs after a start.

Crawls and link checks are ``govwatch`` commands run in processes of their own (see
``scheduler.supervisor``); digests run in the service's own process, each on its own schedule
(``scheduler.digest_jobs``).  Adding a job is one :class:`JobSpec` in :func:`build_jobs`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.site import site_hosts
from scheduler.config import Config
from scheduler.schedule import TIMEZONE, Schedule, parse_schedule

# Executors (thread pools) of the scheduler: each thread watches one child process.
CRAWLS = "crawls"  # crawl processes, at most [service] max_concurrent_crawls at once
COMMANDS = "commands"  # other jobs' processes (link checks)
DIGESTS = "digests"  # digest jobs, in-process (each waits for a thread of its own)
INTERNAL = "internal"  # the service's own heartbeat and housekeeping, in-process


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One scheduled job: ``govwatch ARGV...`` in its own process, on ``schedule``.

    ``site`` is set for crawl jobs: their runs are recorded in ``crawl_runs`` by the child,
    and the service closes a run the child could not (killed, crashed).  ``digest`` is set
    for a digest's job, which runs in the service's process (no ``argv``).
    """

    name: str  # unique: crawl:SITE, check-links, digest:NAME
    schedule: Schedule
    argv: tuple[str, ...] = ()
    executor: str = COMMANDS
    site: str | None = None
    hosts: tuple[str, ...] = ()  # a crawl's hosts: crawls sharing one take turns
    origin: str = ""  # a crawl's first start URL's host[:port]: its lock in the job queue
    digest: str | None = None


def build_jobs(config: Config) -> list[JobSpec]:
    """Every job the configuration asks for, in a stable order."""
    minimum = config.service.min_schedule_seconds
    jobs = [
        JobSpec(
            name=f"crawl:{site.name}",
            schedule=parse_schedule(site.schedule, minimum),
            argv=("crawl", site.name),
            executor=CRAWLS,
            site=site.name,
            hosts=tuple(site_hosts([site])),
            origin=min(urlsplit(url).netloc.lower() for url in site.start_urls),
        )
        for site in config.sites
        if site.enabled
    ]
    jobs.append(
        JobSpec(
            name="check-links",
            schedule=parse_schedule(config.links.schedule, minimum),
            argv=("check-links",),
            # the checker fetches guarded sites' pages too: not while they are crawled
            hosts=tuple(h for h, rule in site_hosts(config.sites).items() if rule),
        )
    )
    if config.service.digest_schedule:  # empty: the service sends no digests
        # scaled out, a worker cannot wake the leader's job early: the job runs every
        # digest_schedule instead, and each run sends what is due (the outbox decides)
        queued = parse_schedule(config.service.digest_schedule, 1) if config.queue.enabled else None
        jobs += [
            JobSpec(
                name=f"digest:{d.name}",
                schedule=queued or parse_schedule(d.schedule, 1),  # checked on load
                executor=DIGESTS,
                digest=d.name,
            )
            for d in config.digests
            if d.enabled
        ]
    return jobs


def stable_offset(name: str, jitter_seconds: int) -> float:
    """A per-job offset in ``[0, jitter_seconds)``, the same on every start: it spreads the
    jobs' start times without drifting (APScheduler's own interval jitter accumulates)."""
    if jitter_seconds <= 0:
        return 0.0
    return (zlib.crc32(name.encode()) % (jitter_seconds * 1000)) / 1000


def make_trigger(schedule: Schedule, start: datetime, jitter_seconds: int) -> BaseTrigger:
    """The APScheduler trigger: intervals counted from ``start``; cron in Beijing time."""
    if schedule.interval_seconds is not None:
        return IntervalTrigger(seconds=schedule.interval_seconds, start_date=start, timezone="UTC")
    assert schedule.cron is not None
    trigger = CronTrigger.from_crontab(schedule.cron, timezone=TIMEZONE)
    trigger.jitter = jitter_seconds or None  # cron times do not drift: a fresh jitter each time
    return trigger


@dataclass(frozen=True, slots=True)
class FirstRun:
    """When a job first runs after the service starts.

    ``at``: the first run (``None``: the trigger's next time).  ``missed_since``: set when the
    job fell due while no service was running, longer ago than the misfire grace time.
    """

    at: datetime | None
    missed_since: datetime | None = None


def plan_first_run(
    name: str,
    schedule: Schedule,
    last_started: datetime | None,
    now: datetime,
    *,
    jitter_seconds: int,
    grace_seconds: float,
) -> FirstRun:
    """Pick up where the last run left off: a job that is due (or overdue) runs now, spread
    by its offset; one that is not waits for its time.  An interval job that never ran runs
    now; a cron job that never ran waits for its first time."""
    offset = timedelta(seconds=stable_offset(name, jitter_seconds))
    if schedule.interval_seconds is not None:
        if last_started is None:
            return FirstRun(at=now + offset)
        due = last_started + timedelta(seconds=schedule.interval_seconds)
    else:
        if last_started is None:
            return FirstRun(at=None)
        assert schedule.cron is not None
        cron = CronTrigger.from_crontab(schedule.cron, timezone=TIMEZONE)
        due = cron.get_next_fire_time(None, last_started)
        if due is None or due > now:
            return FirstRun(at=None)
    if due > now:
        return FirstRun(at=due + offset)
    missed = due if (now - due).total_seconds() > grace_seconds else None
    return FirstRun(at=now + offset, missed_since=missed)
