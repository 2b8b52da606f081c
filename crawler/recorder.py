"""The crawl run's bookkeeping: counts, errors, warnings and storage, for one site's run.

The spider and the pipeline talk to the database only through this object (and it through
the crawl's :class:`~crawler.store.calls.CrawlStore`), so one place decides what a run
records and how its outcome is judged.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from crawler.extract.canonical import canonicalize
from crawler.extract.records import PageLink
from crawler.extract.textclean import escape_controls
from crawler.guards import blocking
from crawler.passes import PassBook
from crawler.selector_stats import SelectorStats
from crawler.site import Site
from crawler.store.calls import CrawlStore
from storage.errors import StorageError
from storage.link_records import NewLinkRef
from storage.records import NewArticle, RunTotals, SiteInfo, StoreResult, Validators

if TYPE_CHECKING:
    from crawler.writer import Writer

log = logging.getLogger(__name__)

# Error kinds recorded on a run.
BLOCKED = "blocked"
REFUSED = "refused"  # the address policy refused the request: nothing was fetched
# Answers that fetching again will not change: the page was reached, it is just no article
# (or may not be fetched).  They do not leave a backlog (crawler.passes): a site that links
# one dead or non-HTML page would otherwise walk all its list pages on every run.
SETTLED_KINDS = frozenset({REFUSED, "not_html", "not_article", "robots"})
SETTLED_STATUSES = frozenset({404, 410})


def settled(kind: str, status: int | None) -> bool:
    """Whether a failed page is one that fetching again will not change."""
    return kind in SETTLED_KINDS or (kind == "http" and status in SETTLED_STATUSES)


# Links found on pages are stored for the link checker once this many are waiting.
LINK_BATCH = 2000


@dataclass(frozen=True, slots=True)
class RunReport:
    """How a run ended, for the command line and the service."""

    site: str
    run_id: int
    outcome: str  # succeeded | warning | partial | blocked | failed | interrupted
    totals: RunTotals
    message: str
    seconds: float = 0.0


@dataclass
class RunRecorder:
    """Counts and records one crawl run of one site."""

    db: CrawlStore  # the crawl's database calls (in the database child, or here)
    site: Site
    site_id: int
    run_id: int
    list_pages: int = 0
    article_pages: int = 0
    articles_seen: int = 0
    articles_new: int = 0
    errors: int = 0
    first_error: str = ""
    refused: int = 0  # requests the address policy refused (recorded, not failures)
    found: set[str] = field(default_factory=set)
    warnings: dict[str, None] = field(default_factory=dict)  # ordered, unique
    # incremental crawling and dedupe (see crawler.extract.fingerprint, storage.repository.dedupe)
    lists_not_modified: int = 0  # list pages answered 304
    articles_not_modified: int = 0  # re-checked articles answered 304
    articles_changed: int = 0  # re-checked articles whose body changed (a new revision)
    duplicates: int = 0  # new articles linked to another copy of their story
    seen: set[str] = field(default_factory=set)  # found articles that were stored already
    stored: int = 0  # articles written by this run
    # validators of pages not stored yet: list pages' until the run ends, articles' until
    # their batch is stored (then saved with it, so no article's stay for the whole run)
    list_validators: dict[str, Validators] = field(default_factory=dict)
    article_validators: dict[str, Validators] = field(default_factory=dict)
    # the link inventory (see crawler.linkcheck.checker): links of list and article pages, in
    # batches
    link_refs: list[NewLinkRef] = field(default_factory=list)
    # seconds spent per pipeline stage (list, extract, fingerprint, lookup, store, links):
    # wall-clock, and CPU time of the thread doing it (on a shared machine the CPU time is
    # the work; the wall-clock adds the waits for a core and, for store, the database)
    timings: dict[str, float] = field(default_factory=dict)
    cpu_timings: dict[str, float] = field(default_factory=dict)
    # resumable crawls: per start URL, walk past stored articles? completed? (crawler.passes)
    passes: PassBook = field(default_factory=PassBook)
    # configured selectors that missed, per page (crawler.selector_stats)
    selectors: SelectorStats = field(default_factory=SelectorStats)
    selector_misses: tuple[str, ...] = ()
    # guards met (crawler.guards.blocking): pages blocked, by reason; per host, its delay and how
    # many 420/429 answers it gave (crawler.guards.hostpace)
    blocked_reasons: dict[str, int] = field(default_factory=dict)
    pace: dict[str, tuple[float, int]] = field(default_factory=dict)
    # the thread that writes the run's batches (crawler.writer), set while the reactor runs;
    # None: each batch is written at once, on the caller's thread
    writer: Writer | None = None

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Add the time spent in the block to ``stage`` (reported when the run finishes)."""
        started, started_cpu = time.perf_counter(), time.thread_time()
        elsewhere = self.db.spent()  # the database child's CPU for this thread's calls
        try:
            yield
        finally:
            cpu = time.thread_time() - started_cpu + self.db.spent() - elsewhere
            self.add_time(stage, time.perf_counter() - started, cpu)

    def add_time(self, stage: str, seconds: float, cpu: float | None = None) -> None:
        """Add ``seconds`` of wall-clock time (and ``cpu`` seconds of CPU) to ``stage``."""
        self.timings[stage] = self.timings.get(stage, 0.0) + seconds
        if cpu is not None:
            self.cpu_timings[stage] = self.cpu_timings.get(stage, 0.0) + cpu

    @classmethod
    def start(cls, store: CrawlStore, site: Site) -> RunRecorder:
        """Record the run, and mark its start URLs' passes incomplete until it completes them."""
        start_urls = [canonicalize(url) for url in site.start_urls]
        begun = store.begin_run(
            SiteInfo(site.name, site.title), start_urls, pid=os.getpid(), host=socket.gethostname()
        )
        site_id, run_id = begun.site_id, begun.run_id
        log.info("site %s run %d: started", site.name, run_id)
        passes = PassBook.from_states(start_urls, begun.passes)
        for sp in passes.starts:
            if sp.backlog_run_id is not None:
                log.info(
                    "site %s run %d: the pass over %s left incomplete by run %d: walking on "
                    "past stored articles",
                    site.name,
                    run_id,
                    sp.url,
                    sp.backlog_run_id,
                )
        return cls(db=store, site=site, site_id=site_id, run_id=run_id, passes=passes)

    def known(self, canonical_urls: Iterable[str]) -> set[str]:
        """Which of these article URLs are already stored (they are not fetched again)."""
        urls = set(canonical_urls)
        self.found.update(urls)
        with self.timed("lookup"):
            known = self.db.known_urls(urls)
        self._saw(known)
        return known

    def recheck_targets(self) -> list[tuple[str, str]]:
        """``(canonical URL, URL)`` of the stored articles to re-check (``recheck_days``)."""
        if self.site.recheck_days <= 0:
            return []
        since = datetime.now(UTC) - timedelta(days=self.site.recheck_days)
        return self.db.recent_articles(self.site_id, since)

    def validators(self, canonical_urls: Iterable[str]) -> dict[str, Validators]:
        """The ETag / Last-Modified these pages were last served with, where known."""
        urls = set(canonical_urls)
        if not urls:
            return {}
        return self.db.get_validators(urls)

    def remember_validators(self, validators: Validators, *, list_page: bool) -> None:
        """Keep a page's validators, saved when the run finishes (list pages: if it succeeded)."""
        if validators.etag or validators.last_modified:
            target = self.list_validators if list_page else self.article_validators
            target[validators.url] = validators

    def add_links(self, page_url: str, links: Iterable[PageLink]) -> None:
        """Add a page's links and embedded resources to the link inventory (in batches)."""
        page = canonicalize(page_url)
        self.link_refs.extend(
            NewLinkRef(
                url=canonicalize(link.url),
                fetch_url=link.url,
                page_url=page,
                site_id=self.site_id,
                kind=link.kind,
                text=link.text,
            )
            for link in links
        )
        if len(self.link_refs) >= LINK_BATCH:
            self._write_links_soon()

    def _write_links_soon(self) -> None:
        """:meth:`flush_links`, on the writer's thread when there is one."""
        if self.writer is None:
            self.flush_links()
            return
        refs = self.take_links()
        written = self.writer.submit(lambda: self.write_links(refs))
        written.addCallback(lambda new: self.links_written(refs, new))
        written.addErrback(lambda failure: self.links_written(refs, StorageError(failure.value)))

    def flush_links(self) -> None:
        """Store the links waiting in the buffer; a failure is a warning of the run."""
        refs = self.take_links()
        if refs:
            self.links_written(refs, self.write_links(refs))

    def take_links(self) -> list[NewLinkRef]:
        """The links waiting in the buffer, to write (:meth:`write_links`)."""
        refs, self.link_refs = self.link_refs, []
        return refs

    def write_links(self, refs: list[NewLinkRef]) -> int | StorageError:
        """Write link references (on any thread): how many links were new, or the error."""
        try:
            with self.timed("links"):
                return self.db.record_link_refs(refs)
        except StorageError as exc:
            return exc

    def links_written(self, refs: list[NewLinkRef], new: int | StorageError) -> None:
        """Record what :meth:`write_links` did (on the reactor's thread)."""
        if isinstance(new, StorageError):
            log.error("site %s run %d: links not recorded: %s", self.site.name, self.run_id, new)
            self.warn(f"the links of some pages could not be recorded: {new}")
            return
        log.debug(
            "site %s run %d: %d link references recorded, %d new links",
            self.site.name,
            self.run_id,
            len(refs),
            new,
        )

    def store(self, articles: list[NewArticle]) -> int:
        """Store fetched articles (new, edited, copies of a story); returns how many were new."""
        validators = self.take_article_validators(articles)
        return self.stored_articles(articles, self.write_articles(articles, validators))

    def take_article_validators(self, articles: Iterable[NewArticle]) -> list[Validators]:
        """The validators of these articles, to save with them (and forget here)."""
        return [v for a in articles if (v := self.article_validators.pop(a.url, None))]

    def write_articles(
        self, articles: list[NewArticle], validators: list[Validators]
    ) -> StoreResult:
        """Write a batch of articles, then their validators (on any thread; raises
        :class:`StorageError` when the articles were not stored)."""
        with self.timed("store"):
            result = self.db.save_articles(articles, run_id=self.run_id)
        if validators:
            with self.timed("store"):
                self._write_validators(validators)
        return result

    def stored_articles(self, articles: list[NewArticle], result: StoreResult) -> int:
        """Record what :meth:`write_articles` stored (on the reactor's thread); returns how
        many articles were new."""
        self.stored += len(articles)
        unchanged = set(result.unchanged)
        self.passes.stored(a.url for a in articles if a.url not in unchanged)
        self.passes.forget(a.url for a in articles)
        self.articles_new += len(result.new)
        self.articles_changed += len(result.changed)
        self.duplicates += sum(1 for new, earliest in result.duplicates if new != earliest)
        self._saw(url for url in result.unchanged if url in self.found)
        if result.changed:
            log.info(
                "site %s run %d: %d article(s) edited since stored (ids %s)",
                self.site.name,
                self.run_id,
                len(result.changed),
                ", ".join(map(str, result.changed)),
            )
        return len(result.new)

    def _saw(self, urls: Iterable[str]) -> None:
        """Count stored articles found again, each once per run."""
        before = len(self.seen)
        self.seen.update(urls)
        self.articles_seen += len(self.seen) - before

    def error(
        self,
        url: str,
        *,
        kind: str,
        message: str,
        status: int | None = None,
        start: int | None = None,
    ) -> None:
        """Record a page that failed; ``start``: the start URL whose pass it makes incomplete
        (None: unknown, all of them; ``crawler.passes.NO_START``: none)."""
        # a hostile URL or server text is shown as written, never run by a terminal
        url, message = escape_controls(url), escape_controls(message)
        if kind == REFUSED:  # the address policy's choice, not a failure of the site
            self.refused += 1
        else:
            self.errors += 1
        if not settled(kind, status):
            self.passes.fail(start)
        if not self.first_error:
            self.first_error = f"{url}: {message}"
        log.warning("site %s run %d: %s %s: %s", self.site.name, self.run_id, kind, url, message)
        try:
            self.db.record_crawl_error(
                self.run_id, url=url, status=status, kind=kind, message=message
            )
        except StorageError as exc:  # expected in an outage: one line, no traceback
            log.error(
                "site %s run %d: could not record an error: %s", self.site.name, self.run_id, exc
            )

    def blocked(
        self, url: str, reason: str, detail: str, *, status: int | None, start: int | None
    ) -> None:
        """A page a guard answered instead of the site (``reason``: crawler.guards.blocking)."""
        self.blocked_reasons[reason] = self.blocked_reasons.get(reason, 0) + 1
        self.error(url, kind=BLOCKED, status=status, message=f"{reason}: {detail}", start=start)

    def host_pace(self, host: str, delay: float, throttled: int) -> None:
        """A host's delay between requests changed (kept for the run's message)."""
        self.pace[host] = (delay, throttled)

    def selector_page(self, kind: str, warnings: tuple[str, ...] | list[str]) -> None:
        """A page configured selectors were tried on, with the selectors that missed."""
        self.selectors.page(kind, warnings)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            log.warning("site %s run %d: %s", self.site.name, self.run_id, message)
        self.warnings.setdefault(message, None)

    def totals(self) -> RunTotals:
        return RunTotals(
            list_pages=self.list_pages,
            article_pages=self.article_pages,
            articles_found=len(self.found),
            articles_new=self.articles_new,
            articles_seen=self.articles_seen,
            error_count=self.errors,
            warnings=tuple(self.warnings),
            articles_changed=self.articles_changed,
            lists_not_modified=self.lists_not_modified,
            selector_misses=self.selector_misses,
        )

    def judge(self, close_reason: str) -> tuple[str, str]:
        """The run's outcome and a one-line message explaining it."""
        drift, counted = self.selectors.judge()
        self.selector_misses = tuple(counted)
        for line in drift:
            self.warn(f"selector drift: {line}")
        if close_reason not in ("finished",):
            return "interrupted", f"crawl stopped: {close_reason}"
        blocked = sum(self.blocked_reasons.values())
        if blocked and blocked == self.errors and not self.articles_new and not self.stored:
            # the site answered only with guards: it is up, and refuses the crawler
            reason = blocking.main_reason(self.blocked_reasons)
            log.warning(
                "site %s run %d: blocked (%s) on %d page(s)",
                self.site.name,
                self.run_id,
                reason,
                blocked,
            )
            return "blocked", blocking.hint(self.site, reason)
        if self.list_pages == 0:
            why = self.first_error or "no list page was fetched"
            return "failed", f"no list page could be fetched ({why})"
        if self.errors:
            return "partial", f"{self.errors} page(s) failed; first: {self.first_error}"
        if self.refused:
            self.warn(f"{self.refused} request(s) to internal addresses refused")
        if not self.found and self.list_pages > self.lists_not_modified:
            self.warn("list pages were fetched but held no links matching article_url_pattern")
        if self.warnings:
            return "warning", next(iter(self.warnings))
        return "succeeded", ""

    def finish(self, close_reason: str, seconds: float) -> RunReport:
        if self.writer is not None:  # its writes are done: the item pipeline waited for them
            self.writer.close()
            self.writer = None
        self.flush_links()
        if close_reason == "finished":
            for start, url in self.passes.unanswered():
                self.error(
                    url,
                    kind="no_answer",
                    message="dropped before it was answered (neither a response nor an error)",
                    start=start,
                )
        outcome, message = self.judge(close_reason)
        pace = blocking.pace_note(self.pace)
        if pace:
            message = f"{message}; {pace}" if message else pace
        self._save_validators(complete=close_reason == "finished" and not self.errors)
        if close_reason == "finished":
            recovered = self._complete_passes()
            if recovered:
                message = f"{message}; {recovered}" if message else recovered
        totals = self.totals()
        self.db.finish_run(self.run_id, totals, outcome=outcome, message=message)
        log.info(
            "site %s run %d: %s in %.1fs: %d list pages (%d not modified), %d articles found, "
            "%d new (%d copies of a stored story), %d edited, %d errors",
            self.site.name,
            self.run_id,
            outcome,
            seconds,
            totals.list_pages,
            self.lists_not_modified,
            totals.articles_found,
            totals.articles_new,
            self.duplicates,
            totals.articles_changed,
            totals.error_count,
        )
        log.info(
            "site %s run %d: timings: %s",
            self.site.name,
            self.run_id,
            json.dumps({k: round(v, 4) for k, v in sorted(self.timings.items())}),
        )
        log.info(
            "site %s run %d: cpu timings: %s",
            self.site.name,
            self.run_id,
            json.dumps({k: round(v, 4) for k, v in sorted(self.cpu_timings.items())}),
        )
        return RunReport(
            site=self.site.name,
            run_id=self.run_id,
            outcome=outcome,
            totals=totals,
            message=message,
            seconds=seconds,
        )

    def _complete_passes(self) -> str:
        """Mark the passes this run completed (its articles are stored by now: the pipeline
        flushes before the spider's close is signalled); says what a backlog gave back."""
        done = self.passes.completed()
        try:
            self.db.complete_passes(self.site_id, [(sp.url, sp.pages) for sp in done], self.run_id)
        except StorageError as exc:  # the passes stay incomplete: the next run walks on
            log.error(
                "site %s run %d: could not record its passes: %s", self.site.name, self.run_id, exc
            )
            return ""
        for sp in self.passes.starts:
            if not sp.ended or sp.failed:
                log.info(
                    "site %s run %d: the pass over %s is incomplete (%s): the next run walks "
                    "on past stored articles",
                    self.site.name,
                    self.run_id,
                    sp.url,
                    "a page failed" if sp.failed else "its list pages were not all walked",
                )
        runs = self.passes.backlog_runs()
        if not self.passes.recovered or not runs:
            return ""
        by = ", ".join(map(str, runs))
        text = f"recovered {self.passes.recovered} articles missed by run {by}"
        log.info("site %s run %d: %s", self.site.name, self.run_id, text)
        return text

    def _save_validators(self, *, complete: bool) -> None:
        """After a complete run, save the list pages' validators.

        A list page's validators are kept only when every page of the run was fetched and
        stored: otherwise the next run would be told "304 Not Modified" and never retry the
        articles that failed.  (Articles' are saved as they are stored.)
        """
        if complete and self.list_validators:
            self._write_validators(list(self.list_validators.values()))

    def _write_validators(self, chosen: list[Validators]) -> None:
        try:
            self.db.save_validators(chosen)
        except StorageError as exc:
            log.error(
                "site %s run %d: could not save validators: %s", self.site.name, self.run_id, exc
            )
