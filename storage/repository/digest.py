"""Digests: the positions a window covers, what falls in it, and the delivery outbox.

Windows are defined by database positions, not by clocks: a window covers the articles with
``after < id <= upto`` where ``upto`` was read when the digest was started.  That is only
exact if nothing with a smaller id can still appear after ``upto`` was read.  SQLite has one
writer at a time, so ids are visible in the order they are handed out.  PostgreSQL hands out
sequence values before commit, so :func:`read_positions` first waits for the transactions
writing articles or link events to end (a ``SHARE`` lock, held for the two ``max`` queries).

:func:`record_window` records a window with one pending delivery per channel; the deliveries
themselves are moved on by ``storage.repository.outbox``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select, text
from sqlalchemy.orm import Session

from storage.digest_records import (
    ArticleFilter,
    LinkPage,
    NewWindow,
    Positions,
    WindowArticle,
    WindowLinkEvent,
    WindowView,
)
from storage.models import Article, Link, LinkEvent, LinkRef, SiteRow
from storage.models.digest import DigestDelivery, DigestSubscription, DigestWindow
from storage.repository.common import IN_CHUNK, insert_for
from storage.repository.link_views import ranked_refs

# How long a digest build waits for crawls' open transactions before giving up (PostgreSQL).
LOCK_TIMEOUT = "60s"
PAGES_PER_LINK = 3


def read_positions(session: Session, *, lock: bool = True) -> Positions:
    """The highest committed article and link event ids: the upper bound of a new window.

    Call it in a transaction of its own and commit right after: on PostgreSQL it holds a
    ``SHARE`` lock on ``articles`` and ``link_events`` (writers wait for it, and it waits for
    writers already running), so no id at or below the result can be committed later.
    ``lock=False`` reads without waiting (a preview, which records nothing).
    """
    if lock and session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        session.execute(text("LOCK TABLE articles, link_events IN SHARE MODE"))
    article_id = session.scalar(select(func.max(Article.id)))
    event_id = session.scalar(select(func.max(LinkEvent.id)))
    return Positions(article_id=int(article_id or 0), link_event_id=int(event_id or 0))


def _positions_before(session: Session, since: datetime) -> Positions:
    """Positions of the last article first seen, and link event recorded, before ``since``."""
    article_id = session.scalar(select(func.max(Article.id)).where(Article.first_seen < since))
    event_id = session.scalar(select(func.max(LinkEvent.id)).where(LinkEvent.at < since))
    return Positions(article_id=int(article_id or 0), link_event_id=int(event_id or 0))


def subscription_start(session: Session, name: str, backfill_since: datetime) -> Positions:
    """Where the subscription's first window starts, without recording anything."""
    row = session.scalar(select(DigestSubscription).where(DigestSubscription.name == name))
    if row is not None:
        return Positions(row.start_article_id, row.start_link_event_id)
    return _positions_before(session, backfill_since)


def ensure_subscription(
    session: Session, name: str, *, now: datetime, backfill_since: datetime
) -> Positions:
    """Record the subscription on first use (its first window starts at ``backfill_since``)."""
    start = _positions_before(session, backfill_since)
    insert = insert_for(session)
    session.execute(
        insert(DigestSubscription)
        .values(
            name=name,
            created_at=now,
            start_article_id=start.article_id,
            start_link_event_id=start.link_event_id,
        )
        .on_conflict_do_nothing(index_elements=[DigestSubscription.name])
    )
    return subscription_start(session, name, backfill_since)


def schedule_reference(session: Session, name: str) -> datetime | None:
    """When the subscription's last window was built, else when it was first used."""
    built = session.scalar(
        select(func.max(DigestWindow.built_at))
        .join(DigestSubscription, DigestWindow.subscription_id == DigestSubscription.id)
        .where(DigestSubscription.name == name)
    )
    if built is not None:
        return built
    return session.scalar(
        select(DigestSubscription.created_at).where(DigestSubscription.name == name)
    )


def last_window(session: Session, name: str) -> WindowView | None:
    windows = list_windows(session, name, limit=1)
    return windows[0] if windows else None


