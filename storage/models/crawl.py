"""Models of sites, crawl runs, their errors, and articles."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import BigIntId


class SiteRow(Base):
    """A configured site, kept so runs and articles survive renaming its title."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class CrawlRun(Base):
    """One crawl of one site: when, what it fetched and found, and how it ended."""

    __tablename__ = "crawl_runs"
    __table_args__ = (Index("ix_crawl_runs_site_started", "site_id", "started_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # running | succeeded | warning | partial | failed | interrupted
    outcome: Mapped[str] = mapped_column(String(16), default="running")
    list_pages: Mapped[int] = mapped_column(Integer, default=0)
    article_pages: Mapped[int] = mapped_column(Integer, default=0)
    articles_found: Mapped[int] = mapped_column(Integer, default=0)
    articles_new: Mapped[int] = mapped_column(Integer, default=0)
    articles_seen: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    warnings: Mapped[str] = mapped_column(Text, default="")  # one warning per line
    message: Mapped[str] = mapped_column(Text, default="")  # why it ended as it did
    pid: Mapped[int | None]
    # migration 0006: the host of that process (a pid means something only there), and
    # configured selectors that missed on a few pages of the run: counted, not a warning
    host: Mapped[str | None] = mapped_column(String(255))
    selector_misses: Mapped[str] = mapped_column(Text, default="", server_default="")


class CrawlPass(Base):
    """Per start URL of a site: did the last pass over its list pages complete?

    A run marks each start URL's pass incomplete (a backlog, since the run that first left it
    so) when it starts, and complete again only when it has walked that start URL's list
    pages to their end, to ``max_list_pages`` or to a page of stored articles, with no page
    failed and every article stored.  While a pass is incomplete, the next runs walk on past
    stored articles instead of stopping at the first list page of them (migration 0006).
    """

    __tablename__ = "crawl_passes"
    __table_args__ = (UniqueConstraint("site_id", "start_url"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    start_url: Mapped[str] = mapped_column(Text)  # canonical
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    # the run that left the pass incomplete first (NULL while complete)
    backlog_run_id: Mapped[int | None] = mapped_column(BigIntId)
    last_complete_run_id: Mapped[int | None] = mapped_column(BigIntId)
    pages_reached: Mapped[int] = mapped_column(Integer, default=0)  # by the last complete pass
    updated_at: Mapped[datetime]


class CrawlError(Base):
    """A page a run could not fetch or parse, after retries."""

    __tablename__ = "crawl_errors"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[int | None]  # HTTP status when there was a response
    kind: Mapped[str] = mapped_column(String(32))  # http, timeout, dns, connection, blocked, parse
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


class Article(Base):
    """One article page, stored once per canonical URL."""

    __tablename__ = "articles"
    __table_args__ = (
        Index("ix_articles_site_publish_time", "site_id", "publish_time"),
        Index("ix_articles_first_seen", "first_seen"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text, unique=True)  # canonical URL
    fetched_url: Mapped[str] = mapped_column(Text)  # the URL as fetched, after redirects
    title: Mapped[str] = mapped_column(Text, default="")
    pretitle: Mapped[str | None] = mapped_column(Text)  # 引题
    subtitle: Mapped[str | None] = mapped_column(Text)  # 副标题
    publish_time: Mapped[datetime | None]
    # minute | day | url (migration 0009); NULL: no time, or stored before 0009
    publish_time_precision: Mapped[str | None] = mapped_column(String(8))
    source: Mapped[str | None] = mapped_column(Text)  # 来源
    author: Mapped[str | None] = mapped_column(Text)  # 作者 / 记者
    editor: Mapped[str | None] = mapped_column(Text)  # 责任编辑
    body: Mapped[str] = mapped_column(Text, default="")
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("crawl_runs.id", ondelete="SET NULL")
    )  # the run that first stored it
    # dedupe and edits (migration 0002): see crawler.extract.fingerprint
    body_hash: Mapped[int | None] = mapped_column(BigInteger, index=True)  # normalised body
    duplicate_of: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("articles.id", ondelete="SET NULL"), index=True
    )  # the earliest copy of the same story (NULL: this is the earliest, or unique)
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # edits seen
    changed_at: Mapped[datetime | None]  # when the last edit was seen
    # its page later answered 404/410 or became a soft 404 (migration 0003; crawler.linkcheck.state)
    gone_at: Mapped[datetime | None]  # NULL while the page is up
    gone_status: Mapped[int | None]  # the HTTP status it answered with then


# migration 0010: the listing's order read backwards (newest first, unknown publish time
# last), so a page of articles and each keyset page after it read an index range instead of
# sorting the table.  NULLS FIRST is SQLite's own ascending order; PostgreSQL is told.
Index(
    "ix_articles_listing",
    Article.publish_time.asc().nulls_first(),
    Article.first_seen,
    Article.id,
)


class SiteArticleDay(Base):
    """Articles of a site first stored on one Beijing day (migration 0013): every insert of
    articles adds a row of its own (``storage.repository.site_days``), summed when read, so
    the sites page reads a few rows per site and day instead of counting the articles table.
    Rows are only ever inserted: two transactions storing articles of one site never wait
    for each other here (an upserted counter row would serialise them, and a writer holding
    its transaction open would block the other until it commits)."""

    __tablename__ = "site_article_days"
    __table_args__ = (Index("ix_site_article_days_site_day", "site_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)  # Beijing day of first_seen
    articles: Mapped[int] = mapped_column(Integer)
    last_first_seen: Mapped[datetime]  # the newest first_seen that day
