"""Schedules of sites and digests: ``every 30m`` style intervals or 5-field cron expressions."""

from __future__ import annotations

import re
from dataclasses import dataclass

_EVERY = re.compile(r"^every\s+((?:\d+\s*[smhd]\s*)+)$", re.IGNORECASE)
_PART = re.compile(r"(\d+)\s*([smhd])", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
TIMEZONE = "Asia/Shanghai"  # cron expressions are read in Beijing time, like the sites


@dataclass(frozen=True, slots=True)
class Schedule:
    """``interval_seconds`` for ``every …``; ``cron`` for a crontab expression."""

    text: str
    interval_seconds: int | None = None
    cron: str | None = None


def parse_schedule(text: str, min_seconds: int = 60) -> Schedule:
    """Parse ``every 30m`` / ``every 1h30m`` / ``0 8 * * *``; raises ``ValueError``.

    ``every`` schedules shorter than ``min_seconds`` are refused (``[service]
    min_schedule_seconds`` lowers it, for tests and benchmarks against a local site).
    """
    text = text.strip()
    match = _EVERY.match(text)
    if match:
        seconds = sum(
            int(n) * _UNIT_SECONDS[unit.lower()] for n, unit in _PART.findall(match.group(1))
        )
        if seconds < min_seconds:
            shortest = f"{min_seconds // 60}m" if min_seconds % 60 == 0 else f"{min_seconds}s"
            raise ValueError(f"{text!r}: the shortest schedule is every {shortest}")
        return Schedule(text=text, interval_seconds=seconds)
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"{text!r} is neither 'every N[smhd]' nor a 5-field cron expression")
    # APScheduler (and asyncio with it) only for a cron expression: `status` and the other
    # quick commands start without it when every schedule is `every …`
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(text, timezone=TIMEZONE)
    except ValueError as exc:
        raise ValueError(f"{text!r}: invalid cron expression: {exc}") from exc
    return Schedule(text=text, cron=text)
