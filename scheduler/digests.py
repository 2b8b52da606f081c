"""``govwatch digest``: build, preview and send digests; and the service's tick.

:func:`deliver_due` is what the background service runs for each digest, in the service's own
process (``scheduler.digest_jobs``), and ``govwatch digest --due`` from the command line: it
builds the digests whose schedule has come (once per due time, however late the tick), then
sends every delivery that is due, first sends and retries alike.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from apscheduler.triggers.cron import CronTrigger

from crawler.extract.textclean import clean_text
from digest import outbox
from digest.channels import Sender, sender_for
from digest.outbox import DeliveryReport
from digest.records import Digest
from digest.render import payload, render_html, render_text, subject
from digest.subscription import Channel, HealthThresholds, Subscription
from scheduler.config import Config
from scheduler.output import beijing, table
from scheduler.schedule import TIMEZONE, parse_schedule
from storage import migrate, repository
from storage.database import Database
from storage.digest_records import DeliveryView
from storage.errors import GovwatchError, UsageError

log = logging.getLogger(__name__)


def health_thresholds(config: Config) -> HealthThresholds:
    return HealthThresholds(
        failing_runs=config.service.failing_runs_warning,
        quiet_hours=config.service.zero_articles_warning_hours,
    )


def health_sites(config: Config, subscription: Subscription) -> list[str]:
    """The sites whose crawl health the subscription is told about."""
    if subscription.sites:
        return list(subscription.sites)
    return [s.name for s in config.sites if s.enabled]


def is_due(schedule_text: str, reference: datetime | None, now: datetime) -> bool:
    """Whether the schedule has fired since ``reference`` (the last build, or first sight)."""
    if reference is None:
        return False
    due = due_time(schedule_text, reference)
    return due is not None and due <= now


def due_time(schedule_text: str, reference: datetime) -> datetime | None:
    """The schedule's first time after ``reference`` (``None``: a cron that never fires)."""
    schedule = parse_schedule(schedule_text, 1)
    if schedule.interval_seconds is not None:
        return reference + timedelta(seconds=schedule.interval_seconds)
    assert schedule.cron is not None
    trigger = CronTrigger.from_crontab(schedule.cron, timezone=TIMEZONE)
    fire: datetime | None = trigger.get_next_fire_time(None, reference + timedelta(seconds=1))
    return fire


def open_window(
    db: Database, config: Config, subscription: Subscription, now: datetime
) -> tuple[int | None, Digest]:
    window, digest = outbox.open_window(
        db,
        subscription,
        now=now,
        sites=health_sites(config, subscription),
        health=health_thresholds(config),
    )
    return (None if window is None or window.skipped else window.id), digest


def deliver_due(
    db: Database,
    config: Config,
    now: datetime | None = None,
    only: str | None = None,
    senders: Callable[[Channel], Sender] = sender_for,
) -> list[DeliveryReport]:
    """One tick: build the digests that are due, send what is due (of the subscription
    ``only``, when given: the service runs one job per subscription, in its own process).

    A subscription seen for the first time is recorded and gets its first digest at its next
    scheduled time.  Failures are logged per subscription; the tick goes on.
    """
    now = now or repository.utcnow()
    subscriptions = [s for s in config.digests if s.enabled and only in (None, s.name)]
    for sub in subscriptions:
        try:
            with db.session() as session:
                reference = repository.schedule_reference(session, sub.name)
                if reference is None:
                    repository.ensure_subscription(
                        session,
                        sub.name,
                        now=now,
                        backfill_since=now - timedelta(hours=sub.backfill_hours),
                    )
            if is_due(sub.schedule, reference, now):
                open_window(db, config, sub, now)
        except GovwatchError as exc:
            log.error("digest %s: cannot build: %s", sub.name, exc)
    return outbox.deliver_due(db, config.digests, now=now, only=only, senders=senders)


