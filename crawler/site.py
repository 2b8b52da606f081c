"""What the crawler needs to know about a site and about crawling in general.

These are built by ``scheduler.config`` from the TOML file and passed down; the crawler
never reads configuration itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from crawler.extract.records import Selectors

# a site's ``challenge`` setting: what to do about JavaScript challenges (crawler.guards.challenge)
CHALLENGE_MODES = ("auto", "replay", "browser", "off")
DEFAULT_USER_AGENT = "govwatch/0.1 (+https://github.com/govwatch/govwatch; site monitor)"
# ``extract_workers = "auto"``: one extraction worker per core but the crawl's own
AUTO_WORKERS = "auto"


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # no affinity on this platform
        return os.cpu_count() or 1


def auto_workers(cores: int | None = None) -> int:
    """Extraction workers for ``"auto"``: the cores less the crawl's own, at least one."""
    return max(1, (usable_cores() if cores is None else cores) - 1)


@dataclass(frozen=True, slots=True)
class Site:
    """One configured site: where its lists are, which links are articles, how to be polite."""

    name: str
    title: str
    start_urls: tuple[str, ...]
    article_url_pattern: re.Pattern[str]
    max_list_pages: int = 5
    delay_seconds: float = 2.0
    schedule: str = "every 30m"
    selectors: Selectors = field(default_factory=Selectors)
    list_link_selector: str | None = None  # CSS/XPath of article links on list pages
    pagination_selector: str | None = None  # CSS/XPath of links to further list pages
    enabled: bool = True
    stop_at_known_page: bool = True  # stop paginating at a list page of known articles only
    recheck_days: int = 0  # re-fetch known articles published this recently (0: never)
    conditional_requests: bool = True  # send If-None-Match / If-Modified-Since for lists
    # JavaScript challenges: "auto" | "replay" | "browser" | "off" (crawler.guards.challenge)
    challenge: str = "auto"
    # cookie replay and identity (crawler.guards.cookiejar, crawler.net.cookierules)
    cookie_rule: str | None = None  # a rule of crawler.net.cookierules.RULES, or none
    user_agent: str | None = None  # None: the crawl's own ([crawl] user_agent)
    headers: tuple[tuple[str, str], ...] = ()  # extra request headers, in config order
    # a Cookie: string copied from a browser (from the variable cookie_env names), sent to
    # the site's hosts; never shown (repr=False) or logged
    cookie: str | None = field(default=None, repr=False)
    cookie_env: str | None = None  # the variable's name, for messages

    def is_article_url(self, url: str) -> bool:
        return self.article_url_pattern.search(url) is not None


@dataclass(frozen=True, slots=True)
class CrawlSettings:
    """Crawl behaviour shared by every site (the ``[crawl]`` section of the config)."""

    user_agent: str = DEFAULT_USER_AGENT
    obey_robots_txt: bool = True
    concurrent_requests: int = 8
    concurrent_requests_per_host: int = 1
    timeout_seconds: float = 30.0
    retries: int = 3
    retry_backoff_seconds: float = 2.0
    retry_backoff_max_seconds: float = 60.0
    retry_after_max_seconds: float = 600.0  # a server's Retry-After is honoured up to this
    max_page_bytes: int = 10 * 1024 * 1024
    log_level: str = "WARNING"
    extract_workers: int | str = AUTO_WORKERS  # a count, or "auto" (see extraction_workers)
    # nice levels by which the crawl process and its database child yield the cores to the
    # extraction workers, the crawl's bottleneck when cores are few (0: equal priority)
    defer_to_workers: int = 10
    # networks crawls and ``extract URL`` may fetch although internal (besides the origins
    # of each site's start URLs, and the URL given to ``extract``)
    allowed_networks: tuple[str, ...] = ()
    # longest wait for the browser to pass a JavaScript challenge (crawler.guards.browser)
    challenge_timeout_seconds: float = 30.0

    def extraction_workers(self) -> int:
        """How many extraction worker processes a crawl may start (0: none)."""
        if self.extract_workers == AUTO_WORKERS:
            return auto_workers()
        return int(self.extract_workers)


# the [crawl] defaults, for components that fall back on them when a Scrapy setting the
# runner always sets is absent (a crawler built by a test): declared once, above
CRAWL_DEFAULTS = CrawlSettings()


def site_hosts(sites: Iterable[Site]) -> dict[str, str | None]:
    """The host names of the sites' start URLs, each with its site's cookie rule (``None``:
    none; a rule wins when two sites share a host)."""
    hosts: dict[str, str | None] = {}
    for site in sites:
        for url in site.start_urls:
            host = (urlsplit(url).hostname or "").lower()
            if host:
                hosts[host] = hosts.get(host) or site.cookie_rule
    return hosts
