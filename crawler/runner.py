"""Run crawls of configured sites in this process, each recorded as a crawl run.

Scrapy's reactor can start once per process, so one call of :func:`run_crawls` runs every
requested site at once (each with its own per-host politeness) and returns when all have
finished.  The service runs each crawl in a child process for that reason.
"""

from __future__ import annotations

import gc
import inspect
import logging
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings
from scrapy.settings.default_settings import DEFAULT_REQUEST_HEADERS, EXTENSIONS_BASE

from crawler.guards import headerlimit
from crawler.guards.addressguard import (
    ALLOWED_NETWORKS_SETTING,
    ALLOWED_URLS_SETTING,
    MIDDLEWARE_PRIORITY,
)
from crawler.guards.challenge import CHALLENGE_TIMEOUT_SETTING
from crawler.guards.challenge import MIDDLEWARE_PRIORITY as CHALLENGE_PRIORITY
from crawler.guards.cookiejar import MIDDLEWARE_PRIORITY as COOKIES_PRIORITY
from crawler.guards.hostpace import RETRY_AFTER_MAX_SETTING
from crawler.offload import PageExtractor
from crawler.recorder import RunRecorder, RunReport
from crawler.site import CrawlSettings, Site
from crawler.spider import SiteSpider
from crawler.store.calls import CrawlStore
from crawler.writer import Writer

log = logging.getLogger(__name__)

RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 403, 412, 420, 429]
# Scrapy's default list, less "host not found": retrying a name that does not resolve only
# delays the run's failure (the next scheduled run tries again anyway).
RETRY_EXCEPTIONS = [
    "scrapy.exceptions.DownloadConnectionRefusedError",
    "scrapy.exceptions.DownloadFailedError",
    "scrapy.exceptions.DownloadTimeoutError",
    "scrapy.exceptions.ResponseDataLossError",
    "twisted.internet.error.ConnectionDone",
    "twisted.internet.error.ConnectError",
    "twisted.internet.error.ConnectionLost",
    OSError,
    "scrapy.core.downloader.handlers.http11.TunnelError",
]


def _import_tls_factories() -> None:
    """Import Scrapy's TLS context factory modules now, at a fraction of their usual cost.

    Both define deprecated aliases through ``scrapy.utils.deprecate.create_deprecated_class``,
    which calls :func:`inspect.stack` only to name each alias's module.  That reads the
    source line of every frame on the stack and, for each frozen import frame, scans
    ``sys.modules``: 0.17 s with Scrapy alone loaded, 0.6 s in a crawl process with
    SQLAlchemy and the extractor loaded (measured under load), every crawl.  While they are
    imported, :func:`inspect.stack` returns the frames without their source (all the alias
    reads is the frame).
    """
    real = inspect.stack

    def frames_only(context: int = 1) -> list[inspect.FrameInfo]:
        frames: list[inspect.FrameInfo] = []
        frame: FrameType | None = sys._getframe(1)
        while frame is not None:
            code = frame.f_code
            frames.append(
                inspect.FrameInfo(frame, code.co_filename, frame.f_lineno, code.co_name, None, None)
            )
            frame = frame.f_back
        return frames

    inspect.stack = frames_only
    try:
        import scrapy.core.downloader.contextfactory
        import scrapy.core.downloader.tls  # noqa: F401
    finally:
        inspect.stack = real


_import_tls_factories()

# Scrapy's default extensions that govwatch's crawls do not use (see crawl_settings).
UNUSED_EXTENSIONS = (
    "scrapy.extensions.corestats.CoreStats",  # Scrapy's counters: the run records its own
    "scrapy.extensions.telnet.TelnetConsole",
    "scrapy.extensions.memdebug.MemoryDebugger",
    "scrapy.extensions.feedexport.FeedExporter",
    "scrapy.extensions.logstats.LogStats",
    "scrapy.extensions.spiderstate.SpiderState",
    "scrapy.extensions.throttle.AutoThrottle",
    "scrapy.extensions.remote_control.RemoteControl",
)


def fastest_reactor() -> str:
    """The quickest Twisted reactor for this platform.

    Scrapy's default asyncio reactor stalls tens of milliseconds on each request when a host's
    requests are sequential (one per host is govwatch's politeness default): measured on a
    300-page local crawl, 9.1 s with asyncio against 2.2 s with epoll.
    """
    if sys.platform.startswith("linux"):
        return "twisted.internet.epollreactor.EPollReactor"
    if sys.platform == "darwin" or "bsd" in sys.platform:
        return "twisted.internet.kqreactor.KQueueReactor"
    return "twisted.internet.selectreactor.SelectReactor"


