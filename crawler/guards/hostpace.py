"""Per-host backoff and adaptive politeness: one throttled answer pauses the whole host.

Scrapy's retry delays only the request it retries; the other requests queued for the same
host still go out at once, which is what makes a guarded site (ccdi's HTTP 420) escalate.
Here a 420, 429, 503, 412/521 or captcha answer from a host sets that host's *not-before*
time, judged on Scrapy's ``response_downloaded`` signal (before the slot sends its next
request); every new request to the host waits for it in
:meth:`HostPaceMiddleware.process_request`, and those already queued in the host's download
slot are held by the slot's ``lastseen``.  ``Retry-After`` is honoured as sent (seconds or an
HTTP date), up to ``retry_after_max``.

Repeated 420/429 answers also grow the host's delay between requests (multiplied by
:data:`GROWTH`, as AutoThrottle adjusts for latency), written to the download slot's
``delay``; each answer that is not throttled lets it decay by :data:`DECAY` back towards
the site's configured ``delay_seconds``, never below it.

One pace per host in the process: ``govwatch crawl --all`` runs every site's crawler in one
Scrapy process, and Scrapy's download slots (``CONCURRENT_REQUESTS_PER_DOMAIN``,
``DOWNLOAD_DELAY``, even ``DOWNLOAD_SLOTS``) belong to one crawler each, so two sites on one
host (ccdi's ``ccdi`` and ``ccdi-scdc``) would each send their own requests at once, and
ccdi answers overlapping requests with 420.  So the hosts' states (pauses, grown delays) are
shared by every crawler of the process (:data:`PROCESS_HOSTS`), and so are their turns
(:class:`HostTurns`): a request takes one of its host's ``concurrent_requests_per_host``
turns before it goes to the crawler's download slot, gives it back when it leaves the
downloader (Scrapy's ``request_left_downloader`` signal, or its failure or answer before
that), and starts no sooner than the host's delay after the previous start, whichever
crawler sent it.

API: :class:`HostPace` (the policy, pure: times are passed in), :class:`HostTurns` (a host's
turns, process-wide) and :class:`HostPaceMiddleware` (the Scrapy downloader middleware
using them).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import DeferredSemaphore
from twisted.internet.task import deferLater

from crawler.extract.pagekind import CAPTCHA_MARKER_BYTES
from crawler.guards.retry import PAUSE_STATUSES, retry_after
from crawler.site import CRAWL_DEFAULTS

log = logging.getLogger(__name__)

# PAUSE_STATUSES pause the host; 420 and 429 also grow its delay
RATE_STATUSES = frozenset({420, 429})
GROWTH = 2.0  # a throttled answer multiplies the host's delay by this
DECAY = 0.9  # an answer that is not throttled multiplies the extra delay by this
MIN_STEP = 1.0  # the delay a host with no configured delay grows from
MIN_SLOT_DELAY = 0.001  # a paused host's slot delay: Scrapy only tests pauses when it is > 0
RETRY_AFTER_MAX_SETTING = "GOVWATCH_RETRY_AFTER_MAX"
DELAY_MAX_SETTING = "GOVWATCH_RETRY_BACKOFF_MAX"
BACKOFF_SETTING = "GOVWATCH_RETRY_BACKOFF"
_META_TURN = "govwatch_host_turn"


@dataclass
class HostState:
    """What the policy knows of one host."""

    delay: float  # seconds between requests now
    not_before: float = 0.0  # monotonic time before which no request goes out
    throttled: int = 0  # 420/429 answers in this run
    paused: int = 0  # answers that paused the host


@dataclass
class HostPace:
    """The per-host policy: pauses, delay growth and decay (times are monotonic seconds)."""

    base_delay: float  # the site's delay_seconds: the floor
    max_delay: float = CRAWL_DEFAULTS.retry_backoff_max_seconds  # the delay's ceiling
    retry_after_max: float = CRAWL_DEFAULTS.retry_after_max_seconds  # Retry-After up to this
    backoff: float = CRAWL_DEFAULTS.retry_backoff_seconds  # a pause without Retry-After: this
    hosts: dict[str, HostState] = field(default_factory=dict)

    def state(self, host: str) -> HostState:
        st = self.hosts.get(host)
        if st is None:
            st = self.hosts[host] = HostState(delay=self.base_delay)
        return st

    def wait(self, host: str, now: float) -> float:
        """Seconds a request to ``host`` must still wait (0: it may go)."""
        st = self.hosts.get(host)
        return 0.0 if st is None else max(0.0, st.not_before - now)

    def penalize(
        self, host: str, now: float, status: int | None, hint: float | None, attempt: int = 1
    ) -> float:
        """A throttling answer (``status``; None: a challenge page) with the server's
        ``Retry-After`` ``hint`` to the ``attempt``-th try of a request: pause the host
        (without a hint: ``backoff``, doubling per attempt); returns the pause in seconds."""
        st = self.state(host)
        st.paused += 1
        if status in RATE_STATUSES:
            st.throttled += 1
            st.delay = min(self.max_delay, max(st.delay, MIN_STEP, self.base_delay) * GROWTH)
        if hint is not None:
            pause = min(hint, self.retry_after_max)
        else:
            pause = max(min(self.backoff * 2 ** (attempt - 1), self.max_delay), st.delay)
        st.not_before = max(st.not_before, now + pause)
        return pause

    def success(self, host: str) -> float:
        """An answer that was not throttled: the host's delay decays; returns it."""
        st = self.hosts.get(host)
        if st is None or st.delay <= self.base_delay:
            return self.base_delay
        extra = (st.delay - self.base_delay) * DECAY
        st.delay = self.base_delay if extra < 0.05 else self.base_delay + extra
        return st.delay


