"""The Jinja2 environment of the web view: autoescaped templates and the filters that show
times in Beijing time, to the precision the page gave them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import jinja2

from storage.records import DATE_ONLY_PRECISIONS

BEIJING = timezone(timedelta(hours=8))


def beijing(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "" if value is None else value.astimezone(BEIJING).strftime(fmt)


def published(value: datetime | None, precision: str | None = None) -> str:
    """A publish time: the date alone when the page showed no time of day (never a made-up
    00:00), and said so when the date came from the URL."""
    if value is None:
        return "unknown"
    if precision in DATE_ONLY_PRECISIONS:
        day = beijing(value, "%Y-%m-%d")
        return f"{day} (date from the URL)" if precision == "url" else day
    return beijing(value)


def href(url: str | None) -> str:
    """A link target from stored data: http(s) URLs only (a ``javascript:`` or ``data:``
    URL a page carried becomes a dead ``#``); the template's autoescape quotes it."""
    text = (url or "").strip()
    return text if text.lower().startswith(("http://", "https://")) else "#"


def query(pairs: dict[str, object]) -> str:
    return urlencode([(k, str(v)) for k, v in pairs.items() if v not in (None, "")])


def build_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("web", "templates"),
        autoescape=True,  # every template: all site text is escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["beijing"] = beijing
    env.filters["published"] = published
    env.filters["query"] = query
    env.filters["href"] = href
    return env
