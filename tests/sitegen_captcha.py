"""Guarded modes of the test site server: (c) a captcha interstitial, and throttling.

Set one as ``SiteServer.guard``; it answers before the site's pages, or returns None to let
the page through.  ``robots.txt`` always goes through.

- :class:`CaptchaGuard` — ccdi's slider captcha (``captchaPage``, ``seccaptcha.haplat.net``,
  ``comImageValidate``) with status 200 for every page, unless the request carries the
  cookie ``name=value`` (what a browser holds after a person passed the captcha).
- :class:`ThrottleGuard` — 420 or 429 with ``Retry-After`` for chosen request numbers
  (counted per host over non-robots requests); the server's log (``Logged.at``,
  ``Logged.host``) then shows when each request to the host came.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from tests.sitegen_common import Page
from tests.sitesrv import captcha_page

ROBOTS = "/robots.txt"


def captcha_interstitial() -> Page:
    """ccdi's slider captcha ("访问行为存在异常"), served with status 200, never cached."""
    return Page(body=captcha_page().body, headers={"Cache-Control": "no-store"})


def request_cookies(headers: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in headers.get("cookie", "").split(";"):
        name, eq, value = part.strip().partition("=")
        if eq:
            out[name] = value
    return out


@dataclass
class CaptchaGuard:
    """Mode (c): a captcha page unless the request carries the cookie ``name=value``."""

    name: str = "haplat_pass"
    value: str = "k7Q2-passed"
    served: int = 0  # captcha pages served

    def __call__(self, path: str, headers: dict[str, str]) -> Page | None:
        if path == ROBOTS or request_cookies(headers).get(self.name) == self.value:
            return None
        self.served += 1
        return captcha_interstitial()


@dataclass
class ThrottleGuard:
    """``status`` with ``Retry-After: retry_after`` for the requests numbered in ``at``
    (1-based, per host, robots.txt not counted)."""

    at: frozenset[int]
    status: int = 429
    retry_after: str = "2"
    counts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, path: str, headers: dict[str, str]) -> Page | None:
        if path == ROBOTS:
            return None
        host = headers.get("host", "")
        with self._lock:
            n = self.counts[host] = self.counts.get(host, 0) + 1
        if n not in self.at:
            return None
        reason = "Enhance Your Calm" if self.status == 420 else "Too Many Requests"
        body = f"<html><head><title>{self.status} {reason}</title></head></html>\n"
        return Page(
            body=body.encode(),
            status=self.status,
            content_type="text/html",
            headers={"Retry-After": self.retry_after},
        )
