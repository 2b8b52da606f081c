"""The crawl's answer to JavaScript challenges: a downloader middleware.

A response is a JavaScript challenge when it is HTTP 412/521 with a script page, or any page
:func:`crawler.extract.pagekind.is_challenge_page` calls a challenge (slider captchas excepted: they
are never solved).  What happens then depends on the site's ``challenge`` setting:

- ``auto`` / ``browser``: the URL is opened once in headless Chromium
  (:mod:`crawler.guards.browser`, in a helper process); its cookies and User-Agent then go with
  every request to that host over plain HTTP, and the request is sent again.  At most one solve per
  host and run, and a second one only when the cookies of the first stop working.  Requests that
  meet the challenge while a solve runs wait for it.  The browser's cookies go into the crawl's one
  cookie jar (:class:`crawler.guards.cookiejar.ReplayCookiesMiddleware`), which sends them, keeps
  the lasting ones per host in the database (``host_cookies``, until they expire) and loads them in
  the next run, which needs no browser while they pass.  The browser's User-Agent is kept with them
  (``host_agents``, as long as its longest-lived cookie): WAFs bind their clearance cookies to the
  agent, so the next run sends it from its first request on.
- ``auto`` / ``replay`` / ``off``: cookie replay first.  A challenge page whose inline scripts
  set cookies with literal strings (ccdi's ``HOY_TR``) is asked once more with those cookies
  (cookie replay runs before this middleware in the response order, so they are in the jar);
  only if that answer is still a challenge does ``auto`` go to the browser.  ``browser`` goes
  to the browser at once.  ``replay`` / ``off``: never a browser; the page is recorded
  ``blocked``.

Without Playwright or Chromium the page is recorded ``blocked`` with the install hint.  The
browser is started only for a challenge, and killed when the crawl stops (SIGTERM, the time
limit, the end of the run).
"""

from __future__ import annotations

import logging
import signal
from dataclasses import dataclass, field
from http.cookiejar import Cookie
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.http.request import VerboseCookie
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread

from crawler.extract.pagekind import CAPTCHA_MARKERS, is_challenge_page
from crawler.guards import browser
from crawler.guards.addressguard import ALLOWED_NETWORKS_SETTING
from crawler.guards.cookiejar import ReplayCookiesMiddleware
from crawler.net.addresses import origin
from crawler.net.hostcookies import jar_domains
from crawler.net.scriptcookies import script_cookies
from crawler.site import CRAWL_DEFAULTS
from storage.errors import FetchError

log = logging.getLogger(__name__)

CHALLENGE_TIMEOUT_SETTING = "GOVWATCH_CHALLENGE_TIMEOUT"
BROWSER_MODES = frozenset({"auto", "browser"})
MAX_SOLVES_PER_HOST = 2  # the first, and one more when its cookies stop working
MIDDLEWARE_PRIORITY = 580  # sees responses before the retry middleware (550) retries a 412
_SCANNED = 30_000  # challenge pages are small; larger bodies are not looked into
_META_GENERATION = "govwatch_solve_generation"
_META_RETRIES = "govwatch_challenge_retries"
_META_REPLAYED = "govwatch_challenge_replayed"  # asked again with the page's script cookies

# Solves running in this process, killed when the crawl is asked to stop.
_RUNNING: set[browser.Solve] = set()
_stopping = False
_signals_wrapped = False


