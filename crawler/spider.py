"""The one generic, config-driven spider: list pages -> article pages -> items.

It follows a site's list pages (one page after another, up to ``max_list_pages``), picks
the links that match ``article_url_pattern``, skips those already stored, and extracts
each new article.  Failures after retries are recorded on the run, never dropped.
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

from crawler.canonical import canonicalize
from crawler.decode import decode_html
from crawler.dom import parse_html
from crawler.extract import extract_article
from crawler.items import ArticleItem
from crawler.listing import parse_list_page
from crawler.pagekind import is_challenge_page
from crawler.recorder import BLOCKED, RunRecorder
from crawler.site import Site
from storage.errors import ExtractError

log = logging.getLogger(__name__)

BLOCKING_STATUSES = frozenset({401, 403, 412, 420, 429})


class SiteSpider(scrapy.Spider):
    """Crawls one configured :class:`~crawler.site.Site` for one recorded run."""

    name = "govwatch"

    def __init__(self, site: Site, recorder: RunRecorder, **kwargs: Any) -> None:
        super().__init__(name=f"govwatch-{site.name}", **kwargs)
        self.site = site
        self.recorder = recorder

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.site.start_urls:
            yield self._list_request(url, page_index=0)

    def _list_request(self, url: str, page_index: int) -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=self.parse_list,
            errback=self.on_error,
            cb_kwargs={"page_index": page_index},
            meta={"govwatch_kind": "list"},
        )

    def parse_list(self, response: Response, page_index: int) -> Iterator[scrapy.Request]:
        decoded = decode_html(response.body, _content_type(response))
        if is_challenge_page(decoded.text):
            self.recorder.error(
                response.url, kind=BLOCKED, message="anti-bot challenge page instead of the list"
            )
            return
        self.recorder.list_pages += 1
        try:
            tree = parse_html(decoded.text or "<html></html>")
        except (ExtractError, etree.ParserError) as exc:
            self.recorder.error(response.url, kind="parse", message=f"unreadable list page: {exc}")
            return
        page = parse_list_page(tree, response.url, self.site, page_index)
        for warning in page.warnings:
            self.recorder.warn(warning)
        by_canonical = {canonicalize(u): u for u in page.article_urls}
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
        for canonical, url in by_canonical.items():
            if canonical in known:
                continue
            yield scrapy.Request(
                url,
                callback=self.parse_article,
                errback=self.on_error,
                cb_kwargs={"canonical_url": canonical},
                meta={"govwatch_kind": "article"},
                priority=10,
            )
        if page.next_url and page_index + 1 < self.site.max_list_pages:
            yield self._list_request(page.next_url, page_index + 1)

    def parse_article(self, response: Response, canonical_url: str) -> Iterator[ArticleItem]:
        self.recorder.article_pages += 1
        try:
            article = extract_article(
                response.body,
                response.url,
                content_type=_content_type(response),
                selectors=None if self.site.selectors.is_empty() else self.site.selectors,
            )
        except ExtractError as exc:
            self.recorder.error(response.url, kind="parse", message=str(exc))
            return
        if article.page_kind == "challenge":
            self.recorder.error(response.url, kind=BLOCKED, message="anti-bot challenge page")
            return
        if article.page_kind == "error" or not (article.title or article.body):
            reason = article.error_reason or "the page holds no article"
            self.recorder.error(
                response.url, kind="not_article", status=response.status, message=reason
            )
            return
        for warning in article.warnings:
            self.recorder.warn(warning)
        yield ArticleItem(article=article, canonical_url=canonical_url)

    def on_error(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        url = request.url
        exc: BaseException = failure.value or Exception("unknown failure")
        if isinstance(exc, HttpError):
            status = exc.response.status
            kind = BLOCKED if status in BLOCKING_STATUSES else "http"
            self.recorder.error(url, kind=kind, status=status, message=f"HTTP {status}")
        elif isinstance(exc, IgnoreRequest):
            reason = str(exc) or "request ignored"
            if "robots.txt" in reason.lower():
                self.recorder.error(url, kind="robots", message="forbidden by robots.txt")
            else:
                self.recorder.error(url, kind="ignored", message=reason)
        elif isinstance(exc, (CannotResolveHostError, DNSLookupError)):
            host = urlsplit(url).hostname
            self.recorder.error(url, kind="dns", message=f"host not found: {host}")
        elif isinstance(exc, (DownloadTimeoutError, TimeoutError, TCPTimedOutError)):
            self.recorder.error(url, kind="timeout", message="timed out")
        elif isinstance(exc, (DownloadConnectionRefusedError, ConnectError)):
            self.recorder.error(url, kind="connection", message="connection refused")
        elif isinstance(exc, (ResponseDataLossError, DownloadFailedError, ConnectionLost)):
            self.recorder.error(url, kind="connection", message=_one_line(exc))
        else:
            self.recorder.error(url, kind="fetch", message=_one_line(exc))


def _content_type(response: Response) -> str | None:
    raw = response.headers.get(b"Content-Type")
    return raw.decode("latin-1") if raw else None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
