"""Values of the link checker: its settings, what one fetch saw, the verdict, the report.

``LinkSettings`` is built by ``scheduler.config`` from the ``[links]`` section (and the
``[crawl]`` user agent); the checker never reads configuration itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from crawler.site import DEFAULT_USER_AGENT

# What a link is, after its checks (see crawler.linkcheck.classify and crawler.linkcheck.state):
#   unchecked   found on a page, not checked yet
#   ok          answers 2xx (or a temporary redirect to a 2xx)
#   redirected  permanently redirected (301/308) to another URL that answers: report the new URL
#   dead        404/410, host name not found, or the same hard failure on N checks over a span
#   soft_404    a 200 page that is an error page, or a deep link redirected to the home page
#   error       5xx, timeout, reset, redirect loop: transient until it persists past the threshold
#   blocked     401/403/412/420/429 or an anti-bot challenge page: never dead
#   refused     not checked: private address (SSRF guard) or a scheme other than http(s)
LinkStatus = Literal[
    "unchecked", "ok", "redirected", "dead", "soft_404", "error", "blocked", "refused"
]
LINK_STATUSES: tuple[str, ...] = (
    "unchecked",
    "ok",
    "redirected",
    "dead",
    "soft_404",
    "error",
    "blocked",
    "refused",
)
BROKEN: frozenset[str] = frozenset({"dead", "soft_404"})  # entering: "newly dead"
HEALTHY: frozenset[str] = frozenset({"ok", "redirected"})  # leaving BROKEN for these: "recovered"

# Why a fetch produced no HTTP answer.
Failure = Literal[
    "timeout",
    "connection",
    "dns_not_found",
    "dns",
    "refused",
    "redirect_loop",
    "too_many_redirects",
    "invalid_url",
    "protocol",
]


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """How the checker behaves (the ``[links]`` section of the configuration)."""

    user_agent: str = DEFAULT_USER_AGENT
    allow_private_addresses: bool = False
    allowed_networks: tuple[str, ...] = ()  # CIDRs checked even though private
    timeout_seconds: float = 15.0
    concurrent_requests: int = 32
    concurrent_requests_per_host: int = 2
    delay_seconds: float = 1.0
    retries: int = 1
    retry_delay_seconds: float = 2.0
    max_redirects: int = 10
    max_body_bytes: int = 256 * 1024
    recheck_ok_hours: float = 24.0
    recheck_suspect_hours: float = 1.0
    recheck_blocked_hours: float = 12.0
    recheck_dead_hours: float = 24.0
    recheck_max_hours: float = 168.0
    dead_after_failures: int = 3
    dead_after_hours: float = 24.0
    history_per_link: int = 20
    schedule: str = "every 1h"


@dataclass(frozen=True, slots=True)
class Hop:
    """One redirect answer on the way to the final URL."""

    status: int
    url: str  # the URL that answered with the redirect
    location: str  # where it pointed (absolute)


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    """What one HEAD or GET of a link saw, redirects followed (or why it saw nothing)."""

    url: str  # as requested first
    method: str  # "HEAD" or "GET"
    hops: tuple[Hop, ...] = ()
    final_url: str = ""  # the URL that gave the final answer
    status: int | None = None  # final HTTP status; None when ``failure`` is set
    content_type: str | None = None
    body: bytes | None = None  # GET only, at most ``max_body_bytes``
    failure: Failure | None = None
    message: str = ""  # one line about the failure
    elapsed_ms: int = 0


@dataclass(frozen=True, slots=True)
class Verdict:
    """The classification of one check of one link."""

    status: LinkStatus
    http_status: int | None = None
    detail: str = ""  # "HTTP 404", "页面不存在", "timed out", "redirect loop" …
    redirect_url: str | None = None  # redirected/soft_404: where the link leads now
    final_url: str | None = None
    method: str = ""
    elapsed_ms: int = 0
    host_not_found: bool = False  # the name did not resolve (dead only if the resolver works)


@dataclass(frozen=True, slots=True)
class CheckProgress:
    """Handed to the progress callback as links are checked."""

    checked: int
    total: int
    broken: int  # checks so far in this run that found a link dead or a soft 404
    errors: int  # checks so far that failed (5xx, timeout, reset …)


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What one run of the checker did."""

    due: int  # links claimed for checking
    checked: int
    by_status: tuple[tuple[str, int], ...] = ()  # status after the check -> links
    newly_dead: int = 0
    recovered: int = 0
    articles_gone: int = 0  # stored articles whose page now answers 404/410 (or a soft 404)
    seconds: float = 0.0
    adopted: int = 0  # stored articles added to the inventory by this run
    message: str = ""  # why the run stopped early, if it did

    def count(self, status: str) -> int:
        return dict(self.by_status).get(status, 0)

    @property
    def links_per_second(self) -> float:
        return self.checked / self.seconds if self.seconds > 0 else 0.0
