"""Reading the link inventory: links with the pages that reference them, history, events."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Subquery, func, select
from sqlalchemy.orm import Session

from storage.link_records import LinkCheckView, LinkEventView, LinkQuery, LinkRefView, LinkView
from storage.models import Article, Link, LinkCheck, LinkEvent, LinkRef, SiteRow
from storage.repository.links import chunks, of_site, site_id_of

REFS_PER_LINK = 5  # referencing pages returned with a link


def ranked_refs(link_ids: Sequence[int], sites: Sequence[str] = ()) -> Subquery:
    """The references of these links (optionally only from ``sites``) with their site's name
    and ``rn``, their rank per link: 1 for the page that showed the link most recently."""
    return (
        select(
            LinkRef.link_id,
            LinkRef.page_url,
            LinkRef.kind,
            LinkRef.text,
            LinkRef.last_seen,
            SiteRow.name.label("site"),
            func.row_number()
            .over(
                partition_by=LinkRef.link_id,
                order_by=(LinkRef.last_seen.desc(), LinkRef.id.desc()),
            )
            .label("rn"),
        )
        .join(SiteRow, LinkRef.site_id == SiteRow.id)
        .where(LinkRef.link_id.in_(link_ids), *([SiteRow.name.in_(sites)] if sites else []))
        .subquery()
    )


def _refs(
    session: Session, link_ids: Sequence[int]
) -> tuple[dict[int, list[LinkRefView]], dict[int, int]]:
    refs: dict[int, list[LinkRefView]] = defaultdict(list)
    counts: dict[int, int] = {}
    for chunk in chunks(list(link_ids)):
        for link_id, n in session.execute(
            select(LinkRef.link_id, func.count(LinkRef.id))
            .where(LinkRef.link_id.in_(chunk))
            .group_by(LinkRef.link_id)
        ):
            counts[link_id] = int(n)
        ranked = ranked_refs(chunk)
        rows = session.execute(
            select(ranked)
            .where(ranked.c.rn <= REFS_PER_LINK)
            .order_by(ranked.c.link_id, ranked.c.rn)
        )
        for r in rows:
            refs[r.link_id].append(
                LinkRefView(
                    page_url=r.page_url,
                    site=r.site,
                    kind=r.kind,
                    text=r.text,
                    last_seen=r.last_seen,
                )
            )
    return refs, counts


def list_links(session: Session, query: LinkQuery) -> list[LinkView]:
    """Links by status (newest status change first), with the pages that reference them."""
    stmt = select(Link)
    if query.statuses is not None:
        stmt = stmt.where(Link.status.in_(query.statuses))
    if query.site is not None:
        site_id = site_id_of(session, query.site)
        if site_id is None:
            return []
        stmt = stmt.where(of_site(site_id))
    stmt = stmt.order_by(Link.status_since.desc(), Link.id.desc()).limit(query.limit)
    links = list(session.scalars(stmt))
    refs, counts = _refs(session, [link.id for link in links])
    articles: dict[str, int] = {}
    for chunk in chunks([link.url for link in links]):
        articles.update(
            {
                url: id_
                for id_, url in session.execute(
                    select(Article.id, Article.url).where(Article.url.in_(chunk))
                )
            }
        )
    return [
        LinkView(
            id=link.id,
            url=link.url,
            fetch_url=link.fetch_url,
            status=link.status,
            status_since=link.status_since,
            http_status=link.http_status,
            detail=link.detail,
            redirect_url=link.redirect_url,
            first_seen=link.first_seen,
            last_seen=link.last_seen,
            last_checked_at=link.last_checked_at,
            next_check_at=link.next_check_at,
            consecutive_failures=link.consecutive_failures,
            failing_since=link.failing_since,
            refs=tuple(refs.get(link.id, ())),
            ref_count=counts.get(link.id, 0),
            article_id=articles.get(link.url),
        )
        for link in links
    ]


def count_links(session: Session, site: str | None = None) -> dict[str, int]:
    """How many links are in each status."""
    stmt = select(Link.status, func.count(Link.id)).group_by(Link.status)
    if site is not None:
        site_id = site_id_of(session, site)
        if site_id is None:
            return {}
        stmt = stmt.where(of_site(site_id))
    return {status: int(n) for status, n in session.execute(stmt)}


def link_history(session: Session, url: str, limit: int = 100) -> list[LinkCheckView]:
    """The stored checks of the link with canonical ``url``, newest first."""
    stmt = (
        select(LinkCheck)
        .join(Link, LinkCheck.link_id == Link.id)
        .where(Link.url == url)
        .order_by(LinkCheck.id.desc())
        .limit(limit)
    )
    return [
        LinkCheckView(
            checked_at=c.checked_at,
            result=c.result,
            status=c.status,
            http_status=c.http_status,
            detail=c.detail,
            final_url=c.final_url,
            method=c.method,
            elapsed_ms=c.elapsed_ms,
        )
        for c in session.scalars(stmt)
    ]


def link_events_since(
    session: Session, after_id: int = 0, limit: int = 1000, site: str | None = None
) -> list[LinkEventView]:
    """Events with an id above ``after_id`` (oldest first), with their referencing pages."""
    stmt = (
        select(LinkEvent, Link.url)
        .join(Link, LinkEvent.link_id == Link.id)
        .where(LinkEvent.id > after_id)
        .order_by(LinkEvent.id)
        .limit(limit)
    )
    if site is not None:
        site_id = site_id_of(session, site)
        if site_id is None:
            return []
        stmt = stmt.where(of_site(site_id))
    rows = session.execute(stmt).all()
    refs, _ = _refs(session, sorted({event.link_id for event, _ in rows}))
    return [
        LinkEventView(
            id=event.id,
            link_id=event.link_id,
            url=url,
            kind=event.kind,
            status=event.status,
            previous_status=event.previous_status,
            http_status=event.http_status,
            detail=event.detail,
            at=event.at,
            refs=tuple(refs.get(event.link_id, ())),
        )
        for event, url in rows
    ]
