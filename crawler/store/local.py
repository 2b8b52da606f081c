"""A crawl's database calls made in this process: :class:`LocalStore`.

What the crawl command's database child runs for the crawl process
(:mod:`crawler.store.child`), and what tests and the command's fallback use directly.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from crawler.store.calls import BegunRun
from storage import repository
from storage.database import Database
from storage.link_records import NewLinkRef
from storage.records import (
    NewArticle,
    RunTotals,
    SiteInfo,
    StoredCookie,
    StoreResult,
    Validators,
)

# Candidate copies compared without numpy (crawler.extract.story) before numpy is loaded for
# the faster comparison (crawler.extract.fingerprint): numpy costs the process 11-16 MB, and a
# site of distinct articles meets only a few false candidates (those whose fingerprints share
# a band by chance), each ~1.5 ms slower without it.  Both comparisons give the same answer.
PURE_COMPARISONS = 32


class LocalStore:
    """:class:`~crawler.store.calls.CrawlStore` on ``db``, in this process."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.comparisons = 0  # candidate copies compared (see same_story)

    def begin_run(
        self, site: SiteInfo, start_urls: Sequence[str], *, pid: int, host: str
    ) -> BegunRun:
        with self.db.session() as session:
            site_id = repository.sync_sites(session, [site])[site.name]
            run_id = repository.start_run(session, site_id, pid=pid, host=host)
            passes = repository.begin_passes(session, site_id, start_urls, run_id)
        return BegunRun(site_id=site_id, run_id=run_id, passes=passes)

    def known_urls(self, urls: Collection[str]) -> set[str]:
        with self.db.session() as session:
            return repository.known_urls(session, urls)

    def recent_articles(self, site_id: int, since: datetime) -> list[tuple[str, str]]:
        with self.db.session() as session:
            return repository.recent_articles(session, site_id, since)

    def get_validators(self, urls: Collection[str]) -> dict[str, Validators]:
        with self.db.session() as session:
            return repository.get_validators(session, urls)

    def save_articles(self, articles: Sequence[NewArticle], *, run_id: int) -> StoreResult:
        with self.db.session() as session:
            return repository.save_articles(
                session, articles, run_id=run_id, same_story=self.same_story
            )

    def save_validators(self, validators: Sequence[Validators]) -> None:
        with self.db.session() as session:
            repository.save_validators(session, validators)

    def record_link_refs(self, refs: Sequence[NewLinkRef]) -> int:
        with self.db.session() as session:
            return repository.record_link_refs(session, refs)

    def record_crawl_error(
        self, run_id: int, *, url: str, status: int | None, kind: str, message: str
    ) -> None:
        with self.db.session() as session:
            repository.record_crawl_error(
                session, run_id, url=url, status=status, kind=kind, message=message
            )

    def complete_passes(self, site_id: int, passes: Sequence[tuple[str, int]], run_id: int) -> None:
        with self.db.session() as session:
            for url, pages in passes:
                repository.complete_pass(session, site_id, url, run_id, pages_reached=pages)

    def finish_run(self, run_id: int, totals: RunTotals, *, outcome: str, message: str) -> None:
        with self.db.session() as session:
            repository.finish_run(session, run_id, totals, outcome=outcome, message=message)

    def live_cookies(self, domains: Collection[str]) -> list[StoredCookie]:
        with self.db.session() as session:
            return repository.live_cookies(session, domains)

    def live_agent(self, host: str) -> str | None:
        with self.db.session() as session:
            return repository.live_agent(session, host)

    def save_agent(self, host: str, user_agent: str, expires_at: datetime) -> None:
        with self.db.session() as session:
            repository.save_agent(session, host, user_agent, expires_at)

    def save_cookies(self, cookies: Sequence[StoredCookie], replace: Collection[str]) -> int:
        with self.db.session() as session:
            return repository.save_cookies(session, cookies, replace=replace)

    def spent(self) -> float:
        return 0.0

    def same_story(self, body_a: str, body_b: str) -> bool:
        """Whether a new article and a stored candidate are one story: the first
        :data:`PURE_COMPARISONS` without numpy, the rest with it."""
        self.comparisons += 1
        if self.comparisons <= PURE_COMPARISONS:
            from crawler.extract.story import is_same_story
        else:
            from crawler.extract.fingerprint import is_same_story
        return is_same_story(body_a, body_b)
