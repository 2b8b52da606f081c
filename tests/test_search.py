"""Indexed article search: the same articles as a substring scan, ranked, on SQLite and
PostgreSQL, for 1-, 2-, 3- and 4-character Chinese words, Latin words and mixed queries."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, event, text

from storage import repository
from storage.database import Database
from storage.migrate import alembic_config, upgrade
from storage.models import Article
from storage.records import ArticleCursor, ArticleQuery, NewArticle, SiteInfo
from storage.repository import search
from storage.search_terms import TermText, document_terms, document_terms_text, fold, query_words
from storage.text import clean_text
from tests.conftest import run_cli

# Few characters, so that words recur across titles and bodies; ASCII of both cases; FTS and
# LIKE syntax; a character outside the index's alphabet (é).
ALPHABET = "违纪审查调查党纪处分中央委员会违法XxiAbé \"*:-%_\\'，。"
WORDS = ["违纪", "审查调查", "党纪处分", "中央", "Xi", "查", "纪"]


@dataclass
class Doc:
    title: str
    body: str
    publish_time: datetime | None


def _text(max_size: int) -> st.SearchStrategy[str]:
    piece = st.one_of(st.text(alphabet=ALPHABET, max_size=6), st.sampled_from(WORDS))
    return st.lists(piece, max_size=max_size).map("".join)


DOCS = st.lists(
    st.builds(
        Doc,
        title=_text(4),
        body=_text(12),
        publish_time=st.one_of(
            st.none(),
            st.integers(0, 400).map(lambda d: datetime(2024, 1, 1, tzinfo=UTC) + timedelta(d)),
        ),
    ),
    min_size=1,
    max_size=10,
)


def _query(docs: list[Doc]) -> st.SearchStrategy[str]:
    """A substring of a stored text (1–4 characters), a vocabulary word, or random text; one
    to three of them, as words."""
    texts = [d.title + d.body for d in docs if d.title + d.body]

    def slice_of(args: tuple[int, int, int]) -> str:
        i, start, size = args
        source = texts[i % len(texts)]
        start %= len(source)
        return source[start : start + size]

    parts = [st.sampled_from(WORDS), st.text(alphabet=ALPHABET, min_size=1, max_size=4)]
    if texts:
        parts.append(
            st.tuples(st.integers(0, 99), st.integers(0, 999), st.integers(1, 4)).map(slice_of)
        )
    return st.lists(st.one_of(*parts), min_size=1, max_size=3).map(" ".join)


def _expected(docs: dict[int, Doc], query: str) -> list[int]:
    """Brute force: every word a case-insensitive substring of the title or the body; title
    hits first, then newest publish time (unknown last), then newest id."""
    words = fold(clean_text(query)).split()  # control characters are dropped
    if not words:
        return sorted(docs, key=lambda i: _recency(docs[i], i))
    hits = [
        i for i, d in docs.items() if all(w in fold(d.title) or w in fold(d.body) for w in words)
    ]
    in_title = {i for i in hits if all(w in fold(docs[i].title) for w in words)}
    return sorted(hits, key=lambda i: (i not in in_title, *_recency(docs[i], i)))


def _recency(doc: Doc, article_id: int) -> tuple[bool, float, int]:
    stamp = doc.publish_time.timestamp() if doc.publish_time else 0.0
    return (doc.publish_time is None, -stamp, -article_id)


def _new(site_id: int, n: int, doc: Doc) -> NewArticle:
    return NewArticle(
        site_id=site_id,
        url=f"https://example.gov.cn/{n}.html",
        fetched_url=f"https://example.gov.cn/{n}.html",
        title=doc.title,
        pretitle=None,
        subtitle=None,
        publish_time=doc.publish_time,
        source=None,
        author=None,
        editor=None,
        body=doc.body,
    )


def _clear(db: Database) -> None:
    with db.session() as s:
        s.execute(delete(Article))
        if db.is_sqlite:  # a contentless FTS5 table is emptied by its command
            s.execute(text("INSERT INTO article_search(article_search) VALUES ('delete-all')"))


def _store(db: Database, docs: list[Doc]) -> dict[int, Doc]:
    with db.session() as s:
        sid = repository.sync_sites(s, [SiteInfo("local", "本地")])["local"]
        ids = repository.store_articles(
            s, [_new(sid, n, d) for n, d in enumerate(docs)], run_id=None
        )
    return dict(zip(ids, docs, strict=True))


def _search(db: Database, query: str, limit: int = 1000) -> list[int]:
    with db.session() as s:
        return [a.id for a in repository.list_articles(s, ArticleQuery(search=query, limit=limit))]


@pytest.fixture(
    params=[(search.PROBE_CAP, search.MEMBER_CAP), (0, search.MEMBER_CAP), (0, 0)],
    ids=["probe", "member", "walk"],
)
def probe_cap(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[int, int]]:
    """Every strategy: candidates from the index, the newest-first walk testing membership
    in the index's answer, and the walk checking the text alone."""
    monkeypatch.setattr(search, "PROBE_CAP", request.param[0])
    monkeypatch.setattr(search, "MEMBER_CAP", request.param[1])
    yield request.param


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_search_equals_the_substring_scan_ranked(
    db: Database, probe_cap: tuple[int, int], data: st.DataObject
) -> None:
    _clear(db)
    docs = _store(db, data.draw(DOCS, label="docs"))
    for _ in range(4):
        query = data.draw(_query(list(docs.values())), label="query")
        assert _search(db, query) == _expected(docs, query), query