def list_windows(session: Session, name: str, limit: int = 20) -> list[WindowView]:
    """The subscription's windows, newest first."""
    stmt = (
        select(DigestWindow)
        .join(DigestSubscription, DigestWindow.subscription_id == DigestSubscription.id)
        .where(DigestSubscription.name == name)
        .order_by(DigestWindow.seq.desc())
        .limit(limit)
    )
    return [_window_view(w, name) for w in session.scalars(stmt)]


def _window_view(w: DigestWindow, name: str) -> WindowView:
    return WindowView(
        id=w.id,
        subscription=name,
        seq=w.seq,
        after=Positions(w.after_article_id, w.after_link_event_id),
        upto=Positions(w.upto_article_id, w.upto_link_event_id),
        built_at=w.built_at,
        article_count=w.article_count,
        dead_link_count=w.dead_link_count,
        skipped=w.skipped,
    )


def site_titles(session: Session, names: Collection[str]) -> dict[str, str]:
    """Display titles of the named sites (those that have a row)."""
    stmt = select(SiteRow.name, SiteRow.title).where(SiteRow.name.in_(list(names)))
    return {name: title for name, title in session.execute(stmt)}


def article_filter(flt: ArticleFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if flt.sites:
        where.append(SiteRow.name.in_(flt.sites))
    if flt.keywords:
        where.append(
            or_(
                *(
                    Article.title.contains(k, autoescape=True)
                    | Article.body.contains(k, autoescape=True)
                    for k in flt.keywords
                )
            )
        )
    return where


def _window_article(a: Article, site: str, site_title: str, body: str) -> WindowArticle:
    return WindowArticle(
        id=a.id,
        site=site,
        site_title=site_title,
        url=a.fetched_url,
        title=a.title,
        publish_time=a.publish_time,
        first_seen=a.first_seen,
        source=a.source,
        body_start=body,
        duplicate_of=a.duplicate_of,
        publish_time_precision=a.publish_time_precision,
    )


def window_articles(
    session: Session, after: int, upto: int, flt: ArticleFilter, body_chars: int = 400
) -> list[WindowArticle]:
    """Articles with ``after < id <= upto`` that pass the filter, newest first per site."""
    stmt = (
        select(Article, SiteRow.name, SiteRow.title, func.substr(Article.body, 1, body_chars))
        .join(SiteRow, Article.site_id == SiteRow.id)
        .where(Article.id > after, Article.id <= upto, *article_filter(flt))
        .order_by(
            SiteRow.name,
            Article.publish_time.desc().nulls_last(),
            Article.first_seen.desc(),
            Article.id.desc(),
        )
    )
    return [_window_article(a, s, t, b or "") for a, s, t, b in session.execute(stmt)]


def articles_by_id(
    session: Session, ids: Collection[int], flt: ArticleFilter | None = None, body_chars: int = 400
) -> list[WindowArticle]:
    """The articles with these ids (that pass ``flt`` when given), in no particular order."""
    out: list[WindowArticle] = []
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), IN_CHUNK):
        chunk = ordered[start : start + IN_CHUNK]
        stmt = (
            select(Article, SiteRow.name, SiteRow.title, func.substr(Article.body, 1, body_chars))
            .join(SiteRow, Article.site_id == SiteRow.id)
            .where(Article.id.in_(chunk), *(article_filter(flt) if flt else ()))
        )
        out += [_window_article(a, s, t, b or "") for a, s, t, b in session.execute(stmt)]
    return out


def window_link_events(
    session: Session, after: int, upto: int, sites: Sequence[str] = ()
) -> list[WindowLinkEvent]:
    """Net link changes with ``after < event id <= upto``: one per link, oldest first.

    A link that died and came back within the window is left out; ``sites`` keeps links that
    appear on pages of those sites.
    """
    stmt = (
        select(LinkEvent, Link.url)
        .join(Link, LinkEvent.link_id == Link.id)
        .where(LinkEvent.id > after, LinkEvent.id <= upto)
        .order_by(LinkEvent.id)
    )
    if sites:
        on_sites = (
            select(LinkRef.link_id)
            .join(SiteRow, LinkRef.site_id == SiteRow.id)
            .where(SiteRow.name.in_(sites))
        )
        stmt = stmt.where(LinkEvent.link_id.in_(on_sites))
    first: dict[int, str] = {}
    last: dict[int, tuple[LinkEvent, str]] = {}
    for event, url in session.execute(stmt):
        first.setdefault(event.link_id, event.kind)
        last[event.link_id] = (event, url)
    changes = [
        (event, url)
        for link_id, (event, url) in last.items()
        if not (first[link_id] == "newly_dead" and event.kind == "recovered")
    ]
    pages = _link_pages(session, [event.link_id for event, _ in changes], sites)
    return [
        WindowLinkEvent(
            id=event.id,
            url=url,
            kind=event.kind,
            status=event.status,
            http_status=event.http_status,
            detail=event.detail,
            at=event.at,
            pages=tuple(pages.get(event.link_id, ())),
        )
        for event, url in sorted(changes, key=lambda c: c[0].id)
    ]


