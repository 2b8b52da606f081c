"""The delivery outbox: record a window and its deliveries, then send what is due.

1. :func:`open_window` reads the upper positions, builds the digest, and records the window
   with one ``pending`` delivery per channel (a stable idempotency key each) in one
   transaction.  An empty digest of a ``skip_empty`` subscription is recorded as skipped.
2. :func:`deliver_due` sends deliveries that are due.  Each is first committed as
   ``sending`` with an open attempt (:func:`storage.repository.claim_delivery`), then sent,
   then recorded: ``delivered``; ``retrying`` with the next attempt after an exponential
   backoff (429/5xx, timeouts, refused connections…); or ``failed`` (other 4xx, an SMTP 5xx,
   a rejected login — or too many attempts).  A process that dies between the send and the
   record leaves the row ``sending``; once its lease has run out a later call sends it again
   with the same key, and the attempt that never finished is recorded as ``lost``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from digest.build import build_digest, start_positions, take_positions
from digest.channels import Sender, SendResult, sender_for
from digest.records import Digest
from digest.subscription import Channel, HealthThresholds, Retry, Subscription
from storage import repository
from storage.database import Database
from storage.digest_records import AttemptResult, DeliveryView, NewWindow, Positions, WindowView

log = logging.getLogger(__name__)

# A delivery still 'sending' this long after it was claimed is presumed lost with its process.
LEASE = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one send attempt did, for the command line and the service's log."""

    subscription: str
    seq: int
    channel: str
    key: str
    outcome: str  # delivered | retry | failed
    attempts: int
    error: str = ""
    next_attempt_at: datetime | None = None


def backoff(retry: Retry, attempts: int) -> timedelta:
    """Wait before attempt ``attempts + 1``: ``first_seconds`` doubling, at most ``max_seconds``."""
    seconds = retry.first_seconds * 2 ** max(0, attempts - 1)
    return timedelta(seconds=min(seconds, retry.max_seconds))


def preview(
    db: Database,
    subscription: Subscription,
    *,
    now: datetime,
    sites: Sequence[str],
    health: HealthThresholds,
) -> Digest:
    """The digest the subscription would get now, recording nothing (``--dry-run``)."""
    with db.session() as session:
        upto = repository.read_positions(session, lock=False)
        after = start_positions(session, subscription, now=now, record=False)
        return build_digest(session, subscription, after, upto, now=now, sites=sites, health=health)


def open_window(
    db: Database,
    subscription: Subscription,
    *,
    now: datetime,
    sites: Sequence[str],
    health: HealthThresholds,
    upto: Positions | None = None,
) -> tuple[WindowView | None, Digest]:
    """Build the subscription's next digest and record it with its deliveries.

    ``upto`` defaults to the positions read now.  Returns ``(None, digest)`` when another
    process recorded the same window first.
    """
    if upto is None:
        upto = take_positions(db)
    with db.session() as session:
        after = start_positions(session, subscription, now=now, record=True)
        digest = build_digest(
            session, subscription, after, upto, now=now, sites=sites, health=health
        )
        skipped = digest.is_empty and subscription.skip_empty
        window = repository.record_window(
            session,
            NewWindow(
                subscription=subscription.name,
                after=after,
                upto=Positions(digest.upto_article_id, digest.upto_link_event_id),
                built_at=now,
                article_count=digest.article_count,
                dead_link_count=len(digest.dead_links),
                skipped=skipped,
                content=digest.to_json(),
                channels=tuple((c.name, c.type) for c in subscription.channels),
            ),
            key_suffix=secrets.token_hex(4),
        )
    if window is None:
        log.info("digest %s: another process recorded this window first", subscription.name)
    elif skipped:
        log.info("digest %s #%d: nothing new, skipped", subscription.name, window.seq)
    else:
        log.info(
            "digest %s #%d: %d articles, %d dead links, articles %d..%d",
            subscription.name,
            window.seq,
            digest.article_count,
            len(digest.dead_links),
            after.article_id + 1,
            digest.upto_article_id,
        )
    return window, digest