def test_syntax_and_control_characters_are_plain_text(db: Database) -> None:
    docs = _store(
        db,
        [
            Doc('违纪"问题" NEAR(审查 调查) a*b title:x', "严重-违纪 50%_\\ 'q'", None),
            Doc("普通标题", "中央纪委\x1b[2J 违纪 OR 违法 AND NOT", None),
        ],
    )
    for query in [
        '"',
        "*",
        "NEAR",
        "NEAR(审查",
        "-",
        ":",
        "title:x",
        "a*b",
        "^违纪",
        "违纪 OR",
        "AND NOT",
        "'",
        "%",
        "_",
        "\\",
        "50%_",
        "'q'",
        "\x00\x1b",
        "违\x1b纪",
        "{title}:违纪",
        "(违纪)",
        "!违纪 & 违法 | x",
    ]:
        assert _search(db, query) == _expected(docs, query), repr(query)


def test_edits_reindex_and_title_hits_rank_first(db: Database) -> None:
    with db.session() as s:
        sid = repository.sync_sites(s, [SiteInfo("local", "本地")])["local"]
    old = Doc("关于会议的通报", "某某严重违纪被审查调查。", datetime(2024, 1, 1, tzinfo=UTC))
    newer = Doc("工作动态", "党纪处分决定：违纪。", datetime(2024, 5, 1, tzinfo=UTC))
    titled = Doc("违纪案件通报", "正文", datetime(2023, 1, 1, tzinfo=UTC))
    with db.session() as s:
        a, b, c = repository.store_articles(
            s, [_new(sid, 1, old), _new(sid, 2, newer), _new(sid, 3, titled)], run_id=None
        )
    assert _search(db, "违纪") == [c, b, a]  # the title hit, then newest first
    assert _search(db, "审查调查") == [a]
    edited = Doc(old.title, "某某被开除党籍。", old.publish_time)
    with db.session() as s:
        result = repository.save_articles(s, [_new(sid, 1, edited)], run_id=None)
    assert result.changed == (a,)
    assert _search(db, "审查调查") == []
    assert _search(db, "开除") == [a]
    assert _search(db, "违纪") == [c, b]
    assert _search(db, "违纪", limit=1) == [c]