def scrapy_settings(settings: CrawlSettings, start_urls: Sequence[str] = ()) -> Settings:
    """Scrapy settings for govwatch's crawls, from the ``[crawl]`` configuration.

    ``start_urls``: every crawled site's, whose origins the crawl's resolver allows even when
    internal (the address guard middleware allows each site only its own).
    """
    return Settings(
        {
            "BOT_NAME": "govwatch",
            "TWISTED_REACTOR": fastest_reactor(),
            "REMOTE_CONTROL_ENABLED": False,
            # Scrapy starts this many cooperative tasks for every response's output; ours
            # yield at most one item or a list page's links, and 100 tasks per page showed
            # up as a tenth of the crawl's time.
            "CONCURRENT_ITEMS": 8,
            # Responses downloaded but not yet extracted (waiting for the extraction worker)
            # hold Scrapy's intake at 1 MB (~20 article pages) instead of its 5 MB (~110): the
            # worker never runs dry, and a crawl whose worker is the slower half does not
            # keep a hundred pages in memory, and to extract after its last request.
            "SCRAPER_SLOT_MAX_ACTIVE_SIZE": 1_000_000,
            "USER_AGENT": settings.user_agent,
            "ROBOTSTXT_OBEY": settings.obey_robots_txt,
            "CONCURRENT_REQUESTS": settings.concurrent_requests,
            "CONCURRENT_REQUESTS_PER_DOMAIN": settings.concurrent_requests_per_host,
            "DOWNLOAD_TIMEOUT": settings.timeout_seconds,
            "DOWNLOAD_MAXSIZE": settings.max_page_bytes,
            "DOWNLOAD_WARNSIZE": 0,
            "RETRY_ENABLED": settings.retries > 0,
            "RETRY_TIMES": settings.retries,
            "RETRY_HTTP_CODES": RETRY_HTTP_CODES,
            "RETRY_EXCEPTIONS": RETRY_EXCEPTIONS,
            "RETRY_GIVE_UP_LOG_LEVEL": "INFO",  # the run records and logs the failure itself
            "GOVWATCH_RETRY_BACKOFF": settings.retry_backoff_seconds,
            "GOVWATCH_RETRY_BACKOFF_MAX": settings.retry_backoff_max_seconds,
            RETRY_AFTER_MAX_SETTING: settings.retry_after_max_seconds,
            "REDIRECT_MAX_TIMES": 5,
            "COOKIES_ENABLED": True,
            "TELNETCONSOLE_ENABLED": False,
            "LOGSTATS_INTERVAL": 0,
            "STATS_DUMP": False,
            "LOG_LEVEL": settings.log_level,
            "LOG_ENABLED": True,
            # not the versions of Scrapy's dependencies at every start (one runs `uname -p`)
            "LOG_VERSIONS": [],
            "LOG_INSTALL_ROOT_HANDLER": False,  # the command line configured logging
            # the address policy (crawler.net.addresses) on every request and hop, and on what
            # every host resolves to
            "TWISTED_DNS_RESOLVER": "crawler.guards.addressguard.GuardedCachingResolver",
            ALLOWED_NETWORKS_SETTING: list(settings.allowed_networks),
            ALLOWED_URLS_SETTING: list(start_urls),
            CHALLENGE_TIMEOUT_SETTING: settings.challenge_timeout_seconds,
            "DOWNLOADER_MIDDLEWARES": {
                "crawler.guards.addressguard.AddressGuardMiddleware": MIDDLEWARE_PRIORITY,
                "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
                "crawler.guards.retry.BackoffRetryMiddleware": 550,
                "crawler.guards.challenge.ChallengeMiddleware": CHALLENGE_PRIORITY,
                # Scrapy's cookie jar, plus cookies set by page scripts, the site's cookie
                # rule, and cookies kept between runs (crawler.guards.cookiejar)
                "scrapy.downloadermiddlewares.cookies.CookiesMiddleware": None,
                "crawler.guards.cookiejar.ReplayCookiesMiddleware": COOKIES_PRIORITY,
                # above the retry: it sees a throttling answer before it becomes a retry
                "crawler.guards.hostpace.HostPaceMiddleware": 560,
                # after Scrapy's cookie jar (700), which replaces the Cookie header
                "crawler.guards.sitecookie.SiteCookieMiddleware": 750,
                "scrapy.downloadermiddlewares.stats.DownloaderStats": None,  # (see below)
                # Scrapy's, without decoding every page to look for a refresh
                "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
                "crawler.net.metarefresh.MetaRefreshMiddleware": 580,
            },
            # Scrapy's middlewares that only count (stats no one reads: the run records its
            # own) or warn a spider's author at development time, at every request or link
            "SPIDER_MIDDLEWARES": {
                "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
                "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None,
            },
            "ITEM_PIPELINES": {"crawler.pipeline.StoragePipeline": 300},
            "SPIDER_LOADER_WARN_ONLY": True,
            # Extensions a govwatch crawl never turns on are not even imported: disabled by a
            # setting they still cost their imports (the remote control's aiohttp server, the
            # telnet console's twisted.conch, the feed exporters' storages) at every start.
            # Left out of the base list, not set to None in EXTENSIONS: Scrapy (2.13+) imports
            # every key of EXTENSIONS to normalise it, a disabled one too.
            "EXTENSIONS_BASE": {
                path: order
                for path, order in EXTENSIONS_BASE.items()
                if path not in UNUSED_EXTENSIONS
            },
        }
    )