@dataclass
class HostTurns:
    """One host's turns, shared by every crawler of the process: at most ``limit`` requests
    in flight, starts at least the host's delay apart."""

    limit: int
    slots: DeferredSemaphore = field(init=False)
    next_start: float = 0.0  # monotonic time before which the next request may not start

    def __post_init__(self) -> None:
        self.slots = DeferredSemaphore(self.limit)


# The process's hosts: their pace (pauses, delays) and their turns, whatever crawler asks.
PROCESS_HOSTS: dict[str, HostState] = {}
PROCESS_TURNS: dict[str, HostTurns] = {}
_tokens = itertools.count(1)


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def is_captcha_body(body: bytes) -> bool:
    """Whether a body carries a captcha interstitial's markers (a cheap test, no parsing)."""
    head = body[:30_000]
    return any(marker in head for marker in CAPTCHA_MARKER_BYTES)


class HostPaceMiddleware:
    """Downloader middleware: hold requests to a paused host; pause it on throttling answers
    (on the ``response_downloaded`` signal, the earliest point)."""

    def __init__(self, crawler: Crawler, clock: Callable[[], float] = time.monotonic) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.clock = clock
        self.pace = HostPace(
            base_delay=settings.getfloat("DOWNLOAD_DELAY", 0.0),
            max_delay=settings.getfloat(DELAY_MAX_SETTING, HostPace.max_delay),
            retry_after_max=settings.getfloat(RETRY_AFTER_MAX_SETTING, HostPace.retry_after_max),
            backoff=settings.getfloat(BACKOFF_SETTING, HostPace.backoff),
            hosts=PROCESS_HOSTS,
        )
        self.per_host = max(1, settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN", 1))
        self._held: dict[int, HostTurns] = {}  # turns taken by this crawler's requests
        self._logged: dict[str, float] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HostPaceMiddleware:
        mw = cls(crawler)
        crawler.signals.connect(mw.response_downloaded, signal=signals.response_downloaded)
        crawler.signals.connect(mw.request_left, signal=signals.request_left_downloader)
        return mw

    def turns(self, host: str) -> HostTurns:
        turns = PROCESS_TURNS.get(host)
        if turns is None:
            turns = PROCESS_TURNS[host] = HostTurns(self.per_host)
        return turns

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        """Wait for a turn of the host (any crawler's request in flight holds one), then
        for its pause and its delay since the previous start."""
        host = host_of(request.url)
        turns = self.turns(host)
        await maybe_deferred_to_future(turns.slots.acquire())
        token = next(_tokens)
        self._held[token] = turns
        request.meta[_META_TURN] = token
        try:
            wait = max(self.pace.wait(host, self.clock()), turns.next_start - self.clock())
            while wait > 0:
                from twisted.internet import reactor  # the running one

                await maybe_deferred_to_future(deferLater(reactor, wait, lambda: None))
                # paused again meanwhile?
                wait = max(self.pace.wait(host, self.clock()), turns.next_start - self.clock())
        except BaseException:
            self._release(token)
            raise
        delay = max(self.pace.base_delay, self.pace.state(host).delay)
        turns.next_start = self.clock() + delay

    def request_left(self, request: Request, spider: Spider) -> None:
        """The request left the downloader (answered or failed): its turn is given back."""
        self._release(request.meta.get(_META_TURN))

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        self._release(request.meta.get(_META_TURN))  # answered before the downloader
        return response

    def process_exception(
        self, request: Request, exception: BaseException, spider: Spider | None = None
    ) -> None:
        self._release(request.meta.get(_META_TURN))  # dropped before the downloader

    def _release(self, token: object) -> None:
        turns = self._held.pop(token, None) if isinstance(token, int) else None
        if turns is not None:
            turns.slots.release()

    def response_downloaded(self, response: Response, request: Request, spider: Spider) -> None:
        """Judge an answer as soon as it is downloaded: Scrapy's slot sends the host's next
        queued request right after this signal, before any middleware sees the answer."""
        host = host_of(request.url)
        encoded = response.headers.get(b"Content-Encoding")  # not decompressed yet
        captcha = not encoded and is_captcha_body(response.body)
        if response.status in PAUSE_STATUSES or captcha:
            status = response.status if response.status in PAUSE_STATUSES else None
            attempt = int(request.meta.get("retry_times", 0)) + 1
            hint = retry_after(response)
            pause = self.pace.penalize(host, self.clock(), status, hint, attempt)
            why = f"HTTP {status}" if status else "a captcha"
            site, run_id = self._run()
            log.info(
                "site %s run %d: host %s: every request paused %.1fs after %s%s",
                site,
                run_id,
                host,
                pause,
                why,
                "" if hint is None else f" (Retry-After {hint:.0f}s)",
            )
            self._changed(request, host, f"after {why}")
        elif response.status < 400:
            self.pace.success(host)
            self._changed(request, host, "recovering")

    def _changed(self, request: Request, host: str, why: str) -> None:
        """Put the host's delay and pause on its download slot; log and record the delay
        when it changed.

        Requests already past :meth:`process_request` wait in the slot's queue: the slot
        sends nothing before ``lastseen + delay`` (Scrapy's own clock is ``monotonic`` too),
        so a ``lastseen`` at the pause's end holds them (a delay of 0 would skip the test).
        """
        st = self.pace.state(host)
        delay = st.delay
        slots: dict[str, Any] = getattr(
            getattr(self.crawler.engine, "downloader", None), "slots", {}
        )
        slot = slots.get(request.meta.get("download_slot", ""))
        if slot is not None:
            slot.delay = max(delay, MIN_SLOT_DELAY) if st.paused else delay
            slot.lastseen = max(slot.lastseen, st.not_before)
        before = self._logged.get(host, self.pace.base_delay)
        if round(before, 1) == round(delay, 1):
            return
        self._logged[host] = delay
        site, run_id = self._run()
        log.log(
            logging.WARNING if delay > before else logging.INFO,  # growth is news
            "site %s run %d: host %s: delay between requests now %.1fs (%s)",
            site,
            run_id,
            host,
            delay,
            why,
        )
        recorder = getattr(self.crawler.spider, "recorder", None)
        if recorder is not None:
            recorder.host_pace(host, delay, st.throttled)

    def _run(self) -> tuple[str, int]:
        """The site's name and the run's id, for log lines."""
        spider = self.crawler.spider
        site = getattr(getattr(spider, "site", None), "name", "?")
        return site, int(getattr(getattr(spider, "recorder", None), "run_id", 0))