def test_migration_indexes_existing_rows_and_downgrades(database_url: str) -> None:
    db = Database(database_url)
    with db.engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0009")
    with db.session() as s:
        repository.sync_sites(s, [SiteInfo("old", "旧")])
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO articles (site_id, url, fetched_url, title, publish_time, body, "
                "first_seen, last_seen, revision) SELECT id, 'https://old.example/' || :n, "
                "'https://old.example/', :title, :t, :body, :t, :t, 0 FROM sites"
            ),
            [
                {
                    "n": n,
                    "title": f"旧文章{n}",
                    "body": "严重违纪" if n % 2 else "其他",
                    "t": datetime(2024, 1, 1, tzinfo=UTC),
                }
                for n in range(5)
            ],
        )
    upgrade(db)
    with db.session() as s:
        found = repository.list_articles(s, ArticleQuery(search="违纪"))
        assert sorted(a.title for a in found) == ["旧文章1", "旧文章3"]
        assert s.scalar(text("SELECT count(*) FROM article_search")) == 5
    with db.engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0009")
    with db.engine.connect() as conn:
        names = set(
            conn.execute(
                text(
                    "SELECT name FROM sqlite_master"
                    if db.is_sqlite
                    else "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                )
            ).scalars()
        )
    assert not {n for n in names if n.startswith("article_search")}
    upgrade(db)  # and back up, indexing again
    with db.session() as s:
        assert len(repository.list_articles(s, ArticleQuery(search="违纪"))) == 2
    db.dispose()


def test_a_two_character_word_is_served_by_the_index(db: Database) -> None:
    _store(
        db, [Doc(f"标题{n}", f"正文{n}违纪" if n % 3 == 0 else f"正文{n}", None) for n in range(30)]
    )
    with db.session() as s:
        if db.is_sqlite:
            plan = " ".join(
                str(r[-1])
                for r in s.execute(
                    text(
                        "EXPLAIN QUERY PLAN SELECT rowid FROM article_search "
                        "WHERE article_search MATCH '\"违纪\"'"
                    )
                )
            )
            assert "VIRTUAL TABLE" in plan
        else:
            s.execute(text("ANALYZE article_search"))
            s.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(
                s.execute(
                    text(
                        "EXPLAIN SELECT article_id FROM article_search "
                        "WHERE terms @@ '违纪'::tsquery"
                    )
                ).scalars()
            )
            assert "ix_article_search_terms" in plan
    assert len(_search(db, "违纪")) == 10


def test_a_body_of_too_many_terms_is_found_by_its_text(db: Database) -> None:
    """More distinct terms than a PostgreSQL tsvector holds: not indexed there (NULL), still
    found (the substring check); the shipped terms of the crawl's worker take that path too."""
    rnd = random.Random(14)
    body = "".join(chr(rnd.randrange(0x4E00, 0x9FA6)) for _ in range(70_000))
    docs = [Doc("标题", body, None), Doc("别的", "正文违纪", None)]
    with db.session() as s:
        sid = repository.sync_sites(s, [SiteInfo("local", "本地")])["local"]
        articles = [
            replace(
                _new(sid, n, d),
                terms=TermText(document_terms_text(d.title), document_terms_text(d.body)),
            )
            for n, d in enumerate(docs)
        ]
        ids = repository.store_articles(s, articles, run_id=None)
        if not db.is_sqlite:
            terms = s.execute(
                text("SELECT terms IS NULL FROM article_search ORDER BY article_id")
            ).scalars()
            assert list(terms) == [True, False]
    assert _search(db, body[1000:1003]) == [ids[0]]
    assert _search(db, "违纪") == [ids[1]]


_TERM_EDGES = (
    "aAzZ09İKk \t\n严重违纪，。-_`{/:@É\u33ff\u3400\u4dbf\u4dc0\u4dff\u4e00\u9fff"
    "\ua000\uf8ff\uf900\ufaff\ufb00\U0001f600\ud800"
)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(_TERM_EDGES) | st.characters(), max_size=40))
def test_document_terms_text_is_the_same_set(text: str) -> None:
    """The numpy form the extraction worker ships (one string) holds exactly the terms of
    ``document_terms``, each once: over every boundary of the indexable ranges, case folding,
    astral and lone surrogate characters, and empty text."""
    joined = document_terms_text(text)
    terms = joined.split(" ") if joined else []
    assert len(terms) == len(set(terms))
    assert set(terms) == document_terms(text)
    assert set(TermText.of(text, text).body.split()) == document_terms(text)


def test_document_and_query_terms() -> None:
    assert document_terms("严重违纪 Xi") == {
        "严",
        "重",
        "违",
        "纪",
        "严重",
        "重违",
        "违纪",
        "x",
        "i",
        "xi",
    }
    assert [w.terms for w in query_words("违纪 纪 审查调查 X")] == [
        ("违纪",),
        ("纪",),
        ("审查", "查调", "调查"),
        ("x",),
    ]
    assert [w.terms for w in query_words('"*:-é')] == [()]
    with pytest.raises(ValueError, match="longer than"):
        query_words("违" * 201)
    with pytest.raises(ValueError, match="more than 8 words"):
        query_words(" ".join("abcdefghi"))


def test_cli_search_finds_and_refuses_bad_input(tmp_path: Path, database_url: str) -> None:
    config = tmp_path / "govwatch.toml"
    config.write_text(
        '[[sites]]\nname = "local"\ntitle = "本地"\nstart_urls = ["http://127.0.0.1:9/"]\n'
        "article_url_pattern = 'content_\\d+'\n",
        encoding="utf-8",
    )
    env = {"GOVWATCH_DATABASE_URL": database_url}
    assert run_cli("--config", str(config), "init", env=env).returncode == 0
    db = Database(database_url)
    _store(db, [Doc("关于违纪的通报", "正文", None), Doc("其他", "无关", None)])
    db.dispose()
    found = run_cli(
        "--config", str(config), "articles", "--search", "违纪", "--format", "json", env=env
    )
    assert found.returncode == 0, found.stderr
    assert "关于违纪的通报" in found.stdout and "其他" not in found.stdout
    bad = run_cli("--config", str(config), "articles", "--search", "违" * 300, env=env)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "--search" in bad.stderr


