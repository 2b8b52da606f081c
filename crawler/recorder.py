"""The crawl run's bookkeeping: counts, errors, warnings and storage, for one site's run.

The spider and the pipeline talk to the database only through this object, so one place
decides what a run records and how its outcome is judged.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from crawler.site import Site
from storage import repository
from storage.database import Database
from storage.errors import StorageError
from storage.records import NewArticle, RunTotals, SiteInfo

log = logging.getLogger(__name__)

# Error kinds recorded on a run.
BLOCKED = "blocked"


@dataclass(frozen=True, slots=True)
class RunReport:
    """How a run ended, for the command line and the service."""

    site: str
    run_id: int
    outcome: str  # succeeded | warning | partial | failed | interrupted
    totals: RunTotals
    message: str
    seconds: float = 0.0


@dataclass
class RunRecorder:
    """Counts and records one crawl run of one site."""

    db: Database
    site: Site
    site_id: int
    run_id: int
    list_pages: int = 0
    article_pages: int = 0
    articles_seen: int = 0
    articles_new: int = 0
    errors: int = 0
    first_error: str = ""
    found: set[str] = field(default_factory=set)
    warnings: dict[str, None] = field(default_factory=dict)  # ordered, unique

    @classmethod
    def start(cls, db: Database, site: Site) -> RunRecorder:
        with db.session() as session:
            ids = repository.sync_sites(session, [SiteInfo(site.name, site.title)])
            run_id = repository.start_run(session, ids[site.name], pid=os.getpid())
        log.info("site %s run %d: started", site.name, run_id)
        return cls(db=db, site=site, site_id=ids[site.name], run_id=run_id)

    def known(self, canonical_urls: Iterable[str]) -> set[str]:
        """Which of these article URLs are already stored (they are not fetched again)."""
        urls = set(canonical_urls)
        self.found.update(urls)
        with self.db.session() as session:
            known = repository.known_urls(session, urls)
        self.articles_seen += len(known)
        return known

    def store(self, articles: list[NewArticle]) -> int:
        """Store fetched articles; returns how many were new."""
        with self.db.session() as session:
            new = repository.store_articles(session, articles, run_id=self.run_id)
        self.articles_new += len(new)
        self.articles_seen += len(articles) - len(new)
        return len(new)

    def error(self, url: str, *, kind: str, message: str, status: int | None = None) -> None:
        self.errors += 1
        if not self.first_error:
            self.first_error = f"{url}: {message}"
        log.warning("site %s run %d: %s %s: %s", self.site.name, self.run_id, kind, url, message)
        try:
            with self.db.session() as session:
                repository.record_crawl_error(
                    session, self.run_id, url=url, status=status, kind=kind, message=message
                )
        except StorageError:
            log.exception("site %s run %d: could not record an error", self.site.name, self.run_id)

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
        )

    def judge(self, close_reason: str) -> tuple[str, str]:
        """The run's outcome and a one-line message explaining it."""
        if close_reason not in ("finished",):
            return "interrupted", f"crawl stopped: {close_reason}"
        if self.list_pages == 0:
            why = self.first_error or "no list page was fetched"
            return "failed", f"no list page could be fetched ({why})"
        if self.errors:
            return "partial", f"{self.errors} page(s) failed; first: {self.first_error}"
        if not self.found:
            self.warn("list pages were fetched but held no links matching article_url_pattern")
        if self.warnings:
            return "warning", next(iter(self.warnings))
        return "succeeded", ""

    def finish(self, close_reason: str, seconds: float) -> RunReport:
        outcome, message = self.judge(close_reason)
        totals = self.totals()
        with self.db.session() as session:
            repository.finish_run(session, self.run_id, totals, outcome=outcome, message=message)
        log.info(
            "site %s run %d: %s in %.1fs: %d list pages, %d articles found, %d new, %d errors",
            self.site.name,
            self.run_id,
            outcome,
            seconds,
            totals.list_pages,
            totals.articles_found,
            totals.articles_new,
            totals.error_count,
        )
        return RunReport(
            site=self.site.name,
            run_id=self.run_id,
            outcome=outcome,
            totals=totals,
            message=message,
            seconds=seconds,
        )
