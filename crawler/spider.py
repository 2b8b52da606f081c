"""The one generic, config-driven spider: list pages -> article pages -> items.

It follows a site's list pages (one page after another, up to ``max_list_pages``), picks
the links that match ``article_url_pattern``, skips those already stored, and extracts
each new article.  Failures after retries are recorded on the run, never dropped.

Incremental: list pages are asked for with the validators they were last served with (a 304
ends that start URL's crawl), pagination stops at a list page whose articles are all stored
(``stop_at_known_page``), and stored articles are fetched again only to re-check the recent
ones for edits (``recheck_days``; conditionally, so an unchanged one costs a 304).

Resumable: both stopping rules hold only when the last pass over a start URL's list pages was
complete (``crawler.passes``).  After a run that failed pages or was cut short, list pages
are asked for unconditionally and walked past stored articles until a pass completes.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import scrapy
from lxml import etree
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import (
    ConnectError,
    ConnectionLost,
    DNSLookupError,
    TCPTimedOutError,
    TimeoutError,
)
from twisted.python.failure import Failure

from crawler.extract.canonical import canonicalize
from crawler.extract.decode import decode_html
from crawler.extract.dom import parse_html
from crawler.extract.errors import ExtractError
from crawler.extract.links import extract_links
from crawler.extract.pagekind import is_challenge_page
from crawler.extract.sniff import not_html_reason
from crawler.guards.blocking import reason_for
from crawler.guards.challenge import ChallengeBlocked
from crawler.items import ArticleItem
from crawler.listing import parse_list_page
from crawler.net.addresses import AddressRefusedError
from crawler.offload import PageExtractor
from crawler.passes import NO_START
from crawler.recorder import BLOCKED, REFUSED, RunRecorder
from crawler.site import Site
from storage.records import Validators

log = logging.getLogger(__name__)

BLOCKING_STATUSES = frozenset({401, 403, 412, 420, 429, 521})
NOT_MODIFIED = 304
NOT_HTML = "not_html"  # error kind of a response whose body is not an HTML page


class SiteSpider(scrapy.Spider):
    """Crawls one configured :class:`~crawler.site.Site` for one recorded run."""

    name = "govwatch"

    def __init__(
        self,
        site: Site,
        recorder: RunRecorder,
        extractor: PageExtractor | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=f"govwatch-{site.name}", **kwargs)
        self.site = site
        self.recorder = recorder
        self.extractor = extractor or PageExtractor(workers=0)
        # One bound method per callback, reused by every request: Scrapy caches its check of
        # each callback's source in a weak-keyed cache, so a fresh bound method per request
        # made it re-parse the source of the callback for every page (~2 ms each).
        self._on_list = self.parse_list
        self._on_article = self.parse_article
        self._on_error = self.on_error

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for start, url in enumerate(self.site.start_urls):
            yield self._list_request(url, page_index=0, start=start)
        for request in self._recheck_requests():
            yield request

    def _recheck_requests(self) -> list[scrapy.Request]:
        """Conditional requests for the stored articles recent enough to re-check for edits."""
        targets = self.recorder.recheck_targets()
        if targets:
            log.info(
                "site %s run %d: re-checking %d recent article(s) for edits",
                self.site.name,
                self.recorder.run_id,
                len(targets),
            )
        previous = self.recorder.validators(canonical for canonical, _ in targets)
        return [
            scrapy.Request(
                url,
                callback=self._on_article,
                errback=self._on_error,
                cb_kwargs={"canonical_url": canonical},
                headers=_conditional_headers(previous.get(canonical)),
                meta={
                    "govwatch_kind": "article",
                    "govwatch_start": NO_START,
                    "handle_httpstatus_list": [NOT_MODIFIED],
                },
                priority=5,
            )
            for canonical, url in targets
        ]

    def _list_request(
        self, url: str, page_index: int, start: int, resumed: bool = False
    ) -> scrapy.Request:
        headers: dict[str, str] = {}
        # a 304 would end the walk: while the last pass is incomplete, ask unconditionally
        if self.site.conditional_requests and not self.recorder.passes.walking(start):
            key = canonicalize(url)
            headers = _conditional_headers(self.recorder.validators([key]).get(key))
        key = f"list:{canonicalize(url)}"
        self.recorder.passes.ask(key, start, url)
        return scrapy.Request(
            url,
            callback=self._on_list,
            errback=self._on_error,
            cb_kwargs={"page_index": page_index},
            headers=headers,
            # not filtered as a duplicate: a redirect loop runs into REDIRECT_MAX_TIMES and
            # comes back as an error of the run, instead of vanishing in the dupefilter
            dont_filter=True,
            meta={
                "govwatch_kind": "list",
                "govwatch_key": key,
                "govwatch_url": url,  # the URL asked for, whatever it redirects to
                "govwatch_start": start,  # which start URL's pagination it belongs to
                "govwatch_resumed": resumed,  # past a page where a complete pass stops
                "handle_httpstatus_list": [NOT_MODIFIED],
            },
        )

    def parse_list(self, response: Response, page_index: int) -> Iterator[scrapy.Request]:
        asked = canonicalize(response.meta.get("govwatch_url", response.url))
        start: int = response.meta.get("govwatch_start", 0)
        resumed: bool = response.meta.get("govwatch_resumed", False)
        passes = self.recorder.passes
        passes.answered(response.meta.get("govwatch_key"))
        passes.reached(start, page_index)
        if response.status == NOT_MODIFIED:
            # unchanged since the last complete run: its articles are stored, and the pages
            # after it only hold older ones (asked conditionally only after a complete pass)
            passes.end(start)
            self.recorder.list_pages += 1
            self.recorder.lists_not_modified += 1
            log.info(
                "site %s run %d: list page %d %s: not modified",
                self.site.name,
                self.recorder.run_id,
                page_index + 1,
                response.url,
            )
            return
        if self._not_html(response):
            return
        with self.recorder.timed("list"):
            decoded = decode_html(response.body, _content_type(response))
            if is_challenge_page(decoded.text):
                self.recorder.blocked(
                    response.url,
                    reason_for(self.site, response.status, response.body, challenge=True),
                    "anti-bot challenge page instead of the list",
                    status=response.status,
                    start=start,
                )
                return
            self.recorder.list_pages += 1
            try:
                tree = parse_html(decoded.text or "<html></html>")
            except (ExtractError, etree.ParserError) as exc:
                self.recorder.error(
                    response.url,
                    kind="parse",
                    message=f"unreadable list page: {exc}",
                    start=start,
                )
                return
            page = parse_list_page(tree, response.url, self.site, page_index)
            links = extract_links(tree, response.url)
            by_canonical = {canonicalize(u): u for u in page.article_urls}
        if self.site.list_link_selector:
            self.recorder.selector_page("list", page.warnings)
        self.recorder.add_links(response.url, links)
        known = self.recorder.known(by_canonical)
        log.info(
            "site %s run %d: list page %d %s: %d article links, %d new",
            self.site.name,
            self.recorder.run_id,
            page_index + 1,
            response.url,
            len(by_canonical),
            len(by_canonical) - len(known),
        )
        if self.site.conditional_requests:
            self.recorder.remember_validators(_validators(asked, response), list_page=True)
        for canonical, url in by_canonical.items():
            if canonical in known:
                continue
            if not passes.ask(f"article:{canonical}", start, url):
                continue  # linked from an earlier list page of this run too
            passes.article(canonical, start, resumed=resumed)
            yield scrapy.Request(
                url,
                callback=self._on_article,
                errback=self._on_error,
                cb_kwargs={"canonical_url": canonical},
                dont_filter=True,  # asked once per run already (passes.ask); see _list_request
                meta={
                    "govwatch_kind": "article",
                    "govwatch_start": start,
                    "govwatch_key": f"article:{canonical}",
                },
                priority=10,
            )
        only_known = bool(by_canonical) and len(known) == len(by_canonical)
        if (
            not page.next_url
            or page_index + 1 >= self.site.max_list_pages
            or f"list:{canonicalize(page.next_url)}" in passes.asked_keys  # a cycle
        ):
            passes.end(start)
            return
        if only_known and self.site.stop_at_known_page:
            if not passes.walking(start):
                log.info(
                    "site %s run %d: list page %d holds only stored articles: "
                    "not paginating further",
                    self.site.name,
                    self.recorder.run_id,
                    page_index + 1,
                )
                passes.end(start)
                return
            if not resumed:
                log.info(
                    "site %s run %d: list page %d holds only stored articles, but the last "
                    "pass did not complete: walking on",
                    self.site.name,
                    self.recorder.run_id,
                    page_index + 1,
                )
            resumed = True
        yield self._list_request(page.next_url, page_index + 1, start, resumed)

    async def parse_article(self, response: Response, canonical_url: str) -> list[ArticleItem]:
        self.recorder.article_pages += 1
        self.recorder.passes.answered(response.meta.get("govwatch_key"))
        start: int | None = response.meta.get("govwatch_start")
        if response.status == NOT_MODIFIED:  # a re-checked article that did not change
            self.recorder.articles_not_modified += 1
            return []
        if self._not_html(response):
            return []
        try:
            done = await self.extractor.extract(
                response.body,
                response.url,
                _content_type(response),
                None if self.site.selectors.is_empty() else self.site.selectors,
            )
        except ExtractError as exc:
            self.recorder.error(response.url, kind="parse", message=str(exc), start=start)
            return []
        for stage, seconds in done.seconds.items():
            self.recorder.add_time(stage, seconds, done.cpu.get(stage))
        article = done.article
        if article.page_kind == "challenge":
            self.recorder.blocked(
                response.url,
                reason_for(self.site, response.status, response.body, challenge=True),
                "anti-bot challenge page",
                status=response.status,
                start=start,
            )
            return []
        if article.page_kind == "error" or not (article.title or article.body):
            reason = article.error_reason or "the page holds no article"
            self.recorder.error(
                response.url,
                kind="not_article",
                status=response.status,
                message=reason,
                start=start,
            )
            return []
        if not self.site.selectors.is_empty():
            self.recorder.selector_page("article", article.warnings)
        self.recorder.add_links(canonical_url, article.links)
        self.recorder.remember_validators(_validators(canonical_url, response), list_page=False)
        return [
            ArticleItem(
                article=article, canonical_url=canonical_url, prints=done.prints, terms=done.terms
            )
        ]

    def _not_html(self, response: Response) -> bool:
        """Record a body that is not an HTML page (a PDF, random bytes) as an error."""
        reason = not_html_reason(response.body, _content_type(response))
        if reason is None:
            return False
        self.recorder.error(
            response.url,
            kind=NOT_HTML,
            status=response.status,
            message=f"not HTML: {reason}",
            start=response.meta.get("govwatch_start"),
        )
        return True

    def on_error(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        exc: BaseException = failure.value or Exception("unknown failure")
        kind, status, message = _describe_failure(exc, request)
        url = request.url
        if kind == "redirect":  # the URL asked for, not the last hop
            url = (request.meta.get("redirect_urls") or [url])[0]
        start: int | None = request.meta.get("govwatch_start")
        self.recorder.passes.answered(request.meta.get("govwatch_key"))
        if kind == BLOCKED and isinstance(exc, (HttpError, ChallengeBlocked)):
            # a guard's answer: the run is judged blocked (with its reason) when only guards
            # answered; a challenge the browser could not (or may not) pass is one too
            body = exc.response.body if isinstance(exc, HttpError) else b""
            challenge = isinstance(exc, ChallengeBlocked)
            reason = reason_for(self.site, status, body, challenge=challenge)
            self.recorder.blocked(url, reason, message, status=status, start=start)
            return
        self.recorder.error(url, kind=kind, status=status, message=message, start=start)


def _describe_failure(exc: BaseException, request: scrapy.Request) -> tuple[str, int | None, str]:
    """``(kind, HTTP status, message)`` of a request that failed after retries."""
    url = request.url
    if isinstance(exc, HttpError):
        status = exc.response.status
        return (BLOCKED if status in BLOCKING_STATUSES else "http"), status, f"HTTP {status}"
    if isinstance(exc, ChallengeBlocked):  # a JavaScript challenge not passed
        return BLOCKED, exc.status, str(exc)
    if isinstance(exc, AddressRefusedError):  # the address policy: never fetched
        return REFUSED, None, str(exc)
    if isinstance(exc, IgnoreRequest):
        reason = str(exc) or "request ignored"
        if "robots.txt" in reason.lower():
            return "robots", None, "forbidden by robots.txt"
        if "redirect" in reason.lower():
            return "redirect", None, _redirect_message(request)
        return "ignored", None, reason
    if isinstance(exc, (CannotResolveHostError, DNSLookupError)):
        return "dns", None, f"host not found: {urlsplit(url).hostname}"
    if isinstance(exc, (DownloadTimeoutError, TimeoutError, TCPTimedOutError)):
        return "timeout", None, "timed out"
    if isinstance(exc, (DownloadConnectionRefusedError, ConnectError)):
        return "connection", None, "connection refused"
    if isinstance(exc, (ResponseDataLossError, DownloadFailedError, ConnectionLost)):
        return "connection", None, _one_line(exc)
    return "fetch", None, _one_line(exc)


def _redirect_message(request: scrapy.Request) -> str:
    hops: list[str] = list(request.meta.get("redirect_urls", ()))
    if len(hops) != len(set(hops)) or request.url in hops:
        return f"redirect loop after {len(hops)} redirect(s): {' -> '.join(hops[-3:])}"
    return f"too many redirects ({len(hops)})"


def _validators(canonical_url: str, response: Response) -> Validators:
    etag = response.headers.get(b"ETag")
    modified = response.headers.get(b"Last-Modified")
    return Validators(
        url=canonical_url,
        etag=etag.decode("latin-1") if etag else None,
        last_modified=modified.decode("latin-1") if modified else None,
    )


def _conditional_headers(validators: Validators | None) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from what the page was last served with."""
    headers: dict[str, str] = {}
    if validators is not None:
        if validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
    return headers


def _content_type(response: Response) -> str | None:
    raw = response.headers.get(b"Content-Type")
    return raw.decode("latin-1") if raw else None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
