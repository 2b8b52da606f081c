"""Typed values that cross the storage seam, in and out.  Callers never see ORM rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from storage.search_terms import TermText
from storage.tuple_pickle import tuple_pickled

# How precisely an article's publish time is known: the page showed the time of day
# ("minute"), the date only ("day"), or no date at all and the URL's date was used ("url").
# For "day" and "url" the stored time is midnight Beijing time and must not be shown.
TimePrecision = Literal["minute", "day", "url"]
DATE_ONLY_PRECISIONS: frozenset[str] = frozenset({"day", "url"})


@dataclass(frozen=True, slots=True)
class SiteInfo:
    name: str
    title: str


@tuple_pickled
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
    body_hash: int | None = None  # signed 64-bit hash of the normalised body
    bands: tuple[int, ...] = ()  # near-duplicate index keys; empty: never linked as a copy
    publish_time_precision: TimePrecision | None = None  # None: no time, or not recorded
    terms: TermText | None = None  # the search index's terms of title and body (None: computed)


@tuple_pickled
@dataclass(frozen=True, slots=True)
class StoreResult:
    """What storing a batch of articles did."""

    new: tuple[int, ...] = ()  # ids of rows inserted
    changed: tuple[int, ...] = ()  # ids of stored rows whose body changed: a new revision
    unchanged: tuple[str, ...] = ()  # canonical URLs already stored with the same body
    duplicates: tuple[tuple[int, int], ...] = ()  # (new id, id of the earliest copy)


@tuple_pickled
@dataclass(frozen=True, slots=True)
class Validators:
    """HTTP validators a page was served with, to ask for it again conditionally."""

    url: str  # canonical
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True, slots=True)
class StoryCopy:
    """Another stored copy of the same story (``govwatch show``: "also published by")."""

    id: int
    site: str
    url: str  # as fetched
    title: str
    publish_time: datetime | None
    first_seen: datetime
    publish_time_precision: str | None = None


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
    articles_changed: int = 0  # stored articles re-checked and found edited (not a column)
    # configured selectors that missed on some pages, one per line (not enough for a warning)
    selector_misses: tuple[str, ...] = ()
    lists_not_modified: int = 0  # list pages answered 304 Not Modified (not a column)


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
    selector_misses: tuple[str, ...] = ()


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
    duplicate_of: int | None = None  # id of the earliest copy of the same story
    revision: int = 0  # edits seen since it was first stored
    changed_at: datetime | None = None  # when the last edit was seen
    gone_at: datetime | None = None  # its page answered 404/410 (or a soft 404) since then
    gone_status: int | None = None  # the HTTP status it answered with
    publish_time_precision: str | None = None  # minute | day | url; None: not recorded


@dataclass(frozen=True, slots=True)
class ArticleCursor:
    """Where a page of articles ended, for keyset pagination: the sort key of its last row
    (publish time, newest first and unknown last; then first seen; then id).  On a page of
    search results, which rank title hits first, ``title_hit`` says whether it ended among
    them (``None``: a page without search)."""

    publish_time: datetime | None
    first_seen: datetime
    id: int
    title_hit: bool | None = None


@dataclass(frozen=True, slots=True)
class ArticleQuery:
    """Filters for listing articles; every field narrows the result when set."""

    site: str | None = None
    since: datetime | None = None  # publish time (or first seen when unknown) at or after
    search: str | None = None  # substring of title or body
    limit: int = 50
    duplicates: str = "show"  # show: every copy; hide: earliest copies only; only: the others
    until: datetime | None = None  # publish time (or first seen when unknown) before
    after: ArticleCursor | None = None  # keyset: only rows sorted after this one


@dataclass(frozen=True, slots=True)
class SiteSummary:
    name: str
    title: str
    article_count: int
    last_run: RunView | None


# The background service (govwatch run, govwatch status, /metrics).


@dataclass(frozen=True, slots=True)
class PassState:
    """A start URL's last pass over its list pages, as a run found it when it started."""

    start_url: str  # canonical
    complete: bool  # False also for a start URL never crawled
    backlog_run_id: int | None  # the run that first left it incomplete (None: complete or new)
    pages_reached: int  # list pages walked by the last complete pass


@dataclass(frozen=True, slots=True)
class RunningRun:
    """A crawl run still marked ``running``, with the process id that runs it."""

    id: int
    site: str
    pid: int | None
    started_at: datetime
    host: str | None = None  # where that process runs (None: recorded before migration 0006)


@dataclass(frozen=True, slots=True)
class MissedRunView:
    """A scheduled run that did not happen, and why (``reason``: misfire, overlap, busy,
    downtime, shutdown or error)."""

    job: str
    scheduled_at: datetime | None
    recorded_at: datetime
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class JobState:
    """A service job as the leading ``govwatch run`` last recorded it."""

    name: str
    schedule: str
    next_run_at: datetime | None
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_result: str
    last_message: str


@dataclass(frozen=True, slots=True)
class ServiceInstanceView:
    id: int
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None


@dataclass(frozen=True, slots=True)
class SiteHealth:
    """What ``govwatch status`` judges a site by."""

    site: str
    last_run: RunView | None  # the newest finished run
    running: RunningRun | None  # a run in progress
    failures_in_a_row: int  # newest runs that failed, since the last one that did not
    first_run_at: datetime | None  # when the site's first run started
    last_new_article_at: datetime | None  # when the site's newest article was first stored

    def quiet_since(self, now: datetime, threshold: timedelta) -> datetime | None:
        """Since when the site has yielded no new article (or none ever), when that is at
        least ``threshold`` ago and a crawl has run since — the mark of a broken selector."""
        since = self.last_new_article_at or self.first_run_at
        last = self.last_run
        if since is None or last is None or last.started_at <= since:
            return None
        return since if now - since >= threshold else None


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """Counts for ``/metrics``: each tuple is (labels..., value)."""

    runs: tuple[tuple[str, str, int], ...]  # site, outcome, runs
    articles: tuple[tuple[str, int], ...]  # site, stored articles
    errors: tuple[tuple[str, int], ...]  # site, page errors recorded by runs
    new_articles: tuple[tuple[str, int], ...]  # site, articles stored as new by runs
    last_success: tuple[tuple[str, datetime], ...]  # site, end of newest successful run
    missed: tuple[tuple[str, str, int], ...]  # job, reason, missed runs
    links: tuple[tuple[str, int], ...] = ()  # link status, links
    deliveries: tuple[tuple[str, int], ...] = ()  # digest delivery state, deliveries
    last_runs: tuple[tuple[str, str, str], ...] = ()  # site, outcome, message of the newest


@dataclass(frozen=True, slots=True)
class StoredCookie:
    """A cookie kept for a host between runs (``domain`` as the cookie jar holds it)."""

    domain: str
    path: str
    name: str
    value: str
    expires_at: datetime
    secure: bool = False
