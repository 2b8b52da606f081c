"""The link checker job: check the links that are due, record verdicts, events and flags.

:func:`run_link_checks` is what ``govwatch check-links`` and the background service call
(plain and blocking: it runs its own asyncio loop, so call it from a thread or a child
process, not from inside a running loop).  One run:

1. adds stored articles missing from the inventory (their pages are checked too);
2. claims the links due for a check (``next_check_at`` passed), oldest first, at most
   ``limit``, optionally only those referenced from one site's pages — claimed links are
   leased, so a second run at the same time takes other links;
3. checks them concurrently with :class:`~crawler.linkcheck.fetch.LinkFetcher` (per-host
   politeness, a global limit, the SSRF guard), one task per host and slot;
4. applies each verdict to the link's state (:mod:`crawler.linkcheck.state`: dead threshold,
   re-check interval, newly-dead / recovered events, the article gone flag) and stores the
   results in batches as they come in;
5. on interruption, gives the links it did not finish back (due at once).

Cookies (:class:`crawler.net.hostcookies.CheckerCookies`): the configured sites' hosts (``hosts``,
each with its cookie rule) start with the cookies the crawl kept for them, get their rule
applied before each request, and their cookies are kept again when the run ends, so a
guarded site's pages are checked as the crawl fetches them.  A guard's answer (a challenge
or captcha page, 412/420/429, a 521 script) is ``blocked``, never ``dead``.

A link's failure is a verdict, never an exception; a database failure ends the run with a
message in the report (and is logged), so a service job records it and carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from crawler.linkcheck.fetch import LinkFetcher, host_key
from crawler.linkcheck.records import BROKEN, CheckProgress, CheckReport, LinkSettings, Verdict
from crawler.linkcheck.state import apply_verdict
from crawler.net.hostcookies import CheckerCookies
from storage import repository
from storage.database import Database
from storage.errors import StorageError
from storage.link_records import LinkToCheck, LinkUpdate

log = logging.getLogger(__name__)

# Claimed links are not due again for this long (unless the run finishes or gives them back).
LEASE = timedelta(hours=6)
SAVE_BATCH = 200
SAVE_INTERVAL_SECONDS = 2.0

Clock = Callable[[], datetime]
Progress = Callable[[CheckProgress], None]


def utc_now() -> datetime:
    return datetime.now(UTC)


def run_link_checks(
    db: Database,
    settings: LinkSettings,
    site: str | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
    *,
    clock: Clock = utc_now,
    hosts: Mapping[str, str | None] | None = None,
) -> CheckReport:
    """Check the links that are due now and store the results (see the module docstring).

    ``site``: only links referenced from that site's pages (or its stored articles);
    ``limit``: at most that many links; ``progress``: called after each checked link;
    ``clock``: the time (tests move it forward); ``hosts``: the configured sites' host names,
    each with its cookie rule's name or ``None`` (their cookies are loaded and kept).
    Raises :class:`StorageError` only when the due links cannot even be read; later
    database failures end the run with a message.
    """
    cookies = CheckerCookies(hosts)
    return asyncio.run(_Run(db, settings, site, limit, progress, clock, cookies).run())


@dataclass
class _Run:
    db: Database
    settings: LinkSettings
    site: str | None
    limit: int | None
    progress: Progress | None
    clock: Clock
    cookies: CheckerCookies
    claimed: dict[int, LinkToCheck] = field(default_factory=dict)
    saved: set[int] = field(default_factory=set)
    statuses: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    checked: int = 0
    broken: int = 0
    errors: int = 0
    articles_gone: int = 0
    failure: str = ""
    # "host not found" is only believed once some host has resolved in the same run: with a
    # broken resolver every external link would otherwise be declared dead at once
    resolved_any: bool = False
    unresolved: list[tuple[LinkToCheck, Verdict]] = field(default_factory=list)

    @property
    def scope(self) -> str:
        return f"site {self.site}" if self.site else "all sites"

    async def run(self) -> CheckReport:
        started = time.monotonic()
        # DNS lookups (the resolver's getaddrinfo) and database writes run in threads: as
        # many as requests may be in flight, not the default handful
        workers = self.settings.concurrent_requests + 2
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="linkcheck")
        )
        adopted, links = await asyncio.to_thread(self._claim)
        self.claimed = {link.id: link for link in links}
        log.info(
            "link check (%s): %d links due, %d articles added", self.scope, len(links), adopted
        )
        try:
            if links:
                await self._check_all(links)
        finally:
            self._release_unfinished()
        seconds = time.monotonic() - started
        report = CheckReport(
            due=len(links),
            checked=self.checked,
            by_status=tuple(sorted(self.statuses.items())),
            newly_dead=self.events["newly_dead"],
            recovered=self.events["recovered"],
            articles_gone=self.articles_gone,
            seconds=seconds,
            adopted=adopted,
            message=self.failure,
        )
        log.info(
            "link check (%s): %d links checked in %.1fs (%.1f/s): %s; %d newly dead, %d recovered",
            self.scope,
            report.checked,
            seconds,
            report.links_per_second,
            ", ".join(f"{k} {v}" for k, v in report.by_status) or "nothing",
            report.newly_dead,
            report.recovered,
        )
        return report

    def _claim(self) -> tuple[int, list[LinkToCheck]]:
        now = self.clock()
        with self.db.session() as session:
            adopted = repository.adopt_article_links(session, now=now)
        with self.db.session() as session:
            links = repository.claim_due_links(
                session, now=now, lease_until=now + LEASE, site=self.site, limit=self.limit
            )
        return adopted, links

    async def _check_all(self, links: list[LinkToCheck]) -> None:
        by_host: dict[str, deque[LinkToCheck]] = defaultdict(deque)
        for link in links:
            by_host[host_key(link.fetch_url)].append(link)
        results: asyncio.Queue[tuple[LinkToCheck, Verdict] | None] = asyncio.Queue()
        writer = asyncio.create_task(self._write(results))
        loaded = await asyncio.to_thread(self.cookies.load, self.db)
        if loaded:
            log.info("link check (%s): %d stored cookie(s) loaded", self.scope, loaded)
        try:
            async with LinkFetcher(self.settings, self.cookies) as fetcher:
                per_host = self.settings.concurrent_requests_per_host
                workers = [
                    self._work(fetcher, queue, results)
                    for queue in by_host.values()
                    for _ in range(min(per_host, len(queue)))
                ]
                await asyncio.gather(*workers)
            for link, verdict in self.unresolved:
                await results.put((link, self._judge_unresolved(verdict)))
        finally:
            await results.put(None)
            await writer
            await asyncio.to_thread(self.cookies.save, self.db)

    def _judge_unresolved(self, verdict: Verdict) -> Verdict:
        if self.resolved_any:
            return verdict
        return replace(
            verdict,
            status="error",
            detail=f"{verdict.detail} (not trusted: no host resolved in this run; "
            "the resolver may be down)",
        )

    async def _work(
        self,
        fetcher: LinkFetcher,
        queue: deque[LinkToCheck],
        results: asyncio.Queue[tuple[LinkToCheck, Verdict] | None],
    ) -> None:
        while queue and not self.failure:
            link = queue.popleft()
            try:
                verdict = await fetcher.check(link.fetch_url)
            except Exception as exc:  # a bug: record it on the link, go on with the others
                log.exception("link check (%s): checking %s failed", self.scope, link.fetch_url)
                verdict = Verdict("error", None, f"internal error: {type(exc).__name__}: {exc}")
            if verdict.host_not_found:
                self.unresolved.append((link, verdict))  # judged when the run has ended
                continue
            if verdict.http_status is not None:
                self.resolved_any = True
            await results.put((link, verdict))

    async def _write(self, results: asyncio.Queue[tuple[LinkToCheck, Verdict] | None]) -> None:
        """Store verdicts as they come: every ``SAVE_BATCH``, or ``SAVE_INTERVAL_SECONDS``
        after the first unsaved one, and at the end."""
        batch: list[tuple[LinkToCheck, Verdict]] = []
        deadline = 0.0
        while True:
            wait = max(0.0, deadline - time.monotonic()) if batch else None
            try:
                item = await asyncio.wait_for(results.get(), timeout=wait)
            except TimeoutError:  # the oldest unsaved verdict has waited long enough
                await self._save(batch)
                batch = []
                continue
            if item is None:
                break
            batch.append(item)
            self._count(item[1])
            if len(batch) == 1:
                deadline = time.monotonic() + SAVE_INTERVAL_SECONDS
            if len(batch) >= SAVE_BATCH:
                await self._save(batch)
                batch = []
        if batch:
            await self._save(batch)

    def _count(self, verdict: Verdict) -> None:
        self.checked += 1
        self.errors += verdict.status == "error"
        self.broken += verdict.status in BROKEN
        if self.progress is not None:
            total = len(self.claimed)
            self.progress(CheckProgress(self.checked, total, self.broken, self.errors))

    async def _save(self, batch: list[tuple[LinkToCheck, Verdict]]) -> None:
        if self.failure:
            return
        now = self.clock()
        updates = [apply_verdict(link, verdict, now, self.settings) for link, verdict in batch]
        try:
            gone = await asyncio.to_thread(self._store, updates)
        except StorageError as exc:
            self.failure = f"could not store link checks: {exc}"
            log.error("link check (%s): %s", self.scope, self.failure)
            return
        self.articles_gone += gone
        for update in updates:
            self.saved.add(update.id)
            self.statuses[update.status] += 1
            if update.event:
                self.events[update.event] += 1
                log.info(
                    "link check (%s): %s %s: %s (was %s)",
                    self.scope,
                    update.event.replace("_", " "),
                    update.url,
                    update.detail,
                    update.previous_status,
                )

    def _store(self, updates: list[LinkUpdate]) -> int:
        with self.db.session() as session:
            return repository.save_link_updates(
                session, updates, history_per_link=self.settings.history_per_link
            )

    def _release_unfinished(self) -> None:
        left = [link_id for link_id in self.claimed if link_id not in self.saved]
        if not left:
            return
        log.warning("link check (%s): %d links not checked, given back", self.scope, len(left))
        with contextlib.suppress(StorageError), self.db.session() as session:
            repository.release_links(session, left, when=self.clock())
