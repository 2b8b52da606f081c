"""Typed values that cross the storage seam, in and out.  Callers never see ORM rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class SiteInfo:
    name: str
    title: str


@dataclass(frozen=True, slots=True)
class NewArticle:
    """An article to store; ``url`` is already canonical."""

    site_id: int
    url: str
    fetched_url: str
    title: str
    publish_time: datetime | None
    source: str | None
    author: str | None
    body: str
    pretitle: str | None = None
    subtitle: str | None = None
    editor: str | None = None


@dataclass(frozen=True, slots=True)
class RunTotals:
    """What a crawl run did, reported when it finishes."""

    list_pages: int = 0
    article_pages: int = 0
    articles_found: int = 0
    articles_new: int = 0
    articles_seen: int = 0
    error_count: int = 0
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RunView:
    id: int
    site: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    list_pages: int
    article_pages: int
    articles_found: int
    articles_new: int
    articles_seen: int
    error_count: int
    warnings: tuple[str, ...]
    message: str


@dataclass(frozen=True, slots=True)
class ErrorView:
    url: str
    status: int | None
    kind: str
    message: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ArticleView:
    id: int
    site: str
    url: str  # as fetched (a link that works)
    canonical_url: str  # the identity key
    title: str
    pretitle: str | None
    subtitle: str | None
    publish_time: datetime | None
    source: str | None
    author: str | None
    editor: str | None
    body: str
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class ArticleQuery:
    """Filters for listing articles; every field narrows the result when set."""

    site: str | None = None
    since: datetime | None = None  # publish time (or first seen when unknown) at or after
    search: str | None = None  # substring of title or body
    limit: int = 50


@dataclass(frozen=True, slots=True)
class SiteSummary:
    name: str
    title: str
    article_count: int
    last_run: RunView | None