def deliver_due(
    db: Database,
    subscriptions: Sequence[Subscription],
    *,
    now: datetime,
    window_id: int | None = None,
    only: str | None = None,
    senders: Callable[[Channel], Sender] = sender_for,
) -> list[DeliveryReport]:
    """Send every delivery that is due (of one window, or of the subscription ``only``, when
    given); report each attempt."""
    by_name = {s.name: s for s in subscriptions}
    with db.session() as session:
        due = repository.due_deliveries(session, now, window_id=window_id, subscription=only)
    reports: list[DeliveryReport] = []
    for delivery in due:
        subscription = by_name.get(delivery.subscription)
        channel = subscription.channel(delivery.channel) if subscription else None
        if subscription is None or channel is None or channel.type != delivery.channel_type:
            error = (
                f"channel {delivery.channel!r} of digest {delivery.subscription!r} "
                "is no longer configured"
            )
            with db.session() as session:
                repository.fail_delivery(session, delivery.id, error)
            log.warning("digest %s #%d: %s", delivery.subscription, delivery.seq, error)
            reports.append(_report(delivery, "failed", delivery.attempts, error))
            continue
        report = send_delivery(db, delivery, subscription, senders(channel), now=now)
        if report is not None:
            reports.append(report)
    return reports


def send_delivery(
    db: Database,
    delivery: DeliveryView,
    subscription: Subscription,
    sender: Sender,
    *,
    now: datetime,
) -> DeliveryReport | None:
    """Claim, send and record one delivery; ``None`` if another process claimed it first."""
    with db.session() as session:
        claimed = repository.claim_delivery(session, delivery.id, now=now, lease_until=now + LEASE)
    if claimed is None:
        return None
    if claimed.attempts > 1:
        log.info(
            "digest %s #%d via %s: attempt %d, key %s",
            claimed.subscription,
            claimed.seq,
            claimed.channel,
            claimed.attempts,
            claimed.idempotency_key,
        )
    try:
        digest = Digest.from_json(claimed.content)
        result = sender.send(digest, claimed.idempotency_key, claimed.parts_sent)
    except Exception as exc:  # a bug in a sender must not stop the other deliveries
        log.exception(
            "digest %s #%d via %s: sender failed",
            claimed.subscription,
            claimed.seq,
            claimed.channel,
        )
        result = SendResult("retry", claimed.parts_sent, None, f"internal error: {exc}")
    attempt = _attempt_result(result, claimed, subscription.retry, now)
    with db.session() as session:
        repository.finish_attempt(session, claimed.id, attempt, now=max(now, repository.utcnow()))
    _log(claimed, attempt)
    return _report(
        claimed, attempt.outcome, claimed.attempts, attempt.error, attempt.next_attempt_at
    )


def _attempt_result(
    result: SendResult, delivery: DeliveryView, retry: Retry, now: datetime
) -> AttemptResult:
    if result.outcome == "retry" and delivery.attempts >= retry.max_attempts:
        return AttemptResult(
            "failed",
            result.parts_sent,
            result.status,
            f"gave up after {delivery.attempts} attempts: {result.error}",
        )
    if result.outcome == "retry":
        wait = backoff(retry, delivery.attempts)
        if result.retry_after is not None:
            wait = max(wait, timedelta(seconds=min(result.retry_after, retry.max_seconds)))
        return AttemptResult("retry", result.parts_sent, result.status, result.error, now + wait)
    return AttemptResult(result.outcome, result.parts_sent, result.status, result.error)


def _log(delivery: DeliveryView, attempt: AttemptResult) -> None:
    name, seq, channel = delivery.subscription, delivery.seq, delivery.channel
    if attempt.outcome == "delivered":
        log.info(
            "digest %s #%d via %s: delivered (key %s)", name, seq, channel, delivery.idempotency_key
        )
    elif attempt.outcome == "retry":
        log.warning(
            "digest %s #%d via %s: %s; next attempt at %s",
            name,
            seq,
            channel,
            attempt.error,
            attempt.next_attempt_at,
        )
    else:
        log.error("digest %s #%d via %s: failed: %s", name, seq, channel, attempt.error)


def _report(
    delivery: DeliveryView,
    outcome: str,
    attempts: int,
    error: str,
    next_attempt_at: datetime | None = None,
) -> DeliveryReport:
    return DeliveryReport(
        subscription=delivery.subscription,
        seq=delivery.seq,
        channel=delivery.channel,
        key=delivery.idempotency_key,
        outcome=outcome,
        attempts=attempts,
        error=error,
        next_attempt_at=next_attempt_at,
    )