def _link_pages(
    session: Session, link_ids: Sequence[int], sites: Sequence[str]
) -> dict[int, list[LinkPage]]:
    """Up to ``PAGES_PER_LINK`` pages per link, most recently seen first, titled if stored."""
    pages: dict[int, list[LinkPage]] = defaultdict(list)
    for start in range(0, len(link_ids), IN_CHUNK):
        chunk = link_ids[start : start + IN_CHUNK]
        ranked = ranked_refs(chunk, sites)
        rows = session.execute(
            select(
                ranked.c.link_id,
                ranked.c.page_url,
                ranked.c.site,
                Article.fetched_url,
                Article.title,
            )
            .join(Article, Article.url == ranked.c.page_url, isouter=True)
            .where(ranked.c.rn <= PAGES_PER_LINK)
            .order_by(ranked.c.link_id, ranked.c.rn)
        )
        for link_id, page_url, site, fetched, title in rows:
            pages[link_id].append(LinkPage(url=fetched or page_url, site=site, title=title or ""))
    return pages


def record_window(session: Session, window: NewWindow, *, key_suffix: str) -> WindowView | None:
    """Record the subscription's next window and one pending delivery per channel.

    Returns ``None`` when another process recorded a window after the same one first (the
    caller's window is then stale and dropped).  Idempotency keys are
    ``{subscription}-{seq}-{channel}-{key_suffix}``: readable, and unique across databases.
    """
    sub_id = session.scalar(
        select(DigestSubscription.id).where(DigestSubscription.name == window.subscription)
    )
    if sub_id is None:
        raise ValueError(f"subscription {window.subscription!r} is not recorded")
    last = last_window(session, window.subscription)
    expected_after = last.upto if last else None
    if expected_after is not None and expected_after != window.after:
        return None
    seq = (last.seq if last else 0) + 1
    insert = insert_for(session)
    new_id = session.scalar(
        insert(DigestWindow)
        .values(
            subscription_id=sub_id,
            seq=seq,
            after_article_id=window.after.article_id,
            upto_article_id=window.upto.article_id,
            after_link_event_id=window.after.link_event_id,
            upto_link_event_id=window.upto.link_event_id,
            built_at=window.built_at,
            article_count=window.article_count,
            dead_link_count=window.dead_link_count,
            skipped=window.skipped,
            content=window.content,
        )
        .on_conflict_do_nothing(index_elements=[DigestWindow.subscription_id, DigestWindow.seq])
        .returning(DigestWindow.id)
    )
    if new_id is None:
        return None
    if not window.skipped:
        for channel, channel_type in window.channels:
            session.add(
                DigestDelivery(
                    window_id=new_id,
                    channel=channel,
                    channel_type=channel_type,
                    idempotency_key=f"{window.subscription}-{seq}-{channel}-{key_suffix}",
                    state="pending",
                    attempts=0,
                    parts_sent=0,
                    next_attempt_at=window.built_at,
                    lease_until=None,
                    last_error="",
                    created_at=window.built_at,
                    delivered_at=None,
                )
            )
    session.flush()
    row = session.get(DigestWindow, new_id)
    assert row is not None
    return _window_view(row, window.subscription)


__all__ = [
    "articles_by_id",
    "ensure_subscription",
    "last_window",
    "list_windows",
    "read_positions",
    "record_window",
    "schedule_reference",
    "site_titles",
    "subscription_start",
    "window_articles",
    "window_link_events",
]
