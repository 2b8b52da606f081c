"""Typed values of digests and their outbox that cross the storage seam, in and out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Positions:
    """Database positions: the highest article id and link event id committed at one moment.

    Everything at or below them is visible; anything stored later gets a larger id (the
    repository makes sure of that on PostgreSQL, where ids are not handed out in commit order).
    """

    article_id: int = 0
    link_event_id: int = 0


@dataclass(frozen=True, slots=True)
class ArticleFilter:
    """Which articles a subscription wants: every field narrows when set."""

    sites: tuple[str, ...] = ()  # site names; empty: every site
    keywords: tuple[str, ...] = ()  # any of them in the title or body; empty: every article


@dataclass(frozen=True, slots=True)
class WindowArticle:
    """An article in a digest window, with the start of its body for the excerpt."""

    id: int
    site: str
    site_title: str
    url: str  # as fetched: a link that works
    title: str
    publish_time: datetime | None
    first_seen: datetime
    source: str | None
    body_start: str
    duplicate_of: int | None  # the earliest stored copy of the same story
    publish_time_precision: str | None = None  # minute | day | url; None: not recorded


@dataclass(frozen=True, slots=True)
class LinkPage:
    """A page a link appears on."""

    url: str  # as fetched when the page is a stored article, else canonical
    site: str
    title: str  # the article's title when the page is a stored article, else ""


@dataclass(frozen=True, slots=True)
class WindowLinkEvent:
    """A link that became dead or recovered within a window (net change, one per link)."""

    id: int  # the newest event of the link in the window
    url: str
    kind: str  # newly_dead | recovered
    status: str
    http_status: int | None
    detail: str
    at: datetime
    pages: tuple[LinkPage, ...]


@dataclass(frozen=True, slots=True)
class NewWindow:
    """A digest window to record, with the content to deliver (JSON) and its channels."""

    subscription: str
    after: Positions
    upto: Positions
    built_at: datetime
    article_count: int
    dead_link_count: int
    skipped: bool
    content: str
    channels: tuple[tuple[str, str], ...]  # (channel name, channel type) to deliver to


@dataclass(frozen=True, slots=True)
class WindowView:
    id: int
    subscription: str
    seq: int
    after: Positions
    upto: Positions
    built_at: datetime
    article_count: int
    dead_link_count: int
    skipped: bool


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """One window to send over one channel: the outbox row, with the content to send."""

    id: int
    window_id: int
    subscription: str
    seq: int
    channel: str
    channel_type: str
    idempotency_key: str
    state: str  # pending | sending | retrying | delivered | failed
    attempts: int
    parts_sent: int
    next_attempt_at: datetime | None
    lease_until: datetime | None
    last_error: str
    created_at: datetime
    delivered_at: datetime | None
    content: str = ""


@dataclass(frozen=True, slots=True)
class AttemptView:
    number: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str  # sending | delivered | retry | failed | lost
    status: int | None
    error: str


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """How an attempt ended, to record on the delivery."""

    outcome: str  # delivered | retry | failed
    parts_sent: int
    status: int | None = None
    error: str = ""
    next_attempt_at: datetime | None = None  # for ``retry``
