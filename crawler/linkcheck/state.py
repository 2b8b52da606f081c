"""A link's state across checks: when an error becomes dead, when to check again, events.

:func:`apply_verdict` is pure: the link's previous state, one check's verdict, the time and
the settings in; the link's new state out.  The rules ("never cry wolf"):

- ``ok``/``redirected``/``dead``/``soft_404``/``refused`` verdicts are taken as they are
  (404/410, NXDOMAIN and soft 404s are answers, not accidents).
- An ``error`` (5xx, timeout, reset, loop) is transient: the link is ``error`` until
  ``dead_after_failures`` error checks in a row span at least ``dead_after_hours`` — only then
  is it ``dead``.  Any mix of errors counts (a dying server alternates 502s and timeouts);
  any answer that is not an error ends the streak.  A link that is already dead or soft-404
  stays so on an error: an error does not prove it is back.
- ``blocked`` is never dead, and never "recovered" either: a dead link that now answers 403
  stays dead (the last check's status and detail are still recorded).
- Events: ``newly_dead`` when a link enters ``dead``/``soft_404`` from any other status
  (a new link found dead included), ``recovered`` when it leaves them for ``ok``/``redirected``.
- Re-check intervals back off for stable links and tighten for suspect ones: healthy links
  after ``recheck_ok_hours``, doubling with each healthy check up to ``recheck_max_hours``;
  errors after ``recheck_suspect_hours``, doubling with each failure up to
  ``recheck_ok_hours`` (so a streak spans the dead threshold in a few checks); dead and
  blocked links after their own interval, doubling up to ``recheck_max_hours``.
- A stored article whose own page now answers 404/410 (or is a soft 404) is flagged as
  gone; it is unflagged when its page answers again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from crawler.linkcheck.records import BROKEN, HEALTHY, LinkSettings, Verdict
from storage.link_records import LinkToCheck, LinkUpdate

_MAX_DOUBLINGS = 16


def apply_verdict(
    link: LinkToCheck, verdict: Verdict, now: datetime, settings: LinkSettings
) -> LinkUpdate:
    """The link's new state after ``verdict`` (see the module docstring)."""
    prev = link.status
    failures, failing_since = 0, None
    status: str = verdict.status
    if verdict.status == "error":
        failures = link.consecutive_failures + 1
        failing_since = link.failing_since or now
        span = now - failing_since
        threshold = timedelta(hours=settings.dead_after_hours)
        if failures >= settings.dead_after_failures and span >= threshold:
            status = "dead"
        elif prev in BROKEN:
            status = prev
    elif verdict.status == "blocked" and prev in BROKEN:
        status = prev
    streak = link.streak + 1 if status == prev else 1
    event = None
    if status in BROKEN and prev not in BROKEN:
        event = "newly_dead"
    elif status in HEALTHY and prev in BROKEN:
        event = "recovered"
    gone: bool | None = None
    if verdict.status == "soft_404" or (
        verdict.status == "dead" and verdict.http_status in (404, 410)
    ):
        gone = True
    elif verdict.status in HEALTHY:
        gone = False
    return LinkUpdate(
        id=link.id,
        url=link.url,
        status=status,
        status_since=link.status_since if status == prev else now,
        http_status=verdict.http_status,
        detail=verdict.detail,
        redirect_url=verdict.redirect_url if status in ("redirected", "soft_404") else None,
        checked_at=now,
        next_check_at=now + recheck_interval(status, streak, failures, settings),
        streak=streak,
        consecutive_failures=failures,
        failing_since=failing_since,
        previous_status=prev,
        result=verdict.status,
        final_url=verdict.final_url,
        method=verdict.method,
        elapsed_ms=verdict.elapsed_ms,
        event=event,
        article_gone=gone,
    )


def recheck_interval(status: str, streak: int, failures: int, settings: LinkSettings) -> timedelta:
    """How long until a link in ``status`` (for ``streak`` checks) is checked again."""
    cap = settings.recheck_max_hours
    if status in HEALTHY:
        base, n = settings.recheck_ok_hours, streak
    elif status == "error":
        base, n = settings.recheck_suspect_hours, failures
        cap = max(settings.recheck_ok_hours, base)
    elif status in BROKEN:
        base, n = settings.recheck_dead_hours, streak
    elif status == "blocked":
        base, n = settings.recheck_blocked_hours, streak
    else:  # refused, unchecked
        base, n = cap, 1
    doublings = min(max(n - 1, 0), _MAX_DOUBLINGS)
    hours = min(base * 2**doublings, max(cap, base))
    return timedelta(hours=hours)
