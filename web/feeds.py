"""Atom 1.0 feeds (RFC 4287) of stored articles, and their HTTP validators.

An entry's ``id`` is a name-based UUID (v5, URL namespace) of the article's canonical URL:
the same article has the same id in every feed, forever, whatever its row number.  Copies of
one story (``duplicate_of``) are folded into one entry, the earliest copy in the feed, with
the others as ``related`` links.  Built with lxml, so every piece of site text is escaped by
the serializer; characters XML cannot carry (C0 controls) are dropped first.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

from lxml import etree

from storage.records import ArticleView

ATOM_NS = "http://www.w3.org/2005/Atom"
CONTENT_TYPE = "application/atom+xml; charset=utf-8"
SUMMARY_CHARS = 300
CONTENT_CHARS = 20_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_A = f"{{{ATOM_NS}}}"


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One story: the earliest copy in the feed, and the other copies folded into it."""

    article: ArticleView
    copies: tuple[ArticleView, ...] = ()


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """What a feed is: ``key`` names it for its id (``site/ccdi``, ``search/违纪``)."""

    key: str
    title: str
    self_url: str  # absolute, without any access token
    page_url: str  # the web view's page of the same articles, absolute
    subtitle: str = ""


@dataclass(frozen=True, slots=True)
class RenderedFeed:
    body: bytes
    etag: str  # quoted, strong: a hash of the body
    last_modified: datetime  # the newest entry's updated time (UTC, whole seconds)
    entries: int = 0
    ids: tuple[str, ...] = field(default=(), repr=False)


def entry_id(canonical_url: str) -> str:
    """The entry id of the article stored at ``canonical_url``: stable forever."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, canonical_url)}"


def feed_id(key: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'govwatch:feed:' + key)}"


def fold_copies(articles: Sequence[ArticleView], limit: int) -> list[FeedEntry]:
    """Group copies of a story (same ``duplicate_of`` root) into one entry, in the order of
    each story's first appearance; the entry's article is the earliest-stored copy present
    (the lowest id), so its id does not change when a later copy appears."""
    groups: dict[int, list[ArticleView]] = {}
    for article in articles:
        root = article.duplicate_of if article.duplicate_of is not None else article.id
        groups.setdefault(root, []).append(article)
    entries: list[FeedEntry] = []
    for members in groups.values():
        ordered = sorted(members, key=lambda a: a.id)
        entries.append(FeedEntry(article=ordered[0], copies=tuple(ordered[1:])))
        if len(entries) >= limit:
            break
    return entries


def xml_text(value: str | None) -> str:
    return _NOT_XML.sub("", value or "")


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def published_at(article: ArticleView) -> datetime:
    return article.publish_time or article.first_seen


def updated_at(article: ArticleView) -> datetime:
    published = published_at(article)
    changed = article.changed_at
    return changed if changed is not None and changed > published else published


def render_feed(
    info: FeedInfo, entries: Sequence[FeedEntry], article_page: Callable[[int], str]
) -> RenderedFeed:
    """The feed document, with its ETag and Last-Modified."""
    newest = max((updated_at(e.article) for e in entries), default=_EPOCH)
    newest = newest.astimezone(UTC).replace(microsecond=0)
    root = etree.Element(_A + "feed", nsmap={None: ATOM_NS})
    _add(root, "id", feed_id(info.key))
    _add(root, "title", info.title)
    if info.subtitle:
        _add(root, "subtitle", info.subtitle)
    _add(root, "updated", _stamp(newest))
    _link(root, info.self_url, "self", "application/atom+xml")
    _link(root, info.page_url, "alternate", "text/html")
    author = etree.SubElement(root, _A + "author")
    _add(author, "name", "govwatch")
    _add(root, "generator", "govwatch")
    ids = []
    for entry in entries:
        ids.append(_add_entry(root, entry, article_page))
    body = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    return RenderedFeed(
        body=body,
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        last_modified=newest,
        entries=len(entries),
        ids=tuple(ids),
    )


def _add_entry(root: etree._Element, entry: FeedEntry, article_page: Callable[[int], str]) -> str:
    a = entry.article
    node = etree.SubElement(root, _A + "entry")
    ident = entry_id(a.canonical_url)
    _add(node, "id", ident)
    _add(node, "title", a.title or a.canonical_url)
    _add(node, "published", _stamp(published_at(a)))
    _add(node, "updated", _stamp(updated_at(a)))
    author = etree.SubElement(node, _A + "author")
    _add(author, "name", (a.source or "").strip() or a.site)
    _link(node, a.url, "alternate", "text/html")
    _link(node, article_page(a.id), "via", "text/html")
    for copy in entry.copies:
        _link(node, copy.url, "related", "text/html", title=copy.site)
    category = etree.SubElement(node, _A + "category")
    category.set("term", xml_text(a.site))
    for copy in entry.copies:
        if copy.site != a.site:
            extra = etree.SubElement(node, _A + "category")
            extra.set("term", xml_text(copy.site))
    body = xml_text(a.body)
    summary = body[:SUMMARY_CHARS] + ("…" if len(body) > SUMMARY_CHARS else "")
    _add(node, "summary", summary)
    content = _add(node, "content", body[:CONTENT_CHARS])
    content.set("type", "text")
    return ident


def _add(parent: etree._Element, name: str, text: str) -> etree._Element:
    node = etree.SubElement(parent, _A + name)
    node.text = xml_text(text)
    return node


def _link(
    parent: etree._Element, href: str, rel: str, media_type: str, title: str | None = None
) -> None:
    node = etree.SubElement(parent, _A + "link")
    node.set("rel", rel)
    node.set("type", media_type)
    node.set("href", xml_text(href))
    if title:
        node.set("title", xml_text(title))


def http_date(value: datetime) -> str:
    return format_datetime(value.astimezone(UTC), usegmt=True)


def not_modified(
    feed: RenderedFeed, if_none_match: str | None, if_modified_since: datetime | None
) -> bool:
    """RFC 9110 §13.2.2: ``If-None-Match`` decides when present; else ``If-Modified-Since``."""
    if if_none_match is not None:
        tags = [t.strip() for t in if_none_match.split(",")]
        return "*" in tags or any(t.removeprefix("W/") == feed.etag for t in tags)
    if if_modified_since is not None:
        return feed.last_modified <= if_modified_since
    return False
