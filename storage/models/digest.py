"""Models of digests: subscriptions' positions, the windows built, and their deliveries.

A *window* is the span of database positions one digest covers: articles with
``after_article_id < id <= upto_article_id`` (and link events likewise).  Windows of one
subscription are contiguous, so every article falls into exactly one of them.  A *delivery*
is one window sent over one channel (the outbox); each *attempt* to send it is kept.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import BigIntId


class DigestSubscription(Base):
    """A configured subscription, from the first time it was used: where its first window starts."""

    __tablename__ = "digest_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    start_article_id: Mapped[int] = mapped_column(BigInteger)
    start_link_event_id: Mapped[int] = mapped_column(BigInteger)


class DigestWindow(Base):
    """One digest of one subscription: the positions it covers and what it contained."""

    __tablename__ = "digest_windows"
    __table_args__ = (UniqueConstraint("subscription_id", "seq"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("digest_subscriptions.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)  # 1, 2, … per subscription
    after_article_id: Mapped[int] = mapped_column(BigInteger)  # exclusive
    upto_article_id: Mapped[int] = mapped_column(BigInteger)  # inclusive
    after_link_event_id: Mapped[int] = mapped_column(BigInteger)
    upto_link_event_id: Mapped[int] = mapped_column(BigInteger)
    built_at: Mapped[datetime]
    article_count: Mapped[int] = mapped_column(Integer, default=0)
    dead_link_count: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)  # empty, not sent
    content: Mapped[str] = mapped_column(Text)  # the digest as JSON, rendered per channel


class DigestDelivery(Base):
    """The outbox: one window sent over one channel, with its idempotency key and state."""

    __tablename__ = "digest_deliveries"
    __table_args__ = (
        UniqueConstraint("window_id", "channel"),
        Index("ix_digest_deliveries_state_next", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("digest_windows.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(64))  # the channel's name in the subscription
    channel_type: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    # pending | sending | retrying | delivered | failed
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    parts_sent: Mapped[int] = mapped_column(Integer, default=0)  # chat messages already sent
    next_attempt_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]  # a 'sending' row past this is presumed crashed
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class DigestAttempt(Base):
    """One try at sending a delivery, recorded before the send and completed after it."""

    __tablename__ = "digest_attempts"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("digest_deliveries.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # sending | delivered | retry | failed | lost (the process ended before recording)
    outcome: Mapped[str] = mapped_column(String(16))
    status: Mapped[int | None]  # HTTP status or SMTP reply code, when there was one
    error: Mapped[str] = mapped_column(Text, default="")
