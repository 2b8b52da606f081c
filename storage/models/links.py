"""Models of the link inventory: links, the pages that reference them, checks and events.

- ``links``: one row per canonical URL found on a crawled page, with its current status (see
  ``crawler.linkcheck.records``), since when, the last and next check, and the failure streak the
  dead threshold is judged on.
- ``link_refs``: which page (canonical URL, site) references which link, with its anchor
  text and kind; one row per link and page.
- ``link_checks``: the history of checks, at most ``[links] history_per_link`` rows per link
  (older rows are deleted as new ones arrive).
- ``link_events``: a link became dead (``newly_dead``) or came back (``recovered``); read by
  id position, for the digest.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import BigIntId


class Link(Base):
    """One outbound link or embedded resource, stored once per canonical URL."""

    __tablename__ = "links"
    __table_args__ = (
        Index("ix_links_next_check_at", "next_check_at"),
        Index("ix_links_status_since", "status", "status_since"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    url: Mapped[str] = mapped_column(Text, unique=True)  # canonical URL
    fetch_url: Mapped[str] = mapped_column(Text)  # as last written on a page; what is requested
    # unchecked | ok | redirected | dead | soft_404 | error | blocked | refused
    status: Mapped[str] = mapped_column(String(16), default="unchecked")
    status_since: Mapped[datetime]
    http_status: Mapped[int | None]  # of the last check
    detail: Mapped[str] = mapped_column(Text, default="")  # "HTTP 404", "页面不存在", "timed out"
    redirect_url: Mapped[str | None] = mapped_column(Text)  # redirected / soft_404: where to
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]  # last time a crawled page referenced it
    last_checked_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime]
    streak: Mapped[int] = mapped_column(Integer, default=0)  # checks in a row in this status
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)  # errors in a row
    failing_since: Mapped[datetime | None]  # first error of that streak


class LinkRef(Base):
    """A page that references a link."""

    __tablename__ = "link_refs"
    __table_args__ = (
        UniqueConstraint("link_id", "page_url"),
        Index("ix_link_refs_site_id", "site_id"),
        Index("ix_link_refs_page_url", "page_url"),  # migration 0010: a page's links
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("links.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    page_url: Mapped[str] = mapped_column(Text)  # canonical URL of the referencing page
    kind: Mapped[str] = mapped_column(String(16))  # a, img, iframe, script, link, embed, attachment
    text: Mapped[str] = mapped_column(Text, default="")  # anchor text, alt or title
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]


class LinkCheck(Base):
    """One check of a link (history, bounded per link)."""

    __tablename__ = "link_checks"
    __table_args__ = (Index("ix_link_checks_link_id_id", "link_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("links.id", ondelete="CASCADE"))
    checked_at: Mapped[datetime]
    result: Mapped[str] = mapped_column(String(16))  # this check's verdict
    status: Mapped[str] = mapped_column(String(16))  # the link's status after it
    http_status: Mapped[int | None]
    detail: Mapped[str] = mapped_column(Text, default="")
    final_url: Mapped[str | None] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(8), default="")
    elapsed_ms: Mapped[int] = mapped_column(Integer, default=0)


class LinkEvent(Base):
    """A link entered dead/soft_404 (``newly_dead``) or left them (``recovered``)."""

    __tablename__ = "link_events"
    __table_args__ = (Index("ix_link_events_at", "at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("links.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # newly_dead | recovered
    status: Mapped[str] = mapped_column(String(16))  # the status entered
    previous_status: Mapped[str] = mapped_column(String(16))
    http_status: Mapped[int | None]
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime]
