"""The link inventory: recording links found on pages, claiming due links, saving checks.

Concurrency: crawls record links while checker runs claim and update them.  Links are
claimed by moving their ``next_check_at`` past a lease in one statement (with ``FOR UPDATE
SKIP LOCKED`` on PostgreSQL), so two checker runs never check the same link at once; upserts
touch rows in URL order so concurrent crawls do not deadlock each other.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from storage.link_records import (
    LinkToCheck,
    LinkUpdate,
    NewLinkRef,
)
from storage.models import Article, Link, LinkCheck, LinkEvent, LinkRef, SiteRow
from storage.repository.common import (
    IN_CHUNK,
    insert_for,
    is_postgres,
    pg_insert_columns,
    sqlite_insert_rows,
    stored_value,
    utcnow,
)
from storage.types import UTCDateTime

# Longer URLs are not recorded: PostgreSQL cannot index keys much past 2.7 kB, and such
# URLs are session or tracking junk anyway.
MAX_URL_CHARS = 2000
MAX_TEXT_CHARS = 300
# Referencing pages kept per link: a site-wide navigation link is on every page, and a
# sample of them says as much as all of them (the tables would grow as pages × links).
MAX_REFS_PER_LINK = 100

_T = TypeVar("_T")


# the columns a new link is inserted with (record_link_refs, adopt_article_links)
_LINK_COLUMNS = (
    "url",
    "fetch_url",
    "status",
    "status_since",
    "detail",
    "first_seen",
    "last_seen",
    "next_check_at",
    "streak",
    "consecutive_failures",
)


def _new_link(url: str, fetch_url: str, now: object) -> tuple[object, ...]:
    """The values of :data:`_LINK_COLUMNS` for a link first seen ``now`` (a datetime, or
    its stored form): unchecked, and due for a check at once."""
    return (url, fetch_url, "unchecked", now, "", now, now, now, 0, 0)


def chunks(items: Sequence[_T], size: int = IN_CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def record_link_refs(
    session: Session, refs: Sequence[NewLinkRef], *, now: datetime | None = None
) -> int:
    """Store links found on pages (once per canonical URL) and which page references each.

    A known link gets its ``last_seen`` (and the URL to fetch) updated; a known reference
    its ``last_seen``, kind and text.  New links are due for a check at once.  References of
    a link that has ``MAX_REFS_PER_LINK`` pages already are not recorded.  Returns how many
    links were new.
    """
    now = now or utcnow()
    usable = [
        r
        for r in refs
        if max(len(r.url), len(r.fetch_url), len(r.page_url)) <= MAX_URL_CHARS and r.url
    ]
    if not usable:
        return 0
    fetch_urls = {r.url: r.fetch_url for r in usable}  # the last one written wins
    ids: dict[str, int] = {}
    new = 0
    if is_postgres(session):
        upsert = insert_for(session)
        links = Link.__table__  # Core, not the ORM's bulk insert: no per-row bookkeeping
        for chunk in chunks(sorted(fetch_urls)):
            stmt = upsert(links)
            stmt = stmt.on_conflict_do_update(
                index_elements=[links.c.url],
                set_={"last_seen": stmt.excluded.last_seen, "fetch_url": stmt.excluded.fetch_url},
            ).returning(links.c.id, links.c.url, links.c.first_seen)
            rows = [
                dict(zip(_LINK_COLUMNS, _new_link(url, fetch_urls[url], now), strict=True))
                for url in chunk
            ]
            for row in session.execute(stmt, rows):
                ids[row.url] = row.id
                new += row.first_seen == now
    else:
        now_ = stored_value(session, Link.first_seen, now)
        returned = sqlite_insert_rows(
            session,
            "links",
            _LINK_COLUMNS,
            [_new_link(url, fetch_urls[url], now_) for url in sorted(fetch_urls)],
            "ON CONFLICT (url) DO UPDATE SET last_seen = excluded.last_seen, "
            "fetch_url = excluded.fetch_url",
            "RETURNING id, url, first_seen",
        )
        for link_id, url, first_seen in returned:
            ids[url] = link_id
            new += first_seen == now_
    room = _ref_room(session, sorted(set(ids.values())))
    by_key: dict[tuple[int, str], NewLinkRef] = {}
    for r in usable:
        key = (ids[r.url], r.page_url)
        if key not in by_key:
            if room[key[0]] <= 0:
                continue  # enough pages known for this link
            room[key[0]] -= 1
        by_key[key] = r
    if is_postgres(session):
        for key_chunk in chunks(sorted(by_key)):
            _pg_upsert_refs(session, key_chunk, by_key, now)
        return new
    now_ = stored_value(session, LinkRef.first_seen, now)
    sqlite_insert_rows(
        session,
        "link_refs",
        ("link_id", "page_url", "site_id", "kind", "text", "first_seen", "last_seen"),
        [
            (link_id, page_url, r.site_id, r.kind[:16], r.text[:MAX_TEXT_CHARS], now_, now_)
            for (link_id, page_url), r in sorted(by_key.items())
        ],
        "ON CONFLICT (link_id, page_url) DO UPDATE SET last_seen = excluded.last_seen, "
        "kind = excluded.kind, text = excluded.text",
    )
    return new


def _pg_upsert_refs(
    session: Session,
    keys: Sequence[tuple[int, str]],
    by_key: dict[tuple[int, str], NewLinkRef],
    now: datetime,
) -> None:
    """:func:`record_link_refs`' upsert of a chunk of ``(link id, page URL)`` on PostgreSQL:
    one statement of arrays."""
    refs = [by_key[key] for key in keys]
    pg_insert_columns(
        session,
        "link_refs",
        {
            "link_id": ("bigint", [link_id for link_id, _ in keys]),
            "site_id": ("integer", [r.site_id for r in refs]),
            "page_url": ("text", [page_url for _, page_url in keys]),
            "kind": ("text", [r.kind[:16] for r in refs]),
            "text": ("text", [r.text[:MAX_TEXT_CHARS] for r in refs]),
            "first_seen": ("timestamptz", [now] * len(refs)),
            "last_seen": ("timestamptz", [now] * len(refs)),
        },
        "ON CONFLICT (link_id, page_url) DO UPDATE SET last_seen = excluded.last_seen, "
        "kind = excluded.kind, text = excluded.text",
    )


def _ref_room(session: Session, link_ids: Sequence[int]) -> defaultdict[int, int]:
    """How many more referencing pages each link may get (``MAX_REFS_PER_LINK`` in all)."""
    room: defaultdict[int, int] = defaultdict(lambda: MAX_REFS_PER_LINK)
    for chunk in chunks(link_ids):
        for link_id, n in session.execute(
            select(LinkRef.link_id, func.count(LinkRef.id))
            .where(LinkRef.link_id.in_(chunk))
            .group_by(LinkRef.link_id)
        ):
            room[link_id] = MAX_REFS_PER_LINK - int(n)
    return room


def adopt_article_links(session: Session, *, now: datetime | None = None) -> int:
    """Add every stored article whose URL is not in the inventory yet (articles stored before
    it existed, or never seen on a list page since), so that its page is checked too."""
    now = now or utcnow()
    upsert = insert_for(session)
    source = select(
        Article.url,
        Article.fetched_url,
        literal("unchecked", String()),
        literal(now, UTCDateTime()),
        literal("", Text()),
        Article.first_seen,
        Article.last_seen,
        literal(now, UTCDateTime()),
        literal(0, Integer()),
        literal(0, Integer()),
    ).where(
        ~exists().where(Link.url == Article.url),
        func.length(Article.url) <= MAX_URL_CHARS,
        func.length(Article.fetched_url) <= MAX_URL_CHARS,
    )
    stmt = (
        upsert(Link)
        .from_select(list(_LINK_COLUMNS), source)
        .on_conflict_do_nothing(index_elements=[Link.url])
        .returning(Link.id)
    )
    return len(session.execute(stmt).all())


def site_id_of(session: Session, site: str) -> int | None:
    return session.scalar(select(SiteRow.id).where(SiteRow.name == site))


def of_site(site_id: int) -> ColumnElement[bool]:
    """Links referenced from a page of the site, or that are one of its stored articles."""
    return or_(
        exists().where(LinkRef.link_id == Link.id, LinkRef.site_id == site_id),
        exists().where(Article.url == Link.url, Article.site_id == site_id),
    )


def claim_due_links(
    session: Session,
    *,
    now: datetime,
    lease_until: datetime,
    site: str | None = None,
    limit: int | None = None,
) -> list[LinkToCheck]:
    """Claim the links due for a check (oldest due first): their next check moves to
    ``lease_until``, so no other checker run takes them meanwhile."""
    due = select(Link.id).where(Link.next_check_at <= now)
    if site is not None:
        site_id = site_id_of(session, site)
        if site_id is None:
            return []
        due = due.where(of_site(site_id))
    due = due.order_by(Link.next_check_at, Link.id)
    if limit is not None:
        due = due.limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    stmt = (
        update(Link)
        .where(Link.id.in_(due.scalar_subquery()))
        .values(next_check_at=lease_until)
        .returning(
            Link.id,
            Link.url,
            Link.fetch_url,
            Link.status,
            Link.status_since,
            Link.streak,
            Link.consecutive_failures,
            Link.failing_since,
        )
        .execution_options(synchronize_session=False)
    )
    claimed = [
        LinkToCheck(
            id=r.id,
            url=r.url,
            fetch_url=r.fetch_url,
            status=r.status,
            status_since=r.status_since,
            streak=r.streak,
            consecutive_failures=r.consecutive_failures,
            failing_since=r.failing_since,
        )
        for r in session.execute(stmt)
    ]
    claimed.sort(key=lambda link: link.id)
    return claimed


def release_links(session: Session, link_ids: Collection[int], *, when: datetime) -> None:
    """Give back claimed links that were not checked (an interrupted run): due at ``when``."""
    ordered = sorted(link_ids)
    for chunk in chunks(ordered):
        session.execute(
            update(Link)
            .where(Link.id.in_(chunk))
            .values(next_check_at=when)
            .execution_options(synchronize_session=False)
        )


def save_link_updates(
    session: Session, updates: Sequence[LinkUpdate], *, history_per_link: int
) -> int:
    """Store checked links' new states, their checks (keeping ``history_per_link`` per link),
    their events, and flag or unflag the stored articles at their URLs.  Returns how many
    stored articles were newly flagged as gone."""
    if not updates:
        return 0
    updates = sorted(updates, key=lambda u: u.id)
    session.execute(
        update(Link),
        [
            {
                "id": u.id,
                "status": u.status,
                "status_since": u.status_since,
                "http_status": u.http_status,
                "detail": u.detail,
                "redirect_url": u.redirect_url,
                "last_checked_at": u.checked_at,
                "next_check_at": u.next_check_at,
                "streak": u.streak,
                "consecutive_failures": u.consecutive_failures,
                "failing_since": u.failing_since,
            }
            for u in updates
        ],
    )
    session.execute(
        insert(LinkCheck),
        [
            {
                "link_id": u.id,
                "checked_at": u.checked_at,
                "result": u.result,
                "status": u.status,
                "http_status": u.http_status,
                "detail": u.detail,
                "final_url": u.final_url,
                "method": u.method,
                "elapsed_ms": u.elapsed_ms,
            }
            for u in updates
        ],
    )
    events = [u for u in updates if u.event]
    if events:
        session.execute(
            insert(LinkEvent),
            [
                {
                    "link_id": u.id,
                    "kind": u.event,
                    "status": u.status,
                    "previous_status": u.previous_status,
                    "http_status": u.http_status,
                    "detail": u.detail,
                    "at": u.checked_at,
                }
                for u in events
            ],
        )
    flagged = _flag_articles(session, updates)
    _prune_history(session, [u.id for u in updates], history_per_link)
    return flagged


def _flag_articles(session: Session, updates: Sequence[LinkUpdate]) -> int:
    gone = [u for u in updates if u.article_gone]
    flagged = 0
    for chunk in chunks([u.url for u in gone]):
        flagged += int(
            session.scalar(
                select(func.count(Article.id)).where(
                    Article.url.in_(chunk), Article.gone_at.is_(None)
                )
            )
            or 0
        )
    if flagged:
        table = cast(Table, Article.__table__)
        session.execute(
            update(table)
            .where(table.c.url == bindparam("b_url"), table.c.gone_at.is_(None))
            .values(gone_at=bindparam("b_at"), gone_status=bindparam("b_status")),
            [{"b_url": u.url, "b_at": u.checked_at, "b_status": u.http_status} for u in gone],
        )
    back = [u.url for u in updates if u.article_gone is False]
    for chunk in chunks(back):
        session.execute(
            update(Article)
            .where(Article.url.in_(chunk), Article.gone_at.is_not(None))
            .values(gone_at=None, gone_status=None)
            .execution_options(synchronize_session=False)
        )
    return flagged


def _prune_history(session: Session, link_ids: Sequence[int], keep: int) -> None:
    for chunk in chunks(sorted(set(link_ids))):
        ranked = (
            select(
                LinkCheck.id,
                func.row_number()
                .over(partition_by=LinkCheck.link_id, order_by=LinkCheck.id.desc())
                .label("rn"),
            )
            .where(LinkCheck.link_id.in_(chunk))
            .subquery()
        )
        session.execute(
            delete(LinkCheck)
            .where(LinkCheck.id.in_(select(ranked.c.id).where(ranked.c.rn > keep)))
            .execution_options(synchronize_session=False)
        )
