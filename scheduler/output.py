"""Rendering records for the terminal: tables that line up with Chinese text, JSON, CSV.

Stored text is printed through :func:`crawler.extract.textclean.clean_text` (rows stored before the
extractor cleaned its fields may still hold terminal escapes), and CSV cells that a
spreadsheet would run as a formula are quoted with a leading ``'``.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from typing import Any

from crawler.extract.textclean import clean_text
from storage.records import DATE_ONLY_PRECISIONS, ArticleView

# CSV cells starting with these are formulas to a spreadsheet (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
_SHOW_FMT = "%Y-%m-%d %H:%M %z"
ARTICLE_FIELDS = (
    "id",
    "site",
    "url",
    "title",
    "publish_time",
    "publish_time_precision",
    "source",
    "author",
    "body",
    "first_seen",
    "canonical_url",
    "pretitle",
    "subtitle",
    "editor",
    "last_seen",
    "duplicate_of",
    "revision",
    "changed_at",
    "gone_at",
    "gone_status",
)


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def csv_cell(value: object) -> object:
    """A CSV cell value that a spreadsheet will not run as a formula.

    Text starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading
    ``'`` (the OWASP advice); other values are returned as they are.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_row(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with every cell passed through :func:`csv_cell`."""
    return {key: csv_cell(value) for key, value in record.items()}


def fit(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` terminal columns (with an ellipsis) and pad it."""
    text = " ".join(clean_text(text).split())
    if display_width(text) > width:
        out, used = [], 0
        for ch in text:
            w = display_width(ch)
            if used + w > width - 1:
                break
            out.append(ch)
            used += w
        text = "".join(out) + "…"
    return text + " " * (width - display_width(text))


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], widths: Sequence[int]) -> str:
    lines = ["  ".join(fit(h, w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(fit(c, w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines)


def beijing(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "" if value is None else value.astimezone(BEIJING).strftime(fmt)


def published(
    value: datetime | None,
    precision: str | None,
    fmt: str = "%Y-%m-%d %H:%M",
    *,
    say_url: bool = False,
) -> str:
    """A publish time in Beijing time; the date alone when the page showed no time of day
    (``day``) or no date at all (``url``: the date is the URL's, said so when ``say_url``),
    never a made-up 00:00."""
    if value is not None and precision in DATE_ONLY_PRECISIONS:
        day = beijing(value, "%Y-%m-%d")
        return f"{day} (date from the URL)" if precision == "url" and say_url else day
    return beijing(value, fmt)


def iso(value: datetime | None, *, zone: timezone | None = None) -> str | None:
    if value is None:
        return None
    return (value.astimezone(zone) if zone else value).isoformat()


def article_record(article: ArticleView) -> dict[str, Any]:
    """An article as a JSON-ready dict: publish time in Beijing time, first seen in UTC."""
    data = asdict(article)
    data["publish_time"] = iso(article.publish_time, zone=BEIJING)
    data["first_seen"] = iso(article.first_seen)
    data["last_seen"] = iso(article.last_seen)
    data["changed_at"] = iso(article.changed_at)
    data["gone_at"] = iso(article.gone_at)
    return {key: data[key] for key in ARTICLE_FIELDS}


def articles_json(articles: Sequence[ArticleView]) -> str:
    return "".join(json.dumps(article_record(a), ensure_ascii=False) + "\n" for a in articles)


def articles_csv(articles: Sequence[ArticleView]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=ARTICLE_FIELDS, lineterminator="\n")
    writer.writeheader()
    for article in articles:
        writer.writerow(csv_row(article_record(article)))
    return buffer.getvalue()


def articles_table(articles: Sequence[ArticleView]) -> str:
    rows = [
        (
            str(a.id),
            published(a.publish_time, a.publish_time_precision),
            a.site,
            a.title or "(no title)",
            a.source or "",
        )
        for a in articles
    ]
    return table(("ID", "PUBLISHED", "SITE", "TITLE", "SOURCE"), rows, (6, 16, 10, 60, 20))


def article_text(article: ArticleView) -> str:
    """One article in full, for ``govwatch show``."""
    head = [
        ("title", article.title),
        ("pretitle", article.pretitle),
        ("subtitle", article.subtitle),
        ("site", article.site),
        ("url", article.url),
        (
            "published",
            published(article.publish_time, article.publish_time_precision, _SHOW_FMT, say_url=True)
            or None,
        ),
        ("source", article.source),
        ("author", article.author),
        ("editor", article.editor),
        ("first seen", iso(article.first_seen)),
        ("edited", _edited(article)),
        ("copy of", f"id {article.duplicate_of}" if article.duplicate_of else None),
        ("gone", _gone(article)),
        ("id", str(article.id)),
    ]
    lines = [f"{k + ':':<12}{clean_text(v)}" for k, v in head if v]
    return "\n".join(lines) + "\n\n" + clean_text(article.body) + "\n"


def _edited(article: ArticleView) -> str | None:
    if not article.revision:
        return None
    return f"revision {article.revision}, last changed {iso(article.changed_at)}"


def _gone(article: ArticleView) -> str | None:
    if article.gone_at is None:
        return None
    code = article.gone_status
    status = f"HTTP {code}" if code and code >= 400 else "with an error page (soft 404)"
    return f"its page answered {status} since {iso(article.gone_at)}"
