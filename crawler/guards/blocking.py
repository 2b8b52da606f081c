"""Why a site blocked a crawl, and what the user can do about it.

A run whose every failure is a guard's answer (a captcha, a JavaScript challenge, a rejected
browser cookie, throttling) and that stored nothing is ``blocked``, not ``failed``: the site
is up, it refuses the crawler.  Its message starts with the reason (one of :data:`REASONS`)
and says what to do; ``govwatch status``, ``/metrics`` and the digest read the reason back
with :func:`blocked_reason`.  The per-host delays a run ended with are a message part
starting with :data:`PACE_PREFIX` (:func:`pace_note`).
"""

from __future__ import annotations

from collections.abc import Mapping

from crawler.site import Site

CAPTCHA = "captcha"
CHALLENGE = "JavaScript challenge unsolved"
COOKIE_EXPIRED = "cookie expired"
RATE_LIMITED = "rate limited"
REFUSED_ACCESS = "access refused"
# most telling first: the run's reason is the first of these its pages met
REASONS = (COOKIE_EXPIRED, CAPTCHA, CHALLENGE, RATE_LIMITED, REFUSED_ACCESS)
CHALLENGE_STATUSES = frozenset({412, 521})
PACE_PREFIX = "per-host delay: "


def reason_for(site: Site, status: int | None, body: bytes = b"", challenge: bool = False) -> str:
    """The reason a page of ``site`` was blocked: its status, its body, or a challenge page."""
    # imported here: status and /metrics read reasons back without Scrapy (crawler.guards.hostpace)
    from crawler.guards.hostpace import RATE_STATUSES, is_captcha_body

    if is_captcha_body(body):
        return COOKIE_EXPIRED if site.cookie else CAPTCHA
    if status in RATE_STATUSES:
        return RATE_LIMITED
    if challenge or status in CHALLENGE_STATUSES:
        return COOKIE_EXPIRED if site.cookie else CHALLENGE
    return REFUSED_ACCESS


def hint(site: Site, reason: str) -> str:
    """The run's message for ``reason``: what happened and what to do."""
    var = site.cookie_env or f"GOVWATCH_{site.name.upper().replace('-', '_')}_COOKIE"
    if reason == COOKIE_EXPIRED:
        return f"{COOKIE_EXPIRED}: copy a fresh one into ${var}"
    if reason == CAPTCHA:
        return (
            f"{CAPTCHA}: the site answered with a captcha, which govwatch never solves; pass it "
            f"once in a browser, copy the browser's Cookie: header into ${var} and set "
            f'cookie_env = "{var}" for the site'
        )
    if reason == CHALLENGE:
        return (
            f"{CHALLENGE}: the site answered with a JavaScript challenge; pass it once in a "
            f'browser and copy the Cookie: header into ${var} (cookie_env = "{var}")'
        )
    if reason == RATE_LIMITED:
        return f"{RATE_LIMITED}: the site answered HTTP 420/429 until the retries ran out"
    return f"{REFUSED_ACCESS}: the site refused every request (HTTP 401/403)"


def main_reason(counts: Mapping[str, int]) -> str:
    return next((r for r in REASONS if counts.get(r)), REFUSED_ACCESS)


def blocked_reason(message: str | None) -> str | None:
    """The reason a ``blocked`` run's message starts with (None when it names none)."""
    text = message or ""
    return next((r for r in REASONS if text.startswith(r + ":")), None)


def pace_note(delays: Mapping[str, tuple[float, int]]) -> str:
    """The message part for the hosts that were throttled: ``host delay after N``."""
    parts = [
        f"{host} {delay:.1f}s after {throttled} x 420/429"
        for host, (delay, throttled) in sorted(delays.items())
        if throttled
    ]
    return PACE_PREFIX + ", ".join(parts) if parts else ""


def pace_in(message: str | None) -> str | None:
    """The per-host delay part of a run's message, if it has one."""
    for part in (message or "").split("; "):
        if part.startswith(PACE_PREFIX):
            return part[len(PACE_PREFIX) :]
    return None