def test_keyset_pages_of_search_results_follow_the_ranking(db: Database) -> None:
    """Page by page (one row each, the cursor carrying whether the page ended among the title
    hits), a search gives the one-shot ranking: title hits first, none skipped or repeated."""
    day = datetime(2024, 1, 1, tzinfo=UTC)
    docs = _store(
        db,
        [
            Doc("违纪通报", "正文", day),
            Doc("工作动态", "严重违纪", day + timedelta(days=3)),
            Doc("违纪案件", "正文", day + timedelta(days=1)),
            Doc("会议", "违纪问题", day + timedelta(days=2)),
            Doc("无关", "无关", day + timedelta(days=4)),
            Doc("违纪", "违纪", None),
        ],
    )
    whole = _search(db, "违纪")
    assert whole == _expected(docs, "违纪")
    paged: list[int] = []
    after = None
    while True:
        with db.session() as s:
            rows = repository.list_articles(s, ArticleQuery(search="违纪", limit=1, after=after))
        if not rows:
            break
        row = rows[0]
        paged.append(row.id)
        after = ArticleCursor(
            row.publish_time, row.first_seen, row.id, search.title_matches(row.title, "违纪")
        )
    assert paged == whole


def test_new_articles_are_found_while_their_terms_wait_in_the_pending_list(db: Database) -> None:
    """PostgreSQL: the GIN indexes keep a short pending list (256 kB, not the 4 MB default that
    every search reads through); articles whose terms wait there are found all the same."""
    if db.is_sqlite:
        pytest.skip("a GIN pending list is PostgreSQL's")
    with db.session() as s:
        options = dict(
            s.execute(
                text(
                    "SELECT c.relname, array_to_string(c.reloptions, ',') FROM pg_class c "
                    "WHERE c.relname IN ('ix_article_search_terms', 'ix_article_search_title')"
                )
            ).all()
        )
    assert sorted(options) == ["ix_article_search_terms", "ix_article_search_title"]
    for found in options.values():
        assert "gin_pending_list_limit=256" in found.split(",")
        assert "fastupdate=off" not in found.split(",")
    _store(
        db, [Doc(f"标题{n}", f"正文{n}违纪" if n % 3 == 0 else f"正文{n}", None) for n in range(30)]
    )
    assert len(_search(db, "违纪")) == 10  # found while their terms wait in the list
    with db.session() as s:
        merged = s.execute(
            text("SELECT gin_clean_pending_list('ix_article_search_terms'::regclass)")
        ).scalar()
    assert merged and merged > 0  # they were in the list, not yet merged, when searched
    assert len(_search(db, "违纪")) == 10


def test_sqlite_routes_a_search_by_the_probes_estimate(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the probe's first ids (in id order), SQLite estimates how many articles the index
    names from the share of the ids they span, instead of counting them all: a word in every
    fourth of 400 articles is estimated at about 100 and routed by that."""
    _store(sqlite_db, [Doc("标题", "违纪" if n % 4 == 0 else "正文", None) for n in range(400)])
    terms = [t for w in query_words("违纪") for t in w.terms]
    with sqlite_db.session() as s:
        ids = search._candidates(s, terms, title_only=False)
        assert isinstance(ids, list) and len(ids) == 100  # all of them, under PROBE_CAP
        monkeypatch.setattr(search, "PROBE_CAP", 9)
        estimate = search._sqlite_estimate(s, 10, sorted(ids)[9])
        assert 90 <= estimate <= 110, estimate
        monkeypatch.setattr(search, "MEMBER_CAP", 150)
        member = search._candidates(s, terms, title_only=False)
        assert member is not None and not isinstance(member, list)  # the membership walk
        monkeypatch.setattr(search, "MEMBER_CAP", 60)
        assert search._candidates(s, terms, title_only=False) is None  # the text walk
    assert len(_search(sqlite_db, "违纪")) == 100


def test_postgresql_walks_the_listing_index_even_for_a_word_it_thinks_rare(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the index names more articles than the probe holds, the page is found by walking
    the listing index newest first; PostgreSQL estimates ``ILIKE '%word%'`` at a few rows and
    would scan the table and sort instead (0.7 s at a million articles): no Sort in the plan
    the walk runs with."""
    if db.is_sqlite:
        pytest.skip("the plan is PostgreSQL's")
    _store(db, [Doc(f"审查调查第{n}号", "违纪", None) for n in range(30)])
    monkeypatch.setattr(search, "PROBE_CAP", 0)  # every answer past the probe: the walk
    plans: list[str] = []

    def explain(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.startswith("SELECT articles.id, articles.site_id"):
            with cursor.connection.cursor() as c:  # the same transaction and settings
                c.execute("EXPLAIN " + statement, params)
                plans.append("\n".join(row[0] for row in c.fetchall()))

    event.listen(db.engine, "before_cursor_execute", explain)
    try:
        assert len(_search(db, "审查调查")) == 30
    finally:
        event.remove(db.engine, "before_cursor_execute", explain)
    assert plans
    for plan in plans:
        assert "Sort" not in plan and "ix_articles_listing" in plan, plan
