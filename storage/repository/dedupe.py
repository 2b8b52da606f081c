"""Dedupe and incremental crawling: near-duplicate lookup and links, HTTP validators.

The near-duplicate lookup goes through indexes only: ``articles.body_hash`` for exact copies
and the primary key of ``dedupe_bands`` (``key, article_id``) for MinHash-LSH candidates,
ranked by the number of band keys they share.  Whether a candidate really is the same story
is decided by the caller's ``same_story`` (``crawler.extract.fingerprint.is_same_story``), so
storage knows nothing of how texts are compared.

A story is a root article (``duplicate_of IS NULL``) and its copies, each pointing straight
at the root (never at another copy).  The root is the earliest copy: the one published first
(first stored, when a publish time is unknown); a copy found later but published earlier
becomes the new root and the others are re-pointed to it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime

from sqlalchemy import and_, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from storage.models import Article, DedupeBand, HttpValidator, SiteRow
from storage.records import NewArticle, StoryCopy, Validators
from storage.repository.common import (
    IN_CHUNK,
    insert_for,
    is_postgres,
    pg_insert_columns,
    sqlite_insert_rows,
    utcnow,
)

SameStory = Callable[[str, str], bool]  # (body, body) -> one story?

# Candidates verified per new article, best first (an exact copy, then most shared keys).
CANDIDATES = 8


def near_candidates(
    session: Session,
    article_id: int,
    body_hash: int | None,
    bands: Sequence[int],
    limit: int = CANDIDATES,
) -> list[int]:
    """Ids of stored articles that may hold the same story, best candidates first.

    An exact copy (same normalised-body hash, stored before ``article_id``) comes first,
    then articles sharing band keys, most shared first.  Both lookups use an index.
    """
    found: list[int] = []
    if body_hash is not None:
        # no ORDER BY id LIMIT 1: PostgreSQL would walk the primary key instead of the index
        exact = list(
            session.scalars(
                select(Article.id).where(Article.body_hash == body_hash, Article.id < article_id)
            )
        )
        if exact:
            found.append(min(exact))
    if bands:
        stmt = (
            select(DedupeBand.article_id)
            .where(DedupeBand.key.in_(list(dict.fromkeys(bands))))
            .where(DedupeBand.article_id != article_id)
            .group_by(DedupeBand.article_id)
            .order_by(func.count().desc(), DedupeBand.article_id)
            .limit(limit)
        )
        found += [i for i in session.scalars(stmt) if i not in found]
    return found[:limit]


def link_copies(
    session: Session,
    new_rows: Sequence[tuple[int, NewArticle]],
    same_story: SameStory | None,
    first_seen: datetime,
) -> list[tuple[int, int]]:
    """Link newly inserted articles to the stories they are copies of; index their keys.

    ``new_rows`` are ``(id, article)`` of rows just inserted (``first_seen`` then).  They are
    taken in id order,
    so a copy within the batch finds an earlier one.  Stored candidates are looked up for
    the whole batch at once (one indexed query for the hashes, one for the band keys).
    Returns ``(new id, id of the story's earliest copy)`` for each article linked (equal
    when the new one is the earliest).  Without ``same_story`` nothing is linked.
    """
    rows = sorted(((i, a) for i, a in new_rows if a.bands), key=lambda row: row[0])
    if not rows:
        return []
    batch = [i for i, _ in rows]
    by_hash: dict[int, int] = {}  # body hash -> lowest id with it
    by_key: dict[int, list[int]] = defaultdict(list)  # band key -> ids with it
    if same_story is not None:
        hashes = list({a.body_hash for _, a in rows if a.body_hash is not None})
        for start in range(0, len(hashes), IN_CHUNK):
            stmt = (
                select(Article.body_hash, func.min(Article.id))
                .where(Article.body_hash.in_(hashes[start : start + IN_CHUNK]))
                .where(Article.id.not_in(batch))
                .group_by(Article.body_hash)
            )
            by_hash.update({h: i for h, i in session.execute(stmt) if h is not None})
        keys = list({k for _, a in rows for k in a.bands})
        for start in range(0, len(keys), IN_CHUNK):
            stmt = select(DedupeBand.key, DedupeBand.article_id).where(
                DedupeBand.key.in_(keys[start : start + IN_CHUNK])
            )
            for key, article_id in session.execute(stmt):
                by_key[key].append(article_id)
    links: list[tuple[int, int]] = []
    for article_id, article in rows:
        if same_story is not None:
            candidates = _ranked(article_id, article, by_hash, by_key)
            seen = (article.publish_time or first_seen, article_id)
            earliest = _verify(session, article_id, seen, article, candidates, same_story)
            if earliest is not None:
                links.append((article_id, earliest))
            if article.body_hash is not None:
                by_hash.setdefault(article.body_hash, article_id)
            for key in article.bands:
                by_key[key].append(article_id)
    insert_bands(session, [(i, k) for i, a in rows for k in dict.fromkeys(a.bands)])
    return links


def insert_bands(session: Session, bands: Sequence[tuple[int, int]]) -> None:
    """Index ``(article id, band key)`` pairs."""
    if not bands:
        return
    if is_postgres(session):  # one statement of two arrays (16 rows an article)
        pg_insert_columns(
            session,
            "dedupe_bands",
            {
                "key": ("bigint", [k for _, k in bands]),
                "article_id": ("bigint", [i for i, _ in bands]),
            },
        )
        return
    sqlite_insert_rows(session, "dedupe_bands", ("key", "article_id"), [(k, i) for i, k in bands])


def _ranked(
    article_id: int, article: NewArticle, by_hash: dict[int, int], by_key: dict[int, list[int]]
) -> list[int]:
    """Candidates best first: an exact copy, then by the number of shared band keys."""
    shared: Counter[int] = Counter()
    for key in dict.fromkeys(article.bands):
        shared.update(i for i in by_key.get(key, ()) if i != article_id)
    exact = by_hash.get(article.body_hash) if article.body_hash is not None else None
    ranked = [exact] if exact is not None and exact != article_id else []
    ranked += [i for i, _ in sorted(shared.items(), key=lambda kv: (-kv[1], kv[0]))]
    return list(dict.fromkeys(ranked))[:CANDIDATES]


def _verify(
    session: Session,
    article_id: int,
    seen: tuple[datetime, int],
    article: NewArticle,
    candidates: Sequence[int],
    same_story: SameStory,
) -> int | None:
    """The story the new article ``article_id`` (published or first seen at ``seen``) is a
    copy of, linked; None when no candidate is one."""
    if not candidates:
        return None
    rows = {r.id: r for r in session.execute(_CANDIDATES, {"ids": list(candidates)})}
    for candidate in candidates:
        row = rows.get(candidate)
        if row is not None and same_story(article.body, row.body):
            if row.duplicate_of is None:  # the candidate is its story's earliest copy
                return _join(session, article_id, seen, row.id, row.publish_time or row.first_seen)
            return _join(session, article_id, seen, row.duplicate_of, None)
    return None


def _join(
    session: Session,
    article_id: int,
    seen: tuple[datetime, int],
    root: int,
    root_seen: datetime | None,
) -> int:
    """Link the new article to the story whose earliest copy is ``root`` (published or
    first seen at ``root_seen``; None: read here), or make it the earliest."""
    if root_seen is None:
        row = session.execute(_SEEN, {"root": root}).one()
        root_seen = row.publish_time or row.first_seen
    if seen < (root_seen, root):  # published before every copy stored so far
        session.execute(_MAKE_EARLIEST, {"new": article_id, "root": root})
        return article_id
    session.execute(_LINK_TO_ROOT, {"new": article_id, "root": root})
    return root


# built once (each new article with candidates runs them); the session holds no Article
# objects to keep in step, so no synchronisation
_CANDIDATES = select(
    Article.id, Article.duplicate_of, Article.body, Article.publish_time, Article.first_seen
).where(Article.id.in_(bindparam("ids", expanding=True)))
_SEEN = select(Article.publish_time, Article.first_seen).where(Article.id == bindparam("root"))
_MAKE_EARLIEST = (
    update(Article)
    .where(or_(Article.id == bindparam("root"), Article.duplicate_of == bindparam("root")))
    .values(duplicate_of=bindparam("new"))
    .execution_options(synchronize_session=False)
)
_LINK_TO_ROOT = (
    update(Article)
    .where(Article.id == bindparam("new"))
    .values(duplicate_of=bindparam("root"))
    .execution_options(synchronize_session=False)
)


def replace_bands(session: Session, article_id: int, bands: Iterable[int]) -> None:
    """Re-index an article whose body changed."""
    session.execute(delete(DedupeBand).where(DedupeBand.article_id == article_id))
    insert_bands(session, [(article_id, k) for k in dict.fromkeys(bands)])


def story_copies(session: Session, article_id: int) -> list[StoryCopy]:
    """The other stored copies of an article's story, earliest first (empty: none)."""
    row = session.execute(
        select(Article.id, Article.duplicate_of).where(Article.id == article_id)
    ).first()
    if row is None:
        return []
    root = row.duplicate_of if row.duplicate_of is not None else row.id
    stmt = (
        select(Article, SiteRow.name)
        .join(SiteRow, Article.site_id == SiteRow.id)
        .where(or_(Article.id == root, Article.duplicate_of == root))
        .where(Article.id != article_id)
    )
    copies = [
        StoryCopy(
            id=a.id,
            site=site,
            url=a.fetched_url,
            title=a.title,
            publish_time=a.publish_time,
            first_seen=a.first_seen,
            publish_time_precision=a.publish_time_precision,
        )
        for a, site in session.execute(stmt)
    ]
    return sorted(copies, key=lambda c: (c.publish_time or c.first_seen, c.id))


