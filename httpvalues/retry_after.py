"""``Retry-After`` (RFC 9110 §10.2.3): a count of seconds or an HTTP date, read as seconds.

Written here because no library in our dependencies parses it as a free function: the
date half is :func:`email.utils.parsedate_to_datetime` (the standard library's RFC 5322
date parser, which also reads the RFC 850 and asctime forms HTTP recipients must accept),
the rest is this helper.  urllib3's
``Retry.parse_retry_after`` does the same but is a method of its retry policy, and it is
not a dependency of govwatch.  Shared by ``crawler.guards.retry`` / ``crawler.guards.hostpace`` and
``digest.channels.http``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# a delay a server may ask for and still be taken at its word; callers cap it lower
_LONGEST_SECONDS = 366 * 24 * 3600.0


def retry_after_seconds(value: str | bytes | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` value asks the client to wait (0 for a date in the past),
    or ``None`` when there is no value or it is neither form.

    Only ASCII digits count as seconds (``"²"`` and other Unicode digits are not a delay);
    a number too large to be meant, or an absurdly distant date, reads as a year at most
    (finite, so callers can add it to a time)."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        seconds = float(text)
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:  # "-0000" or asctime (no zone): HTTP dates are in GMT
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return _LONGEST_SECONDS
    return min(max(0.0, seconds), _LONGEST_SECONDS)
