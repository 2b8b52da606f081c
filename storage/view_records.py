"""Typed values the read-only web view gets from storage (``storage.repository.web_views``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class PageLink:
    """A link or embedded resource on an article's page, with the link's current state."""

    url: str  # as last written on a page (what the checker requests)
    kind: str  # a, img, iframe, script, link, embed, attachment
    text: str
    status: str  # unchecked | ok | redirected | dead | soft_404 | error | blocked | refused
    http_status: int | None
    detail: str
    status_since: datetime
    last_checked_at: datetime | None


@dataclass(frozen=True, slots=True)
class DayCount:
    """Articles of a site first stored on one day (Beijing time)."""

    day: date
    count: int
