"""Rendering a digest: subject, plain text, HTML (autoescaped), chat Markdown, webhook JSON.

Titles, excerpts and URLs come from foreign sites: HTML is rendered with Jinja2's
autoescaping and only ``http``/``https`` links; chat Markdown replaces the characters that
would format or link (``[ ] * _ ` < > #`` …) with their full-width forms, which read the same
in Chinese text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup

from digest.records import BEIJING, Digest, DigestArticle, LinkChange
from storage.records import DATE_ONLY_PRECISIONS
from storage.text import clean_text

SEP = "\x1e"  # separates the blocks of chat Markdown; never in the text (it is replaced)
FLAVORS = ("dingtalk", "wecom", "feishu", "slack")
_MD_CHARS = str.maketrans(
    {
        "[": "［",
        "]": "］",
        "*": "＊",
        "_": "＿",
        "`": "｀",
        "<": "＜",
        ">": "＞",
        "#": "＃",
        "~": "～",
        "|": "｜",
        "\\": "＼",
        "\n": " ",
        "\r": " ",
        SEP: " ",
    }
)
_SLACK_ESCAPES = str.maketrans({"&": "&amp;"})


def beijing(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def article_line(a: DigestArticle) -> str:
    """Time (Beijing) and source of an article, for the line under its title: the date alone
    when the page showed no time of day (or no date: the URL's), never a made-up 00:00."""
    if a.publish_time is None:
        when = f"first seen {beijing(a.first_seen)}"
    elif a.publish_time_precision in DATE_ONLY_PRECISIONS:
        when = a.publish_time.astimezone(BEIJING).strftime("%Y-%m-%d")
    else:
        when = beijing(a.publish_time)
    return f"{when} · {a.source}" if a.source else when


def link_problem(change: LinkChange) -> str:
    if change.http_status is not None:
        text = f"HTTP {change.http_status}"
        return f"{text}, {change.detail}" if change.detail and change.detail != text else text
    return change.detail or change.status


def safe_url(url: str) -> str:
    """The URL if it is http(s), else an empty link: no ``javascript:`` from a foreign page."""
    return url if urlsplit(url).scheme in ("http", "https") else ""


@pass_context
def _md(context: Context, text: Any) -> str:
    out = str(text).translate(_MD_CHARS)
    if context.get("flavor") == "slack":
        out = out.translate(_SLACK_ESCAPES)
    return out


def _md_url(url: str) -> str:
    return quote(safe_url(url), safe=":/?#@!$&'*+,;=%~-._")


def _slack_url(url: str) -> str:
    return quote(safe_url(url), safe=":/?#@!$&'()*+,;=%~-._")


def _clean(value: Any) -> Any:
    """Every value a template prints, without control characters or bidi overrides: rows
    stored before extraction cleaned its fields still hold them (``ESC ] 0;…BEL``), and an
    email's text part is read in terminals too."""
    if value is SEP:  # the chat Markdown's own block separator, not text
        return value
    if isinstance(value, Markup):
        return Markup(clean_text(str(value)))
    return clean_text(value) if isinstance(value, str) else value


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("digest", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        finalize=_clean,
    )
    env.filters.update(
        beijing=beijing,
        article_line=article_line,
        link_problem=link_problem,
        safe_url=safe_url,
        md=_md,
        md_url=_md_url,
        slack_url=_slack_url,
    )
    return env


_ENV = _environment()


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def subject(d: Digest) -> str:
    """E.g. ``govwatch: 12 new articles, 2 dead links — 2026-11-26`` (the date in Beijing)."""
    parts = [_plural(d.article_count, "new article") if d.articles else "no new articles"]
    if d.include_dead_links and d.dead_links:
        parts.append(_plural(len(d.dead_links), "dead link"))
    if d.crawl_health:
        parts.append(_plural(len(d.crawl_health), "crawl problem"))
    return f"govwatch: {', '.join(parts)} — {d.date}"


def render_text(d: Digest, key: str | None = None) -> str:
    return _ENV.get_template("digest.txt.j2").render(d=d, subject=subject(d), key=key)


def render_html(d: Digest, key: str | None = None) -> str:
    return _ENV.get_template("digest.html.j2").render(d=d, subject=subject(d), key=key)


def payload(d: Digest, key: str | None) -> dict[str, Any]:
    """The webhook payload (``govwatch digest --format json`` prints it with a null key)."""
    return {"idempotency_key": key, "subject": subject(d), **d.to_dict()}


def payload_bytes(d: Digest, key: str | None) -> bytes:
    return json.dumps(payload(d, key), ensure_ascii=False, sort_keys=True).encode("utf-8")


def byte_length(text: str) -> int:
    return len(text.encode("utf-8"))


def render_markdown(
    d: Digest, flavor: str, limit: int, measure: Callable[[str], int] = byte_length
) -> list[str]:
    """Chat Markdown in messages of at most ``limit`` (as ``measure`` counts: bytes or chars).

    Entries are never split between messages unless one alone exceeds the limit (then it is
    cut).  Messages after the first start with the subject and ``(i/n)``.
    """
    if flavor not in FLAVORS:
        raise ValueError(f"unknown chat flavor {flavor!r}")
    text = _ENV.get_template("digest.md.j2").render(d=d, subject=subject(d), flavor=flavor, SEP=SEP)
    blocks = [b.strip("\n") for b in text.split(SEP) if b.strip()]
    reserve = measure(_continuation(subject(d), flavor, 999, 999)) + 2
    room = limit - reserve
    if room <= 0:
        raise ValueError(f"limit {limit} is too small for a message")
    parts: list[str] = []
    current = ""
    for block in blocks:
        if measure(block) > room:
            block = _cut(block, room, measure)
        candidate = f"{current}\n\n{block}" if current else block
        if current and measure(candidate) > room:
            parts.append(current)
            current = block
        else:
            current = candidate
    if current:
        parts.append(current)
    n = len(parts)
    return [
        part if i == 1 else f"{_continuation(subject(d), flavor, i, n)}\n\n{part}"
        for i, part in enumerate(parts, start=1)
    ]


def _continuation(subject_text: str, flavor: str, i: int, n: int) -> str:
    text = f"{subject_text} ({i}/{n})".translate(_MD_CHARS)
    if flavor == "slack":
        return f"*{text.translate(_SLACK_ESCAPES)}*"
    return f"**{text}**" if flavor == "feishu" else f"### {text}"


def _cut(block: str, room: int, measure: Callable[[str], int]) -> str:
    """The longest start of ``block`` that fits ``room`` with an ellipsis."""
    lo, hi = 0, len(block)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if measure(block[:mid] + "…") <= room:
            lo = mid
        else:
            hi = mid - 1
    return block[:lo] + "…"
