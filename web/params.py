"""Query-string parameters of the web view, parsed strictly: a bad value is a 400 with one
line saying which parameter and why, never a traceback or a silently different answer."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone

from aiohttp import web

from storage.records import ArticleCursor

BEIJING = timezone(timedelta(hours=8))
MAX_SEARCH_CHARS = 200
MAX_NAME_CHARS = 64
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CURSOR = re.compile(r"\A(-|\d{1,19})\.(\d{1,19})\.(\d{1,19})(?:\.([tb]))?\Z")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_ID = 2**63 - 1  # ids are signed 64-bit integers


def bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=message + "\n")


def one(query: Mapping[str, str], name: str) -> str | None:
    """The parameter's value stripped; ``None`` when absent or empty."""
    value = query.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def text(query: Mapping[str, str], name: str, max_chars: int = MAX_SEARCH_CHARS) -> str | None:
    value = one(query, name)
    if value is None:
        return None
    if len(value) > max_chars:
        raise bad_request(f"{name}: at most {max_chars} characters")
    if _CONTROL.search(value):
        raise bad_request(f"{name}: control characters are not allowed")
    return value


def count(query: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    value = one(query, name)
    if value is None:
        return default
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        raise bad_request(f"{name}: not a whole number: {value[:40]!r}")
    number = int(value)
    if not 1 <= number <= maximum:
        raise bad_request(f"{name}: must be from 1 to {maximum}")
    return number


def day(query: Mapping[str, str], name: str) -> date | None:
    value = one(query, name)
    if value is None:
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise bad_request(f"{name}: not a date (YYYY-MM-DD): {value[:40]!r}") from None


def beijing_midnight(value: date) -> datetime:
    return datetime(value.year, value.month, value.day, tzinfo=BEIJING).astimezone(UTC)


def choice(query: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = one(query, name)
    if value is None:
        return default
    if value not in choices:
        raise bad_request(f"{name}: must be one of {', '.join(choices)}")
    return value


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


def encode_cursor(cursor: ArticleCursor) -> str:
    """A page's end as ``PUBLISHED.FIRST_SEEN.ID`` (microseconds since 1970; ``-`` for an
    unknown publish time), and on a search page ``.t`` or ``.b`` (it ended among the title
    hits, or the body hits): opaque to users, safe in a URL as it is."""
    published = "-" if cursor.publish_time is None else str(_micros(cursor.publish_time))
    group = "" if cursor.title_hit is None else (".t" if cursor.title_hit else ".b")
    return f"{published}.{_micros(cursor.first_seen)}.{cursor.id}{group}"


def cursor(query: Mapping[str, str], name: str = "after") -> ArticleCursor | None:
    value = one(query, name)
    if value is None:
        return None
    match = _CURSOR.match(value)
    try:
        if match is None:
            raise ValueError(value)
        published, first_seen, id_, group = match.groups()
        if int(id_) > MAX_ID:
            raise ValueError(id_)
        return ArticleCursor(
            publish_time=None
            if published == "-"
            else _EPOCH + timedelta(microseconds=int(published)),
            first_seen=_EPOCH + timedelta(microseconds=int(first_seen)),
            id=int(id_),
            title_hit=None if group is None else group == "t",
        )
    except (ValueError, OverflowError):
        raise bad_request(f"{name}: not a page cursor: {value[:40]!r}") from None
