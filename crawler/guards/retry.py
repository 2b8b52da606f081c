"""Retries with exponential backoff for transient failures and crawler throttling.

Scrapy's own ``RetryMiddleware`` retries at once, which hammers a struggling or throttling
server.  This one waits ``base * 2**(attempt-1)`` seconds (capped, honouring
``Retry-After``) before handing the retry back, so the host's slot stays quiet meanwhile.
Answers that throttle (420, 429, 503, challenges) pause the whole host instead
(``crawler.guards.hostpace``): the retried request waits there with the host's other requests.
"""

from __future__ import annotations

import logging

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.task import deferLater

from crawler.site import CRAWL_DEFAULTS
from httpvalues.retry_after import retry_after_seconds

log = logging.getLogger(__name__)

# Answers that pause their whole host (crawler.guards.hostpace): the retried request waits with the
# host's other requests there, not here.
PAUSE_STATUSES = frozenset({412, 420, 429, 503, 521})


class BackoffRetryMiddleware(RetryMiddleware):
    """``RetryMiddleware`` that sleeps before each retry (settings ``GOVWATCH_RETRY_BACKOFF*``)."""

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.backoff = settings.getfloat(
            "GOVWATCH_RETRY_BACKOFF", CRAWL_DEFAULTS.retry_backoff_seconds
        )
        self.backoff_max = settings.getfloat(
            "GOVWATCH_RETRY_BACKOFF_MAX", CRAWL_DEFAULTS.retry_backoff_max_seconds
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        mw = cls(crawler.settings)
        mw.crawler = crawler
        return mw

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response
    ) -> Request | Response:
        result = super().process_response(request, response)
        if isinstance(result, Request) and response.status not in PAUSE_STATUSES:
            await self._sleep(result, retry_after(response))
        return result

    async def process_exception(  # type: ignore[override]
        self, request: Request, exception: Exception
    ) -> Request | Response | None:
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            await self._sleep(result, None)
        return result

    async def _sleep(self, retry: Request, server_hint: float | None) -> None:
        attempt = int(retry.meta.get("retry_times", 1))
        delay = min(self.backoff * 2 ** (attempt - 1), self.backoff_max)
        if server_hint is not None:
            delay = min(max(delay, server_hint), self.backoff_max)
        if delay <= 0:
            return
        log.debug("retry %d of %s in %.1fs", attempt, retry.url, delay)
        from twisted.internet import reactor  # the running one; importing early would install one

        await maybe_deferred_to_future(deferLater(reactor, delay, lambda: None))


def retry_after(response: Response) -> float | None:
    """Seconds the server asks us to wait (``Retry-After``), if it says."""
    return retry_after_seconds(response.headers.get(b"Retry-After"))
