"""Send a site's browser cookie (``cookie_env``) to the site's own hosts.

A captcha is never solved: a person solves it once in a browser and copies the browser's
``Cookie:`` header into the environment variable the site's ``cookie_env`` names.  This
downloader middleware adds those cookies to every request to a host of the site's start
URLs, after Scrapy's cookie jar has written its own (the jar's value wins for a name the
site set itself during the crawl).  It never sends them to any other host.
"""

from __future__ import annotations

from scrapy import Request, Spider
from scrapy.crawler import Crawler

from crawler.guards.hostpace import host_of


def parse_cookie_header(text: str) -> dict[str, str]:
    """``name=value; name2=value2`` → a dict (pairs without ``=`` are dropped)."""
    out: dict[str, str] = {}
    for part in text.split(";"):
        name, eq, value = part.strip().partition("=")
        if eq and name.strip():
            out[name.strip()] = value.strip()
    return out


class SiteCookieMiddleware:
    """Adds ``spider.site.cookie`` to requests for the site's hosts (priority after 700)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self._hosts: dict[str, frozenset[str]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SiteCookieMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        site = getattr(self.crawler.spider, "site", None)
        cookie: str | None = getattr(site, "cookie", None)
        if site is None or not cookie:
            return
        hosts = self._hosts.get(site.name)
        if hosts is None:
            hosts = self._hosts[site.name] = frozenset(host_of(u) for u in site.start_urls)
        if host_of(request.url) not in hosts:
            return
        have = parse_cookie_header((request.headers.get(b"Cookie") or b"").decode("latin-1"))
        merged = {**parse_cookie_header(cookie), **have}
        request.headers[b"Cookie"] = "; ".join(f"{k}={v}" for k, v in merged.items())
        request.meta["govwatch_site_cookie"] = True