def recent_articles(
    session: Session, site_id: int, since: datetime, limit: int = 1000
) -> list[tuple[str, str]]:
    """``(canonical URL, URL as fetched)`` of a site's articles published (or, when the
    time is unknown, first seen) since ``since``, newest first: the ones to re-check."""
    recent = or_(
        Article.publish_time >= since,
        and_(Article.publish_time.is_(None), Article.first_seen >= since),
    )
    stmt = (
        select(Article.url, Article.fetched_url)
        .where(Article.site_id == site_id, recent)
        .order_by(Article.first_seen.desc(), Article.id.desc())
        .limit(limit)
    )
    return [(r.url, r.fetched_url) for r in session.execute(stmt)]


def get_validators(session: Session, urls: Collection[str]) -> dict[str, Validators]:
    """Stored validators of these canonical URLs (those without any are left out)."""
    out: dict[str, Validators] = {}
    ordered = list(dict.fromkeys(urls))
    for start in range(0, len(ordered), IN_CHUNK):
        chunk = ordered[start : start + IN_CHUNK]
        for row in session.scalars(select(HttpValidator).where(HttpValidator.url.in_(chunk))):
            out[row.url] = Validators(row.url, row.etag, row.last_modified)
    return out


def save_validators(session: Session, validators: Iterable[Validators]) -> int:
    """Insert or replace validators; returns how many URLs were written."""
    latest = {v.url: v for v in validators if v.etag or v.last_modified}
    if not latest:
        return 0
    now = utcnow()
    insert = insert_for(session)
    rows = [
        {"url": v.url, "etag": v.etag, "last_modified": v.last_modified, "updated_at": now}
        for v in latest.values()
    ]
    for start in range(0, len(rows), IN_CHUNK):
        stmt = insert(HttpValidator)
        stmt = stmt.on_conflict_do_update(
            index_elements=[HttpValidator.url],
            set_={
                "etag": stmt.excluded.etag,
                "last_modified": stmt.excluded.last_modified,
                "updated_at": stmt.excluded.updated_at,
            },
        )
        session.execute(stmt, rows[start : start + IN_CHUNK])
    return len(rows)
