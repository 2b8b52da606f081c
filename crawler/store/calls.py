"""The calls a crawl makes to its database (:class:`CrawlStore`), and what they return.

Their arguments and results are plain records (``storage.records``), so that a call can be
made in another process (:mod:`crawler.store.child`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from storage.link_records import NewLinkRef
from storage.records import (
    NewArticle,
    PassState,
    RunTotals,
    SiteInfo,
    StoredCookie,
    StoreResult,
    Validators,
)


@dataclass(frozen=True, slots=True)
class BegunRun:
    """A run just recorded: its site's id, its own, and how each start URL's last pass ended."""

    site_id: int
    run_id: int
    passes: dict[str, PassState]


class CrawlStore(Protocol):
    """A crawl's database calls; each is one transaction, and a failure a ``StorageError``."""

    def begin_run(
        self, site: SiteInfo, start_urls: Sequence[str], *, pid: int, host: str
    ) -> BegunRun:
        """Record a run of ``site`` (its row made or updated) and mark its start URLs'
        passes incomplete for it."""
        ...

    def known_urls(self, urls: Collection[str]) -> set[str]:
        """Which of these canonical URLs are stored articles."""
        ...

    def recent_articles(self, site_id: int, since: datetime) -> list[tuple[str, str]]:
        """``(canonical URL, URL)`` of the site's articles to re-check."""
        ...

    def get_validators(self, urls: Collection[str]) -> dict[str, Validators]:
        """The validators stored for these canonical URLs."""
        ...

    def save_articles(self, articles: Sequence[NewArticle], *, run_id: int) -> StoreResult:
        """Store a batch (new articles, edits, copies of a story)."""
        ...

    def save_validators(self, validators: Sequence[Validators]) -> None:
        """Insert or replace validators."""
        ...

    def record_link_refs(self, refs: Sequence[NewLinkRef]) -> int:
        """Record links found on pages; returns how many links were new."""
        ...

    def record_crawl_error(
        self, run_id: int, *, url: str, status: int | None, kind: str, message: str
    ) -> None:
        """Record a page of the run that failed."""
        ...

    def complete_passes(self, site_id: int, passes: Sequence[tuple[str, int]], run_id: int) -> None:
        """Mark these ``(start URL, pages reached)`` passes complete."""
        ...

    def finish_run(self, run_id: int, totals: RunTotals, *, outcome: str, message: str) -> None:
        """Record how the run ended."""
        ...

    def live_cookies(self, domains: Collection[str]) -> list[StoredCookie]:
        """The unexpired cookies kept for these cookie-jar domains."""
        ...

    def live_agent(self, host: str) -> str | None:
        """The User-Agent kept for ``host`` with its browser cookies, while they live."""
        ...

    def save_agent(self, host: str, user_agent: str, expires_at: datetime) -> None:
        """Keep the User-Agent a browser got ``host``'s cookies with."""
        ...

    def save_cookies(self, cookies: Sequence[StoredCookie], replace: Collection[str]) -> int:
        """Insert or replace cookies (the jar is the truth for ``replace``'s domains)."""
        ...

    def spent(self) -> float:
        """CPU seconds this thread's calls have cost in another process (0: none)."""
        ...