def cmd_digest(args: argparse.Namespace, config: Config) -> int:
    if args.due:
        if args.format or args.dry_run or args.send or args.preview or args.status:
            raise UsageError("--due runs alone")
        return _due(config, args.name)
    if not args.name:
        raise UsageError("name the digest (or use --due)")
    subscription = config.digest(args.name)
    if subscription is None:
        known = ", ".join(d.name for d in config.digests) or "none"
        raise UsageError(f"unknown digest {args.name!r} (configured: {known})")
    modes = [m for m in ("dry_run", "send", "preview", "status") if getattr(args, m)]
    if len(modes) != 1:
        raise UsageError("give one of --dry-run, --send, --preview FILE or --status")
    if args.format and not args.dry_run:
        raise UsageError("--format goes with --dry-run")
    db = Database(config.database.url)
    migrate.upgrade(db)
    now = repository.utcnow()
    if args.status:
        return _status(db, subscription)
    if args.send:
        return _send(db, config, subscription, now)
    digest = outbox.preview(
        db,
        subscription,
        now=now,
        sites=health_sites(config, subscription),
        health=health_thresholds(config),
    )
    if args.preview:
        path = Path(args.preview)
        try:
            path.write_text(render_html(digest), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--preview: cannot write {path}: {exc}") from exc
        print(f"{subject(digest)}: wrote {path}")
    elif args.format == "html":  # to a terminal: rows stored before text cleaning may hold escapes
        sys.stdout.write(clean_text(render_html(digest)))
    elif args.format == "json":
        print(json.dumps(payload(digest, None), ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(clean_text(render_text(digest)))
    return 0


def _send(db: Database, config: Config, subscription: Subscription, now: datetime) -> int:
    window_id, digest = open_window(db, config, subscription, now)
    if window_id is None:
        if digest.is_empty and subscription.skip_empty:
            print(f"{subscription.name}: nothing new, skipped (skip_empty)")
            return 0
        print(f"{subscription.name}: another process built this digest at the same time")
        return 1
    print(f"{subscription.name}: {subject(digest)}")
    reports = outbox.deliver_due(db, config.digests, now=now, window_id=window_id)
    for report in reports:
        print(describe_delivery(report))
    return 0 if reports and all(r.outcome == "delivered" for r in reports) else 1


def describe_delivery(report: DeliveryReport) -> str:
    line = f"  {report.channel}: {report.outcome}"
    if report.outcome == "retry" and report.next_attempt_at:
        line = f"  {report.channel}: will retry at {beijing(report.next_attempt_at)} (Beijing)"
    if report.error:
        line += f": {report.error}"
    return line


def _due(config: Config, only: str | None) -> int:
    if only and config.digest(only) is None:
        raise UsageError(f"unknown digest {only!r}")
    db = Database(config.database.url)
    migrate.upgrade(db)
    reports = deliver_due(db, config, only=only)
    for report in reports:
        print(f"{report.subscription} #{report.seq}{describe_delivery(report)[1:]}")
    return 0 if all(r.outcome != "failed" for r in reports) else 1


def _status(db: Database, subscription: Subscription) -> int:
    with db.session() as session:
        windows = repository.list_windows(session, subscription.name, limit=10)
        deliveries = repository.list_deliveries(session, subscription=subscription.name, limit=30)
    if not windows:
        print(f"{subscription.name}: no digest built yet")
        return 0
    print(
        table(
            ("#", "BUILT (BEIJING)", "ARTICLES", "DEAD", "ARTICLE IDS"),
            [
                (
                    str(w.seq),
                    beijing(w.built_at),
                    "skipped" if w.skipped else str(w.article_count),
                    str(w.dead_link_count),
                    f"{w.after.article_id + 1}-{w.upto.article_id}",
                )
                for w in windows
            ],
            (5, 16, 8, 5, 16),
        )
    )
    if deliveries:
        print()
        print(_deliveries_table(deliveries))
    return 0


def _deliveries_table(deliveries: Sequence[DeliveryView]) -> str:
    rows = []
    for d in deliveries:
        state = d.state
        if d.state == "retrying" and d.next_attempt_at:
            state = f"retrying at {beijing(d.next_attempt_at, '%m-%d %H:%M')}"
        rows.append(
            (str(d.seq), d.channel, state, str(d.attempts), d.idempotency_key, d.last_error)
        )
    return table(
        ("#", "CHANNEL", "STATE", "TRIES", "IDEMPOTENCY KEY", "LAST ERROR"),
        rows,
        (5, 10, 24, 5, 30, 50),
    )