class ChallengeBlocked(IgnoreRequest, FetchError):
    """A challenge the crawl could not pass: the spider records the page ``blocked``."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message


@dataclass
class _Host:
    """What one host's challenge gave: the browser's cookies and User-Agent."""

    solves: int = 0
    generation: int = 0  # bumped by each solve; requests remember the one they were sent with
    cookies: list[VerboseCookie] = field(default_factory=list)  # name, value, path
    user_agent: str | None = None  # the last solve's, or the one kept from an earlier run
    waiters: list[Deferred[None]] | None = None  # set while a solve runs


def is_challenge(response: Response) -> bool:
    """Whether ``response`` is a JavaScript challenge the browser may pass."""
    body = response.body[:_SCANNED] if len(response.body) <= _SCANNED else b""
    if not body:
        return False
    text = body.decode("utf-8", "replace")
    if any(marker in text for marker in CAPTCHA_MARKERS):
        return False  # a captcha: never solved
    if response.status in browser.CHALLENGE_STATUSES and "<script" in text.lower():
        return True
    return response.status == 200 and is_challenge_page(text)


def _host_key(url: str) -> str:
    scheme, host, port = origin(url)
    return f"{scheme}://{host}:{port}"


class ChallengeMiddleware:
    """Passes JavaScript challenges with the browser (see the module doc)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.hosts: dict[str, _Host] = {}
        self.starts = 0
        self._replay: ReplayCookiesMiddleware | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ChallengeMiddleware:
        if not crawler.settings.getbool("COOKIES_ENABLED"):
            raise NotConfigured("the browser's cookies need the crawl's cookie jar")
        mw = cls(crawler)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    def _site_info(self) -> tuple[str, str, int, float, tuple[str, ...]]:
        spider = self.crawler.spider
        site = getattr(spider, "site", None)
        recorder = getattr(spider, "recorder", None)
        return (
            getattr(site, "name", "?"),
            getattr(site, "challenge", "auto"),
            getattr(recorder, "run_id", 0),
            self.crawler.settings.getfloat(
                CHALLENGE_TIMEOUT_SETTING, CRAWL_DEFAULTS.challenge_timeout_seconds
            ),
            tuple(getattr(site, "start_urls", ())),
        )

    def process_request(self, request: Request) -> None:
        try:
            key = _host_key(request.url)
        except ValueError:
            return
        host = self.hosts.get(key)
        if host is None:
            host = self.hosts[key] = _Host()
            replay = self._replay_middleware()
            hostname = (urlsplit(request.url).hostname or "").lower()
            if replay is not None and hostname:
                # cookies kept for this host (a browser's, or replay's): the jar loaded its
                # start URLs' hosts when the spider opened; another host's are loaded now
                if not set(jar_domains(hostname)) <= replay.domains:
                    replay.load([hostname])
                # and the agent a browser got them with, if it did
                host.user_agent = replay.load_agent(hostname)
        request.meta[_META_GENERATION] = host.generation
        if host.user_agent:
            request.headers[b"User-Agent"] = host.user_agent.encode()

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if not is_challenge(response):
            return response
        name, mode, run_id, timeout, start_urls = self._site_info()
        if (
            mode != "browser"
            and not request.meta.get(_META_REPLAYED)
            and script_cookies(response.body)
        ):
            # cookie replay first: its middleware has put this page's script cookies in the
            # jar already; the browser only if the answer with them is still a challenge
            log.debug("%s: challenge with script cookies: asked again with them", request.url)
            return self._replayed(request)
        if mode not in BROWSER_MODES:
            raise ChallengeBlocked(
                f"JavaScript challenge (HTTP {response.status}); challenge = {mode!r}: "
                "no browser for this site",
                response.status,
            )
        why_not = browser.missing()
        if why_not is not None:
            raise ChallengeBlocked(why_not, response.status)
        retries = int(request.meta.get(_META_RETRIES, 0))
        if retries >= MAX_SOLVES_PER_HOST + 1:
            raise ChallengeBlocked(
                "JavaScript challenge unsolved: the browser's cookies do not pass it",
                response.status,
            )
        key = _host_key(request.url)
        host = self.hosts.setdefault(key, _Host())
        if host.waiters is not None:  # a solve of this host is running: wait for it
            waiter: Deferred[None] = Deferred()
            host.waiters.append(waiter)
            await maybe_deferred_to_future(waiter)
        elif request.meta.get(_META_GENERATION, 0) >= host.generation:
            # sent with the newest cookies (or none) and still challenged: solve (again)
            if host.solves >= MAX_SOLVES_PER_HOST:
                raise ChallengeBlocked(
                    f"JavaScript challenge unsolved after {host.solves} browser solves "
                    "(the cookies stopped working)",
                    response.status,
                )
            solved = await self._solve(host, request.url, name, run_id, timeout, start_urls)
            if solved is not None:
                self._keep(request, solved)
        if not host.cookies and not host.user_agent:
            raise ChallengeBlocked("JavaScript challenge unsolved", response.status)
        return self._again(request, host, retries)

    async def _solve(
        self,
        host: _Host,
        url: str,
        name: str,
        run_id: int,
        timeout: float,
        start_urls: tuple[str, ...],
    ) -> browser.Solved | None:
        if _stopping:
            raise ChallengeBlocked("JavaScript challenge: the crawl is stopping")
        host.waiters = []
        host.solves += 1
        self.starts += 1
        _wrap_stop_signals()
        origins = [list(origin(u)) for u in (*start_urls, url)]
        networks = list(self.crawler.settings.getlist(ALLOWED_NETWORKS_SETTING))
        log.info(
            "site %s run %d: JavaScript challenge at %s: starting the browser (solve %d)",
            name,
            run_id,
            url,
            host.solves,
        )
        try:
            solve = browser.Solve.start(browser.SolveRequest(url, timeout, origins, networks))
            _RUNNING.add(solve)
            try:
                solved: browser.Solved = await maybe_deferred_to_future(deferToThread(solve.wait))
            finally:
                _RUNNING.discard(solve)
        except browser.BrowserError as exc:
            log.warning("site %s run %d: browser: %s", name, run_id, exc)
            host.cookies, host.user_agent = [], None
            return None
        else:
            # with the browser's path (not the request's directory, the jar's default): a
            # later solve's cookie replaces this one instead of joining it
            host.cookies = [
                VerboseCookie(name=str(c["name"]), value=str(c["value"]), path=str(c["path"]))
                for c in solved.cookies
            ]
            host.user_agent = solved.user_agent or None
            log.info(
                "site %s run %d: the browser passed the challenge in %.1fs (%d cookie(s))",
                name,
                run_id,
                solved.seconds,
                len(host.cookies),
            )
            return solved
        finally:
            host.generation += 1
            waiters, host.waiters = host.waiters or [], None
            for waiter in waiters:
                waiter.callback(None)

    def _replay_middleware(self) -> ReplayCookiesMiddleware | None:
        """The crawl's cookie jar (cookie replay), if the crawl has one."""
        if self._replay is None:
            engine = getattr(self.crawler, "engine", None)
            downloader = getattr(engine, "downloader", None)
            manager = getattr(downloader, "middleware", None)
            for mw in getattr(manager, "middlewares", ()):
                if isinstance(mw, ReplayCookiesMiddleware):
                    self._replay = mw
                    break
        return self._replay

    def _keep(self, request: Request, solved: browser.Solved) -> None:
        """Put the browser's cookies in the crawl's jar, which sends them and keeps the
        lasting ones for the next runs (session cookies are not kept)."""
        replay = self._replay_middleware()
        if replay is None:
            return
        hostname = (urlsplit(request.url).hostname or "").lower()
        jar = replay.jars[request.meta.get("cookiejar")]
        for c in solved.cookies:
            domain = str(c.get("domain") or hostname)
            dotted = domain.startswith(".")
            expires = float(c.get("expires", -1))
            jar.set_cookie(
                Cookie(
                    version=0,
                    name=str(c["name"]),
                    value=str(c["value"]),
                    port=None,
                    port_specified=False,
                    domain=domain,
                    domain_specified=dotted,
                    domain_initial_dot=dotted,
                    path=str(c.get("path") or "/"),
                    path_specified=True,
                    secure=bool(c.get("secure", False)),
                    expires=int(expires) if expires > 0 else None,
                    discard=expires <= 0,
                    comment=None,
                    comment_url=None,
                    rest={},
                )
            )
        replay.save()  # at once: a crawl killed later keeps them
        lasting = [float(c.get("expires", -1)) for c in solved.cookies]
        if solved.user_agent and max(lasting, default=-1) > 0:
            replay.save_agent(hostname, solved.user_agent, max(lasting))

    def _again(self, request: Request, host: _Host, retries: int) -> Request:
        """``request`` once more, with the browser's cookies and User-Agent."""
        headers = request.headers.copy()
        headers.pop(b"Cookie", None)  # the jar writes it afresh, with the new cookies
        if host.user_agent:
            headers[b"User-Agent"] = host.user_agent.encode()
        meta = {**request.meta, _META_RETRIES: retries + 1, _META_GENERATION: host.generation}
        return request.replace(headers=headers, meta=meta, dont_filter=True)

    def _replayed(self, request: Request) -> Request:
        """``request`` once more, with the cookies cookie replay has just put in the jar."""
        headers = request.headers.copy()
        headers.pop(b"Cookie", None)  # the jar writes it afresh
        meta = {**request.meta, _META_REPLAYED: True}
        return request.replace(headers=headers, meta=meta, dont_filter=True)

    def spider_closed(self, spider: Any, reason: str) -> None:
        for solve in list(_RUNNING):
            solve.cancel()


def stop_all() -> None:
    """Kill every running solve and start no more (the crawl is stopping)."""
    global _stopping
    _stopping = True
    for solve in list(_RUNNING):
        solve.cancel()


def _wrap_stop_signals() -> None:
    """Make SIGTERM/SIGINT kill running solves at once, then do what they did before.

    Scrapy's graceful stop waits for requests in flight, a solve included; the browser is
    killed first so that the stop is prompt.  Done once, from the reactor thread, after
    Scrapy installed its handlers.
    """
    global _signals_wrapped
    if _signals_wrapped:
        return
    _signals_wrapped = True
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)
        if not callable(previous):
            continue

        def handler(sig: int, frame: Any, previous: Any = previous) -> None:
            stop_all()
            previous(sig, frame)

        try:
            signal.signal(signum, handler)
        except ValueError:  # not the main thread: the spider_closed hook still kills them
            return