def run_crawls(
    store: CrawlStore,
    sites: Sequence[Site],
    settings: CrawlSettings,
    *,
    on_start: Callable[[Site, int], None] | None = None,
    on_finish: Callable[[RunReport], None] | None = None,
    install_signal_handlers: bool = True,
    extractor: PageExtractor | None = None,
) -> list[RunReport]:
    """Crawl each site once, concurrently, and return one report per site (in order).

    Every run is recorded before it starts, so a run that dies is visible as ``running``
    (and later marked interrupted).  Pages that fail are recorded as errors of their run.
    ``extractor``: the page extractor to use (its workers started early, see
    :mod:`crawler.offload`), closed here; else one is made.
    """
    if extractor is None:
        extractor = PageExtractor(settings.extraction_workers())
    try:
        headerlimit.install()  # Twisted keeps every header line a server sends, without end
        process = CrawlerProcess(
            scrapy_settings(settings, [url for site in sites for url in site.start_urls])
        )
        # Scrapy's logging setup resets its loggers to DEBUG; the [crawl] log level decides.
        logging.getLogger("scrapy").setLevel(settings.log_level.upper())
        reports: dict[str, RunReport] = {}
        for n, site in enumerate(sites):
            recorder = RunRecorder.start(store, site)
            if n == 0:  # the database is open: the crawl starts in a moment
                extractor.warm_up()
            recorder.writer = Writer(site.name)  # batches are written beside the crawl
            if on_start is not None:
                on_start(site, recorder.run_id)
            crawler = process.create_crawler(spider_class(site))
            _watch(crawler, recorder, reports, on_finish)
            process.crawl(crawler, site=site, recorder=recorder, extractor=extractor)
        if not gc.isenabled():  # the command line's start-up (scheduler.cli.run): over
            gc.freeze()
            gc.enable()
        process.start(install_signal_handlers=install_signal_handlers)
    finally:
        extractor.close()
    for site in sites:
        if site.name not in reports:  # the reactor stopped before the spider closed
            log.error("site %s: the crawl ended without closing its spider", site.name)
    return [reports[s.name] for s in sites if s.name in reports]


def spider_class(site: Site) -> type[SiteSpider]:
    """A :class:`SiteSpider` subclass carrying the site's own settings: its delay, and the
    User-Agent and extra headers it is asked with (when the site sets them)."""
    custom: dict[str, Any] = {"DOWNLOAD_DELAY": site.delay_seconds}
    if site.user_agent:
        custom["USER_AGENT"] = site.user_agent
    if site.headers:
        custom["DEFAULT_REQUEST_HEADERS"] = {**DEFAULT_REQUEST_HEADERS, **dict(site.headers)}
    return type(
        f"SiteSpider_{site.name.replace('-', '_')}",
        (SiteSpider,),
        {"custom_settings": custom},
    )


def _watch(
    crawler: Crawler,
    recorder: RunRecorder,
    reports: dict[str, RunReport],
    on_finish: Callable[[RunReport], None] | None,
) -> None:
    started = time.monotonic()

    def closed(spider: Any, reason: str) -> None:
        report = recorder.finish(reason, time.monotonic() - started)
        reports[report.site] = report
        if on_finish is not None:
            on_finish(report)

    def failed(failure: Any, response: Any, spider: Any) -> None:
        # a defect in a callback (parse_list, parse_article): the page's links or article
        # are lost for this run, so it is an error of the run and its passes stay incomplete
        # (the next run walks on past stored articles), never a quiet "succeeded"
        error = failure.value
        recorder.error(
            getattr(response, "url", "?"),
            kind="defect",
            message=f"{type(error).__name__}: {error}",
        )

    crawler.signals.connect(closed, signal=signals.spider_closed, weak=False)
    crawler.signals.connect(failed, signal=signals.spider_error, weak=False)
