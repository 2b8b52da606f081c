"""Typed values of the link inventory that cross the storage seam, in and out.

Statuses are plain strings here (``storage`` imports nothing of the project); their meaning
is documented in ``crawler.linkcheck.records``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.tuple_pickle import tuple_pickled


@tuple_pickled
@dataclass(frozen=True, slots=True)
class NewLinkRef:
    """A link (or embedded resource) found on a crawled page."""

    url: str  # canonical: the identity of the link
    fetch_url: str  # absolute URL as written on the page: what the checker requests
    page_url: str  # canonical URL of the page that references it
    site_id: int  # the site of that page
    kind: str  # a, img, iframe, script, link, embed, attachment
    text: str = ""  # anchor text, alt or title


@dataclass(frozen=True, slots=True)
class LinkToCheck:
    """A link claimed for checking, with the state its next verdict is applied to."""

    id: int
    url: str
    fetch_url: str
    status: str
    status_since: datetime
    streak: int  # checks in a row that left it in ``status``
    consecutive_failures: int  # ``error`` results in a row
    failing_since: datetime | None  # time of the first of those


@dataclass(frozen=True, slots=True)
class LinkUpdate:
    """The new state of a checked link, and the check that led to it (for the history)."""

    id: int
    url: str
    status: str
    status_since: datetime
    http_status: int | None
    detail: str
    redirect_url: str | None
    checked_at: datetime
    next_check_at: datetime
    streak: int
    consecutive_failures: int
    failing_since: datetime | None
    previous_status: str
    result: str  # this check's own verdict (``status`` may differ: an error streak, a dead link)
    final_url: str | None = None
    method: str = ""
    elapsed_ms: int = 0
    event: str | None = None  # "newly_dead" or "recovered"
    article_gone: bool | None = None  # flag (True) or clear (False) an article at this URL


@dataclass(frozen=True, slots=True)
class LinkQuery:
    """Filters for listing links; ``statuses`` None means every status."""

    statuses: tuple[str, ...] | None = None
    site: str | None = None  # referenced from pages of this site (or an article of it)
    limit: int = 200


@dataclass(frozen=True, slots=True)
class LinkRefView:
    """A page that references a link."""

    page_url: str
    site: str
    kind: str
    text: str
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class LinkView:
    id: int
    url: str  # canonical
    fetch_url: str  # as written on a page
    status: str
    status_since: datetime
    http_status: int | None
    detail: str
    redirect_url: str | None
    first_seen: datetime
    last_seen: datetime
    last_checked_at: datetime | None
    next_check_at: datetime
    consecutive_failures: int
    failing_since: datetime | None
    refs: tuple[LinkRefView, ...]  # at most a few, most recently seen first
    ref_count: int  # all referencing pages
    article_id: int | None = None  # the stored article at this URL, if there is one


@dataclass(frozen=True, slots=True)
class LinkCheckView:
    """One entry of a link's check history."""

    checked_at: datetime
    result: str
    status: str  # the link's status after this check
    http_status: int | None
    detail: str
    final_url: str | None
    method: str
    elapsed_ms: int


@dataclass(frozen=True, slots=True)
class LinkEventView:
    """A link that became dead (``newly_dead``) or came back (``recovered``), for the digest."""

    id: int  # increasing: a digest reads the events after the last id it reported
    link_id: int
    url: str
    kind: str  # newly_dead | recovered
    status: str  # the status entered
    previous_status: str
    http_status: int | None
    detail: str
    at: datetime
    refs: tuple[LinkRefView, ...] = ()
