"""The content of one digest, as built from the database and as stored in the outbox.

A :class:`Digest` is stored as JSON with its window (``Digest.to_json``) and rendered for each
channel when it is sent, so a retry sends what the first attempt sent.  ``to_dict`` is also
the body of the webhook payload (documented in the README); ``PAYLOAD_VERSION`` changes when a
field changes meaning or goes away.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

PAYLOAD_VERSION = 1
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def _iso(value: datetime | None, zone: timezone | None = None) -> str | None:
    if value is None:
        return None
    return (value.astimezone(zone) if zone else value).isoformat()


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@dataclass(frozen=True, slots=True)
class Copy:
    """Another site's copy of an article: "also published by"."""

    id: int
    site: str
    site_title: str
    url: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "site": self.site, "site_title": self.site_title, "url": self.url}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Copy:
        return cls(id=d["id"], site=d["site"], site_title=d["site_title"], url=d["url"])


@dataclass(frozen=True, slots=True)
class DigestArticle:
    id: int
    site: str
    site_title: str
    title: str
    url: str
    publish_time: datetime | None
    first_seen: datetime
    source: str | None
    excerpt: str
    also_published_by: tuple[Copy, ...] = ()
    republished_from: Copy | None = None  # the earlier copy, when it is not in this digest
    # minute | day | url (see storage.records.TimePrecision); None: not recorded
    publish_time_precision: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "site": self.site,
            "site_title": self.site_title,
            "title": self.title,
            "url": self.url,
            "publish_time": _iso(self.publish_time, BEIJING),
            "publish_time_precision": self.publish_time_precision,
            "first_seen": _iso(self.first_seen),
            "source": self.source,
            "excerpt": self.excerpt,
            "also_published_by": [c.to_dict() for c in self.also_published_by],
            "republished_from": (
                None if self.republished_from is None else self.republished_from.to_dict()
            ),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DigestArticle:
        first_seen = _time(d["first_seen"])
        assert first_seen is not None
        return cls(
            id=d["id"],
            site=d["site"],
            site_title=d["site_title"],
            title=d["title"],
            url=d["url"],
            publish_time=_time(d["publish_time"]),
            publish_time_precision=d.get("publish_time_precision"),  # absent before 0009
            first_seen=first_seen,
            source=d["source"],
            excerpt=d["excerpt"],
            also_published_by=tuple(Copy.from_dict(c) for c in d["also_published_by"]),
            republished_from=(
                None if d.get("republished_from") is None else Copy.from_dict(d["republished_from"])
            ),
        )


@dataclass(frozen=True, slots=True)
class Page:
    """A page a link appears on."""

    url: str
    site: str
    title: str

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "site": self.site, "title": self.title}


@dataclass(frozen=True, slots=True)
class LinkChange:
    """A link that became dead, or recovered, in the digest's window."""

    url: str
    status: str  # the status it entered: dead, soft_404, ok, redirected…
    http_status: int | None
    detail: str
    at: datetime
    pages: tuple[Page, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "status": self.status,
            "http_status": self.http_status,
            "detail": self.detail,
            "at": _iso(self.at),
            "pages": [p.to_dict() for p in self.pages],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LinkChange:
        at = _time(d["at"])
        assert at is not None
        return cls(
            url=d["url"],
            status=d["status"],
            http_status=d["http_status"],
            detail=d["detail"],
            at=at,
            pages=tuple(Page(p["url"], p["site"], p["title"]) for p in d["pages"]),
        )


@dataclass(frozen=True, slots=True)
class SiteProblem:
    """A site whose crawls look unwell: ``blocked``, ``failing``, ``no_articles`` or
    ``warning``."""

    site: str
    site_title: str
    problem: str
    detail: str
    since: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "site_title": self.site_title,
            "problem": self.problem,
            "detail": self.detail,
            "since": _iso(self.since),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SiteProblem:
        return cls(
            site=d["site"],
            site_title=d["site_title"],
            problem=d["problem"],
            detail=d["detail"],
            since=_time(d["since"]),
        )


@dataclass(frozen=True, slots=True)
class SiteGroup:
    site: str
    site_title: str
    articles: tuple[DigestArticle, ...]


@dataclass(frozen=True, slots=True)
class Digest:
    """Everything one digest reports, for one subscription and one window of positions."""

    subscription: str
    after_article_id: int
    upto_article_id: int
    after_link_event_id: int
    upto_link_event_id: int
    generated_at: datetime
    articles: tuple[DigestArticle, ...]  # by site, newest first within a site
    dead_links: tuple[LinkChange, ...] = ()
    recovered_links: tuple[LinkChange, ...] = ()
    crawl_health: tuple[SiteProblem, ...] = ()
    include_dead_links: bool = True

    @property
    def is_empty(self) -> bool:
        return not (self.articles or self.dead_links or self.recovered_links or self.crawl_health)

    @property
    def article_count(self) -> int:
        """Stories reported; republished copies folded into one entry count once."""
        return len(self.articles)

    @property
    def groups(self) -> tuple[SiteGroup, ...]:
        out: list[SiteGroup] = []
        for article in self.articles:
            if not out or out[-1].site != article.site:
                out.append(SiteGroup(article.site, article.site_title, ()))
            last = out[-1]
            out[-1] = SiteGroup(last.site, last.site_title, (*last.articles, article))
        return tuple(out)

    @property
    def date(self) -> str:
        """The day it was made, in Beijing."""
        return self.generated_at.astimezone(BEIJING).strftime("%Y-%m-%d")

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": PAYLOAD_VERSION,
            "subscription": self.subscription,
            "window": {
                "after_article_id": self.after_article_id,
                "upto_article_id": self.upto_article_id,
                "after_link_event_id": self.after_link_event_id,
                "upto_link_event_id": self.upto_link_event_id,
            },
            "generated_at": _iso(self.generated_at),
            "counts": {
                "articles": self.article_count,
                "dead_links": len(self.dead_links),
                "recovered_links": len(self.recovered_links),
                "crawl_problems": len(self.crawl_health),
            },
            "articles": [a.to_dict() for a in self.articles],
            "dead_links": [c.to_dict() for c in self.dead_links],
            "recovered_links": [c.to_dict() for c in self.recovered_links],
            "crawl_health": [p.to_dict() for p in self.crawl_health],
            "include_dead_links": self.include_dead_links,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Digest:
        d = json.loads(text)
        generated_at = _time(d["generated_at"])
        assert generated_at is not None
        window = d["window"]
        return cls(
            subscription=d["subscription"],
            after_article_id=window["after_article_id"],
            upto_article_id=window["upto_article_id"],
            after_link_event_id=window["after_link_event_id"],
            upto_link_event_id=window["upto_link_event_id"],
            generated_at=generated_at,
            articles=tuple(DigestArticle.from_dict(a) for a in d["articles"]),
            dead_links=tuple(LinkChange.from_dict(c) for c in d["dead_links"]),
            recovered_links=tuple(LinkChange.from_dict(c) for c in d["recovered_links"]),
            crawl_health=tuple(SiteProblem.from_dict(p) for p in d["crawl_health"]),
            include_dead_links=d.get("include_dead_links", True),
        )
