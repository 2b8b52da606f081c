"""Cookie replay: the crawl's cookie jar learns cookies from inline scripts, and keeps them.

:class:`ReplayCookiesMiddleware` takes the place of Scrapy's ``CookiesMiddleware`` (same
priority, 700: after the address guard at 40 and robots.txt at 100, and its
``process_response`` runs before the retry middleware's at 550, so a 412 answer's script
cookies are in the jar before the request is retried).  It is Scrapy's middleware, with
the one jar it keeps, plus:

- every response's inline ``document.cookie = "…"`` assignments (``crawler.net.scriptcookies``)
  are set in the jar as if the server had sent them as ``Set-Cookie`` for that URL;
- before every request, the site's named cookie rule (``crawler.net.cookierules``) rewrites
  the cookies it names for the request's host, as the site's scripts do in a browser;
- cookies with an expiry are kept per host in the database: the run loads the live ones for
  its start URLs' hosts when the spider opens, and saves the jar every
  :data:`SAVE_EVERY_SECONDS` and when the spider closes (so a killed crawl loses little);
- with a browser's cookies, the User-Agent they were got with (:meth:`save_agent`,
  :meth:`load_agent`: ``crawler.guards.challenge`` calls them).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.cookies import CookiesMiddleware
from scrapy.http import Response
from scrapy.http.cookies import CookieJar
from scrapy.utils.httpobj import urlparse_cached

from crawler.net.cookierules import RULES, CookieRule
from crawler.net.hostcookies import apply_rule, jar_cookie, jar_domains, stored
from crawler.net.scriptcookies import script_cookies
from crawler.store.calls import CrawlStore
from storage.errors import StorageError

log = logging.getLogger(__name__)

MIDDLEWARE_PRIORITY = 700  # Scrapy's CookiesMiddleware's, which this one replaces
SAVE_EVERY_SECONDS = 30.0
SAVE_EVERY_SETTING = "GOVWATCH_COOKIE_SAVE_SECONDS"  # tests shorten it


class ReplayCookiesMiddleware(CookiesMiddleware):
    """Scrapy's cookie middleware plus script cookies, the site's cookie rule, persistence."""

    def __init__(self, debug: bool = False) -> None:
        super().__init__(debug)
        # strict_domain: no cookie for a domain like .gov.cn, which the jar saved in
        # host_cookies would give every other gov.cn site's crawl
        self.jars = defaultdict(lambda: CookieJar(DefaultCookiePolicy(strict_domain=True)))
        self.label = "crawl"  # "site NAME run ID" once the spider opens
        self.rule: CookieRule | None = None
        self.store: CrawlStore | None = None
        self.learned = 0  # cookies set by scripts this run
        self.domains: set[str] = set()  # cookie domains loaded or held: saved as the jar has them
        self.save_every = SAVE_EVERY_SECONDS
        self._saved_at = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ReplayCookiesMiddleware:
        mw = super().from_crawler(crawler)
        mw.save_every = crawler.settings.getfloat(SAVE_EVERY_SETTING, SAVE_EVERY_SECONDS)
        crawler.signals.connect(mw.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    # lifecycle
    def spider_opened(self, spider: Spider) -> None:
        site = getattr(spider, "site", None)
        recorder = getattr(spider, "recorder", None)
        if site is None or recorder is None:
            return
        self.label = f"site {site.name} run {recorder.run_id}"
        self.rule = RULES[site.cookie_rule] if site.cookie_rule else None
        self.store = recorder.db
        self.load(urlsplit(url).hostname or "" for url in site.start_urls)

    def spider_closed(self, spider: Spider) -> None:
        self.save()
        if self.learned:
            log.info("%s: %d cookie(s) set by page scripts", self.label, self.learned)

    def load(self, hosts: Iterable[str]) -> int:
        """Put the stored live cookies of ``hosts`` in the jar; returns how many."""
        if self.store is None:
            return 0
        domains = {d for host in hosts if host for d in jar_domains(host.lower())}
        try:
            kept = self.store.live_cookies(domains)
        except StorageError as exc:
            log.warning("%s: stored cookies not loaded: %s", self.label, exc)
            return 0
        self.domains.update(domains)
        jar = self.jars[None]
        for cookie in kept:
            jar.set_cookie(jar_cookie(cookie))
        if kept:
            log.info("%s: %d stored cookie(s) loaded", self.label, len(kept))
        return len(kept)

    def load_agent(self, host: str) -> str | None:
        """The User-Agent kept for ``host`` with a browser's cookies, while they live."""
        if self.store is None:
            return None
        try:
            agent = self.store.live_agent(host)
        except StorageError as exc:
            log.warning("%s: kept User-Agent not loaded: %s", self.label, exc)
            return None
        if agent:
            log.info("%s: host %s: the User-Agent kept with its cookies", self.label, host)
        return agent

    def save_agent(self, host: str, user_agent: str, expires: float) -> None:
        """Keep the User-Agent a browser got ``host``'s cookies with, until ``expires``
        (epoch seconds: its longest-lived cookie's expiry)."""
        if self.store is None:
            return
        until = datetime.fromtimestamp(expires, UTC)
        try:
            self.store.save_agent(host, user_agent, until)
        except StorageError as exc:
            log.warning("%s: User-Agent not kept: %s", self.label, exc)

    def save(self) -> int:
        """Keep the jar's unexpired cookies that have an expiry; returns how many."""
        self._saved_at = time.monotonic()
        if self.store is None:
            return 0
        now = time.time()
        held = [c for jar in self.jars.values() for c in jar]
        self.domains.update(c.domain for c in held)
        cookies = [stored(c) for c in held if c.expires is not None and c.expires > now]
        try:
            # the jar is the truth for every domain it loaded or holds: a cookie the site
            # deleted (max-age=0) is deleted from the database too
            written = self.store.save_cookies(cookies, replace=self.domains)
        except StorageError as exc:
            log.warning("%s: cookies not saved: %s", self.label, exc)
            return 0
        log.debug("%s: %d cookie(s) saved", self.label, written)
        return written

    # requests and responses
    def process_request(
        self, request: Request, spider: Spider | None = None
    ) -> Request | Response | None:
        if self.rule is not None and not request.meta.get("dont_merge_cookies", False):
            host = urlparse_cached(request).hostname
            if host:
                apply_rule(self.rule, self.jars[request.meta.get("cookiejar")], host.lower())
        return super().process_request(request)

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        result = super().process_response(request, response)
        if not isinstance(result, Response) or request.meta.get("dont_merge_cookies", False):
            return result
        found = script_cookies(response.body)
        if found:
            jar = self.jars[request.meta.get("cookiejar")]
            as_sent = Response(response.url, headers={"Set-Cookie": [c.header for c in found]})
            self._process_cookies(jar.make_cookies(as_sent, request), jar=jar, request=request)
            self.learned += len(found)
            log.debug(
                "%s: %s set cookie(s) %s",
                self.label,
                response.url,
                ", ".join(c.name for c in found),
            )
        if time.monotonic() - self._saved_at >= self.save_every:
            self.save()
        return response
