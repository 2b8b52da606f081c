"""Full-text search of articles: the index of their terms, and ranked search through it.

The index holds each article's title and body as character unigrams and bigrams
(:mod:`storage.search_terms`): on SQLite an FTS5 table (contentless, ``detail=column``: the
terms are not stored twice, only their rowids and columns), on PostgreSQL a side table of two
``tsvector`` columns (the title's terms; the title's and the body's) with a GIN index each.
Both are written by :func:`index_articles`, which every write path that inserts or edits an
article calls.  On PostgreSQL an edit replaces the article's row and a deleted article's row
goes with it (foreign key).  SQLite's contentless table can only forget terms it is told
exactly (FTS5's ``'delete'`` with the old text; wrong text corrupts the index), so an edit
adds the new text's terms and the old ones stay, and a deleted article's terms stay too: they
only add candidates, which the substring check drops.

Search (:func:`find_articles`) asks the index for candidates, then checks every word as a
case-insensitive substring of the title or body (``LIKE``/``ILIKE``), so its result is the
substring scan's, whatever the index held.  Title hits come first, then the rest, each newest
first.  How the page is found depends on how many articles the index names (on SQLite the
first :data:`PROBE_CAP` + 1 read in id order, and beyond them an estimate from the share of the
ids they span; on PostgreSQL the planner's estimate): up to :data:`PROBE_CAP`, their ids are
ordered by the listing's columns alone and only the page's rows are read; up to
:data:`MEMBER_CAP` (SQLite only), the listing index is walked newest first and each row
tested for membership in the index's answer (a set the database builds once) before its text
is checked; more than that (on PostgreSQL: more than the probe), the walk checks the text
alone, since a word in that many articles fills a page after a short walk.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any, TypeVarTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Row,
    Select,
    and_,
    any_,
    bindparam,
    column,
    literal_column,
    not_,
    or_,
    text,
)
from sqlalchemy.orm import Session

from storage.models import Article
from storage.repository.common import is_postgres
from storage.search_build import MAX_PG_TERMS, TABLE
from storage.search_terms import QueryWord, TermText, fold, query_words
from storage.text import clean_text

log = logging.getLogger(__name__)

__all__ = [
    "MEMBER_CAP",
    "PROBE_CAP",
    "TABLE",
    "find_articles",
    "index_article_terms",
    "index_articles",
    "listing_order",
]

_Ts = TypeVarTuple("_Ts")

PROBE_CAP = 5000  # more candidates than this: walk the listing newest first instead
MEMBER_CAP = 100_000  # up to this many, the walk tests membership in the index's answer


def index_articles(session: Session, articles: Iterable[tuple[int, str, str]]) -> None:
    """Index (or re-index, after an edit) articles given as ``(id, title, body)``.

    The one hook every write path calls after inserting or updating articles' text (or
    :func:`index_article_terms`, when the terms were computed already).
    """
    index_article_terms(session, [(aid, TermText.of(t, b)) for aid, t, b in articles])


def index_article_terms(session: Session, articles: Iterable[tuple[int, TermText]]) -> None:
    """:func:`index_articles` of articles whose terms are given: ``(id, terms)``, the terms
    computed elsewhere (a crawl's extraction worker) from the title and body stored."""
    if not is_postgres(session):
        rows = [{"id": aid, "title": tt.title, "body": tt.body} for aid, tt in articles]
        if rows:
            session.execute(
                text(f"INSERT INTO {TABLE}(rowid, title, body) VALUES (:id, :title, :body)"),
                rows,
            )
        return
    # the terms go as text, split and de-duplicated by PostgreSQL (array_to_tsvector sorts
    # and drops repeats): no per-term Python objects for the title's and the body's union;
    # the rows as three arrays, one short statement for the batch (one per article before)
    latest = dict(articles)  # one row per article (the last terms given)
    if latest:
        session.execute(
            text(
                f"INSERT INTO {TABLE} (article_id, title_terms, terms) "
                "SELECT id, array_to_tsvector(string_to_array(title, ' ')), "
                "array_to_tsvector(string_to_array(body, ' ')) "
                "FROM unnest(CAST(:ids AS bigint[]), CAST(:titles AS text[]), "
                "CAST(:terms AS text[])) AS rows (id, title, body) "
                "ON CONFLICT (article_id) DO UPDATE SET title_terms = excluded.title_terms, "
                "terms = excluded.terms"
            ),
            {
                "ids": list(latest),
                "titles": [tt.title for tt in latest.values()],
                "terms": [_pg_union(tt) for tt in latest.values()],
            },
        )


def _pg_union(terms: TermText) -> str | None:
    """The title's and the body's terms as one text (repeats allowed), or None when they are
    more than :data:`MAX_PG_TERMS` distinct terms (not indexed)."""
    joined = " ".join(t for t in (terms.title, terms.body) if t)
    if joined.count(" ") + 1 > MAX_PG_TERMS and len(set(joined.split())) > MAX_PG_TERMS:
        return None
    return joined


def listing_order() -> tuple[ColumnElement[Any], ...]:
    """The articles listing's order: newest publish time first (unknown last), then first
    seen, then id; served by the ``ix_articles_listing`` index."""
    return (
        Article.publish_time.desc().nulls_last(),
        Article.first_seen.desc(),
        Article.id.desc(),
    )


def find_articles(
    session: Session,
    base: Select[*_Ts],
    search: str,
    limit: int,
    keyset: tuple[ColumnElement[bool], bool | None] | None = None,
) -> list[Row[*_Ts]]:
    """Rows of ``base`` (a select over articles, filtered) whose title or body contains every
    word of ``search``: title hits first, then the others, each in listing order.

    ``keyset`` is where the previous page ended: the listing-order condition of the rows
    after its last row, and whether that row was a title hit (``None``: not known, the
    condition then applies to both groups).

    Raises :class:`ValueError` for a search text that is too long or has too many words.
    """
    words = query_words(search)
    after, in_titles = keyset if keyset is not None else (None, None)
    if after is not None and (in_titles is None or not words):
        base, after = base.where(after), None
    if not words or limit <= 0:
        return list(session.execute(base.order_by(*listing_order()).limit(max(limit, 0))))
    sqlite = not is_postgres(session)
    title_hit = and_(*(_contains(Article.title, w, sqlite) for w in words))
    any_hit = and_(
        *(
            or_(_contains(Article.title, w, sqlite), _contains(Article.body, w, sqlite))
            for w in words
        )
    )
    rows: list[Row[*_Ts]] = []
    if after is None or in_titles:  # the title hits, or those after the cursor among them
        titled = base.where(title_hit) if after is None else base.where(title_hit, after)
        rows = _find(session, titled, words, limit, title_only=True)
    if len(rows) < limit:
        rest = base.where(any_hit, not_(title_hit))
        if after is not None and not in_titles:  # the cursor is among the body hits
            rest = rest.where(after)
        rows += _find(session, rest, words, limit - len(rows), title_only=False)
    return rows


def title_matches(title: str, search: str) -> bool:
    """Whether ``title`` holds every word of ``search``: a search result ranked among the
    title hits (the first group of :func:`find_articles`)."""
    words = query_words(search)
    folded = fold(clean_text(title))
    return bool(words) and all(w.text in folded for w in words)


def _find(
    session: Session,
    stmt: Select[*_Ts],
    words: Sequence[QueryWord],
    limit: int,
    *,
    title_only: bool,
) -> list[Row[*_Ts]]:
    terms = [t for w in words for t in w.terms]
    match = _candidates(session, terms, title_only=title_only) if terms else None
    if isinstance(match, list):
        if not match:
            return []
        # the candidates' ids in listing order first, then only the page's rows: sorting
        # thousands of whole rows (bodies and all) is what costs
        page = list(
            session.scalars(
                stmt.with_only_columns(Article.id)
                .where(_among(session, match))
                .order_by(*listing_order())
                .limit(limit)
            )
        )
        if not page:
            return []
        stmt = stmt.where(Article.id.in_(page))
    elif match is not None:
        stmt = stmt.where(match)
    elif is_postgres(session):
        return _walk_postgres(session, stmt.order_by(*listing_order()).limit(limit))
    return list(session.execute(stmt.order_by(*listing_order()).limit(limit)))


def _walk_postgres(session: Session, stmt: Select[*_Ts]) -> list[Row[*_Ts]]:
    """``stmt`` as a walk of the listing index, newest first, until its page is full.  The
    walk is chosen because the index named many articles, but PostgreSQL estimates
    ``ILIKE '%问责%'`` from no statistics at a few dozen rows in a million and would scan the
    whole table and sort what it found (0.7 s, for 19,000 titles); sorting is made the
    planner's last resort for this one statement (if it fails, the transaction is aborted
    and the setting goes with it: restoring it then would hide the error)."""
    session.execute(text("SET LOCAL enable_sort = off"))
    rows = list(session.execute(stmt))
    session.execute(text("SET LOCAL enable_sort = on"))
    return rows


def _among(session: Session, ids: list[int]) -> ColumnElement[bool]:
    """``Article.id`` is one of ``ids``; on PostgreSQL as one array parameter (thousands of
    separate parameters cost psycopg more to send than the query costs to run)."""
    if not is_postgres(session):
        return Article.id.in_(ids)
    from sqlalchemy.dialects.postgresql import ARRAY  # not loaded by SQLite's commands

    return Article.id == any_(bindparam("candidate_ids", ids, type_=ARRAY(BigInteger)))


def _candidates(
    session: Session, terms: Sequence[str], *, title_only: bool
) -> list[int] | ColumnElement[bool] | None:
    """What the index says of the articles holding every term (in the title with
    ``title_only``), by how many there are: their ids (at most :data:`PROBE_CAP`), a
    membership condition the listing walk tests (at most :data:`MEMBER_CAP`), or ``None``
    (more: the walk checks the substrings alone, and finds a page soon)."""
    if not is_postgres(session):
        # terms hold only [a-z0-9] and CJK ideographs: quoting them is all FTS5 needs
        phrase = " AND ".join(f'"{t}"' for t in dict.fromkeys(terms))
        match = f"title : ({phrase})" if title_only else phrase
        where = f"FROM {TABLE} WHERE {TABLE} MATCH :match"
        # FTS5 answers in rowid order and stops at the limit: the probe reads a few thousand
        # entries of the terms' lists, however common they are
        ids = list(
            session.scalars(
                text(f"SELECT rowid {where} ORDER BY rowid LIMIT :cap"),
                {"match": match, "cap": PROBE_CAP + 1},
            )
        )
        if len(ids) <= PROBE_CAP:
            return ids
        if _sqlite_estimate(session, len(ids), ids[-1]) > MEMBER_CAP:
            return None
        # "+id": the id is tested as the walk reads the listing index, not used to look
        # rows up by id (SQLite's choice otherwise), which would sort them all
        member = text(f"SELECT rowid {where}").bindparams(match=match)
        return literal_column("+articles.id").in_(member.columns(column("rowid")))
    # the same alphabet needs only single quotes in a tsquery
    query = " & ".join(f"'{t}'" for t in dict.fromkeys(terms))
    column_name = "title_terms" if title_only else "terms"
    unindexed = "" if title_only else " OR terms IS NULL"
    where = f"FROM {TABLE} WHERE {column_name} @@ CAST(:query AS tsquery){unindexed}"
    # The planner's estimate first (planning only): for a common term the probe would read
    # thousands of rows' tsvectors only to learn that the walk is the way.
    plan = session.scalar(text(f"EXPLAIN (FORMAT JSON) SELECT 1 {where}"), {"query": query})
    estimate = _estimated_rows(plan)
    if estimate > 2 * PROBE_CAP:
        return None
    probe = text(f"SELECT article_id {where} LIMIT :cap")
    ids = list(session.scalars(probe, {"query": query, "cap": PROBE_CAP + 1}))
    # More than the probe holds: the walk checks the text alone.  No membership test on
    # PostgreSQL: its estimate of an ``&`` of a word's bigrams multiplies their frequencies
    # as if independent (7 articles for 开除党籍 in a million, where 19,000 hold it), and
    # given ``id IN (answer)`` it drove a join from the answer and sorted all of it (page 2
    # of a common word 220-320 ms at 1M); as a hashed filter it built the whole answer first
    # (150 ms for a common character), and the walk tests the title's text before either.
    return ids if len(ids) <= PROBE_CAP else None


def _sqlite_estimate(session: Session, found: int, last_id: int) -> float:
    """How many articles the index names, from its first ``found`` in id order ending at
    ``last_id``: as many again per as large a share of the ids.  Counting them instead read
    the terms' whole lists (up to :data:`MEMBER_CAP` matches, 30-75 ms for a common word at
    a million articles), and the membership walk then read them again."""
    low, high = session.execute(
        text("SELECT (SELECT min(id) FROM articles), (SELECT max(id) FROM articles)")
    ).one()
    if low is None or high is None or last_id <= low:
        return float(found)
    return found * (high - low + 1) / (last_id - low + 1)


def _estimated_rows(plan: Any) -> float:
    """Rows PostgreSQL's planner expects, from ``EXPLAIN (FORMAT JSON)`` (0 if unreadable)."""
    if isinstance(plan, str):
        plan = json.loads(plan)
    try:
        return float(plan[0]["Plan"]["Plan Rows"])
    except (LookupError, TypeError, ValueError):
        return 0.0


def _contains(column: Any, word: QueryWord, sqlite: bool) -> ColumnElement[bool]:
    pattern = "%" + word.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    # SQLite's LIKE ignores ASCII case; PostgreSQL's ILIKE ignores case
    if sqlite:
        return column.like(pattern, escape="\\")
    return column.ilike(pattern, escape="\\")
