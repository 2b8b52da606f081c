"""The digest outbox: deliveries (one window over one channel) and their attempts.

The rows move ``pending`` → ``sending`` → ``delivered`` | ``retrying`` | ``failed``.
``sending`` is committed *before* the message goes out (:func:`claim_delivery`); a row still
``sending`` after its lease is one whose process died between send and record, and is sent
again, with the same idempotency key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select, update
from sqlalchemy.orm import Session

from storage.digest_records import AttemptResult, AttemptView, DeliveryView
from storage.models.digest import DigestAttempt, DigestDelivery, DigestSubscription, DigestWindow
from storage.status_reads import list_deliveries as list_deliveries

DUE_STATES = ("pending", "retrying")


def _delivery_select(with_content: bool = False) -> Select[Any]:
    columns: list[Any] = [DigestDelivery, DigestSubscription.name, DigestWindow.seq]
    if with_content:
        columns.append(DigestWindow.content)
    return (
        select(*columns)
        .join(DigestWindow, DigestDelivery.window_id == DigestWindow.id)
        .join(DigestSubscription, DigestWindow.subscription_id == DigestSubscription.id)
    )


def _delivery_view(d: DigestDelivery, name: str, seq: int, content: str = "") -> DeliveryView:
    return DeliveryView(
        id=d.id,
        window_id=d.window_id,
        subscription=name,
        seq=seq,
        channel=d.channel,
        channel_type=d.channel_type,
        idempotency_key=d.idempotency_key,
        state=d.state,
        attempts=d.attempts,
        parts_sent=d.parts_sent,
        next_attempt_at=d.next_attempt_at,
        lease_until=d.lease_until,
        last_error=d.last_error,
        created_at=d.created_at,
        delivered_at=d.delivered_at,
        content=content,
    )


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(DigestDelivery.state.in_(DUE_STATES), DigestDelivery.next_attempt_at <= now),
        and_(DigestDelivery.state == "sending", DigestDelivery.lease_until < now),
    )


def due_deliveries(
    session: Session,
    now: datetime,
    *,
    window_id: int | None = None,
    subscription: str | None = None,
    limit: int = 100,
) -> list[DeliveryView]:
    """Deliveries to send now: pending or retrying and due, or ``sending`` past their lease
    (of one window, or one subscription, when given)."""
    stmt = _delivery_select().where(_due(now))
    if window_id is not None:
        stmt = stmt.where(DigestDelivery.window_id == window_id)
    if subscription is not None:
        stmt = stmt.where(DigestSubscription.name == subscription)
    stmt = stmt.order_by(DigestDelivery.id).limit(limit)
    return [_delivery_view(d, n, s) for d, n, s in session.execute(stmt)]


def claim_delivery(
    session: Session, delivery_id: int, *, now: datetime, lease_until: datetime
) -> DeliveryView | None:
    """Mark a due delivery ``sending`` and open an attempt; ``None`` if it is not due any more.

    Commit before sending: if the process dies during the send, the row stays ``sending``
    and is claimed again once ``lease_until`` has passed.
    """
    claimed = session.scalar(
        update(DigestDelivery)
        .where(DigestDelivery.id == delivery_id, _due(now))
        .values(
            state="sending",
            lease_until=lease_until,
            attempts=DigestDelivery.attempts + 1,
        )
        .returning(DigestDelivery.id)
    )
    if claimed is None:
        return None
    session.execute(
        update(DigestAttempt)
        .where(DigestAttempt.delivery_id == delivery_id, DigestAttempt.outcome == "sending")
        .values(
            outcome="lost",
            finished_at=now,
            error="the process ended before the result was recorded; sent again",
        )
    )
    row = session.execute(
        _delivery_select(with_content=True).where(DigestDelivery.id == delivery_id)
    ).one()
    delivery, name, seq, content = row
    session.refresh(delivery)
    session.add(
        DigestAttempt(
            delivery_id=delivery_id,
            number=delivery.attempts,
            started_at=now,
            finished_at=None,
            outcome="sending",
            status=None,
            error="",
        )
    )
    session.flush()
    return _delivery_view(delivery, name, seq, content)


def finish_attempt(
    session: Session, delivery_id: int, result: AttemptResult, *, now: datetime
) -> None:
    """Record how the open attempt ended, and move the delivery on."""
    state = {"delivered": "delivered", "retry": "retrying", "failed": "failed"}[result.outcome]
    session.execute(
        update(DigestDelivery)
        .where(DigestDelivery.id == delivery_id)
        .values(
            state=state,
            parts_sent=result.parts_sent,
            lease_until=None,
            next_attempt_at=result.next_attempt_at if state == "retrying" else None,
            last_error=result.error,
            delivered_at=now if state == "delivered" else None,
        )
    )
    session.execute(
        update(DigestAttempt)
        .where(DigestAttempt.delivery_id == delivery_id, DigestAttempt.outcome == "sending")
        .values(outcome=result.outcome, finished_at=now, status=result.status, error=result.error)
    )


def fail_delivery(session: Session, delivery_id: int, error: str) -> None:
    """Give up on a delivery that cannot be attempted (its channel is no longer configured)."""
    session.execute(
        update(DigestDelivery)
        .where(DigestDelivery.id == delivery_id, DigestDelivery.state != "delivered")
        .values(state="failed", next_attempt_at=None, lease_until=None, last_error=error)
    )


def delivery_attempts(session: Session, delivery_id: int) -> list[AttemptView]:
    stmt = (
        select(DigestAttempt)
        .where(DigestAttempt.delivery_id == delivery_id)
        .order_by(DigestAttempt.number, DigestAttempt.id)
    )
    return [
        AttemptView(
            number=a.number,
            started_at=a.started_at,
            finished_at=a.finished_at,
            outcome=a.outcome,
            status=a.status,
            error=a.error,
        )
        for a in session.scalars(stmt)
    ]


__all__ = [
    "claim_delivery",
    "delivery_attempts",
    "due_deliveries",
    "fail_delivery",
    "finish_attempt",
    "list_deliveries",
]
