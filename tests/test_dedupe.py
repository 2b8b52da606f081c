"""Content dedupe: fingerprints (pure) and the store path that links copies of a story.

The storage tests run on SQLite always and on PostgreSQL when configured.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from sqlalchemy import select, text

from crawler.extract import story
from crawler.extract.fingerprint import (
    _PERM_A,
    _PERM_B,
    BANDS,
    MIN_CHARS,
    fingerprint,
    hash64,
    is_same_story,
    minhash,
    normalize_body,
    shingle_set,
    similarity,
)
from storage import repository
from storage.database import Database
from storage.models import Article
from storage.records import ArticleQuery, NewArticle, SiteInfo, StoreResult, Validators
from tests.sitegen_cq import SAMPLE_PARAGRAPHS
from tests.sitegen_text import small_edit
from tests.sitesrv import build_ccdi_site

BEIJING = timezone(timedelta(hours=8))
SAMPLE = "\n".join(SAMPLE_PARAGRAPHS)


# --- fingerprints -------------------------------------------------------------------------


def test_normalisation_drops_layout_bylines_and_datelines() -> None:
    body = (
        "新华社北京6月30日电　中央纪委国家监委，日前通报了５起典型问题。\n"
        "\n"
        "  经查， 张三违规收受礼品礼金。 \n"
        "（责任编辑：李四）\n"
        "【纠错】【打印】"
    )
    assert normalize_body(body) == "中央纪委国家监委日前通报了5起典型问题经查张三违规收受礼品礼金"


def test_fingerprints_are_stable_across_processes_and_versions() -> None:
    # Stored fingerprints must never change meaning (no random seeds, no hash() salt):
    # these values are pinned; changing the algorithm needs a migration that re-indexes.
    assert hash64("中央纪委") == 6_438_092_418_868_508_341
    prints = fingerprint(SAMPLE)
    assert prints.body_hash == hash64(normalize_body(SAMPLE)) == 4_009_775_116_629_455_560
    assert prints.bands[:2] == (-1_035_315_315_669_132_572, -776_075_160_961_088_896)
    assert len(prints.bands) == BANDS


@pytest.mark.parametrize("chars", [3, 100, 2049, 2050, 9000])
def test_minhash_is_its_definition_at_any_size(chars: int) -> None:
    # min over the shingles x of ((A * x + B) mod 2**64) >> 32, per permutation: computed
    # here in one plain expression, there in chunks, in place, shifted after the minimum
    text = "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(chars))
    shingles = shingle_set(text)
    assert len(shingles) == chars - 2
    with np.errstate(over="ignore"):
        values = (shingles[:, None] * _PERM_A + _PERM_B) >> np.uint64(32)
    assert (minhash(shingles) == values.min(axis=0)).all()


def test_republished_copy_with_other_boilerplate_is_the_same_story() -> None:
    copy = (
        "来源：重庆日报\n"
        + SAMPLE.replace("，", ",")
        + "\n（责任编辑：王伟）\n扫一扫在手机打开当前页"
    )
    assert is_same_story(SAMPLE, copy)
    assert set(fingerprint(copy).bands) & set(fingerprint(SAMPLE).bands)


def test_small_edit_is_the_same_story_but_not_the_same_body() -> None:
    site = build_ccdi_site(n_articles=6)
    for article in site.articles:
        edited = "\n".join(small_edit(article.paragraphs))
        assert is_same_story(article.body, edited)
        assert fingerprint(article.body).body_hash != fingerprint(edited).body_hash
        assert set(fingerprint(article.body).bands) & set(fingerprint(edited).bands)


def test_different_articles_are_different_stories() -> None:
    site = build_ccdi_site(n_articles=23, gbk_every=5)
    for a, b in itertools.combinations(site.articles, 2):
        assert similarity(a.body, b.body) < 0.5, (a.title, b.title)
        assert not is_same_story(a.body, b.body)


def test_short_bodies_are_never_linked() -> None:
    short = "图片新闻：廉洁文化进社区。"
    assert len(normalize_body(short)) < MIN_CHARS
    assert fingerprint(short).bands == ()
    assert not is_same_story(short, short)


def test_the_comparison_without_numpy_gives_the_fingerprints_similarity() -> None:
    # crawler.extract.story compares 3-gram strings (or their values beyond U+F4243) where
    # the fingerprint compares their 64-bit hashes: the same sets, so the same similarity
    site = build_ccdi_site(n_articles=12, gbk_every=5)
    bodies = [a.body for a in site.articles]
    bodies += ["\n".join(small_edit(a.paragraphs)) for a in site.articles[:6]]
    far = "\U000f4243\U00100000\U0010fffd"  # private use code points at and above the base
    # 3-grams equal as values but not as strings: (a, b + 1, c - C) is (a, b, c) by value
    near = chr(0x10) + chr(0x21) + chr(0xF4243 + 5)
    same_value = chr(0x10) + chr(0x22) + chr(5)
    bodies += [SAMPLE + far * 3, SAMPLE.replace("，", far), SAMPLE + near * 40]
    bodies += [SAMPLE + same_value * 40, "图片新闻：廉洁文化进社区。"]
    for a, b in itertools.combinations(bodies, 2):
        assert story.similarity(a, b) == similarity(a, b)
        assert story.is_same_story(a, b) == is_same_story(a, b)
    assert story.normalize_body(SAMPLE) == normalize_body(SAMPLE)
    assert story.similarity(SAMPLE + near * 40, SAMPLE + same_value * 40) == similarity(
        SAMPLE + near * 40, SAMPLE + same_value * 40
    )


# --- storage ------------------------------------------------------------------------------


def site_id(db: Database, name: str) -> int:
    with db.session() as s:
        return repository.sync_sites(s, [SiteInfo(name, name)])[name]


def new_article(
    sid: int, url: str, body: str, published: datetime | None, title: str = "通报"
) -> NewArticle:
    prints = fingerprint(body)
    return NewArticle(
        site_id=sid,
        url=url,
        fetched_url=url,
        title=title,
        publish_time=published,
        source=None,
        author=None,
        body=body,
        body_hash=prints.body_hash,
        bands=prints.bands,
    )


def save(db: Database, *articles: NewArticle) -> StoreResult:
    with db.session() as s:
        return repository.save_articles(s, list(articles), run_id=None, same_story=is_same_story)


def ids_by_url(db: Database) -> dict[str, tuple[int, int | None]]:
    with db.session() as s:
        rows = s.execute(select(Article.url, Article.id, Article.duplicate_of))
        return {r.url: (r.id, r.duplicate_of) for r in rows}


def at(day: int) -> datetime:
    return datetime(2024, 6, day, 10, 0, tzinfo=BEIJING)


def test_copies_link_to_the_earliest_published(db: Database) -> None:
    cq, ccdi, news = site_id(db, "cq"), site_id(db, "ccdi"), site_id(db, "news")
    others = build_ccdi_site(n_articles=3).articles
    first = save(db, new_article(cq, "https://cq/1", SAMPLE, at(30)))
    assert first.duplicates == ()
    copy = "来源：重庆日报\n" + SAMPLE.replace("61年", "62年") + "\n（责任编辑：王伟）"
    second = save(
        db,
        new_article(news, "https://news/1", copy, at(30)),
        *(new_article(news, f"https://news/o{i}", a.body, at(2)) for i, a in enumerate(others)),
    )
    ids = ids_by_url(db)
    root = ids["https://cq/1"][0]
    assert ids["https://news/1"][1] == root
    assert second.duplicates == ((ids["https://news/1"][0], root),)
    assert all(ids[f"https://news/o{i}"][1] is None for i in range(3))
    # a copy found later but published earlier becomes the earliest; the others follow it
    third = save(db, new_article(ccdi, "https://ccdi/1", SAMPLE, at(29)))
    ids = ids_by_url(db)
    earliest = ids["https://ccdi/1"][0]
    assert third.duplicates == ((earliest, earliest),)
    assert ids["https://ccdi/1"][1] is None
    assert ids["https://cq/1"][1] == earliest and ids["https://news/1"][1] == earliest
    with db.session() as s:
        copies = repository.story_copies(s, earliest)
        shown = repository.list_articles(s, ArticleQuery(duplicates="hide"))
        only = repository.list_articles(s, ArticleQuery(duplicates="only"))
        every = repository.list_articles(s, ArticleQuery(duplicates="show"))
    assert [c.url for c in copies] == ["https://cq/1", "https://news/1"]  # same time: by id
    assert {a.canonical_url for a in only} == {"https://cq/1", "https://news/1"}
    assert "https://ccdi/1" in {a.canonical_url for a in shown}
    assert len(shown) + len(only) == len(every) == 6


def test_exact_copy_on_the_same_site_under_another_url(db: Database) -> None:
    sid = site_id(db, "local")
    save(db, new_article(sid, "https://a/x.html", SAMPLE, None))
    save(db, new_article(sid, "https://a/print/x.html", SAMPLE + "\n", None))
    ids = ids_by_url(db)
    assert ids["https://a/print/x.html"][1] == ids["https://a/x.html"][0]


def test_edit_updates_the_row_and_counts_the_revision(db: Database) -> None:
    sid = site_id(db, "local")
    paragraphs = list(SAMPLE_PARAGRAPHS)
    save(db, new_article(sid, "https://a/1", SAMPLE, at(30)))
    # layout-only differences are not an edit
    same = save(db, new_article(sid, "https://a/1", SAMPLE.replace("\n", "\n\n  "), at(30)))
    assert same.unchanged == ("https://a/1",) and same.changed == ()
    edited = "\n".join(small_edit(paragraphs))
    result = save(db, new_article(sid, "https://a/1", edited, at(30)))
    assert result.new == () and len(result.changed) == 1
    with db.session() as s:
        (view,) = repository.list_articles(s, ArticleQuery())
        candidates = repository.near_candidates(
            s, 10**9, fingerprint(edited).body_hash, fingerprint(edited).bands
        )
    assert view.body == edited
    assert view.revision == 1
    assert view.changed_at is not None and view.changed_at.tzinfo is not None
    assert candidates == [view.id]  # re-indexed under the new text
    # an empty extraction is not an edit
    assert save(db, new_article(sid, "https://a/1", "", at(30))).changed == ()


def test_validators_are_saved_and_replaced(db: Database) -> None:
    with db.session() as s:
        repository.save_validators(
            s,
            [
                Validators("https://a/list/", '"1-a"', "Sat, 01 Jun 2024 00:00:00 GMT"),
                Validators("https://a/none/", None, None),  # nothing to keep
            ],
        )
    with db.session() as s:
        repository.save_validators(s, [Validators("https://a/list/", '"2-b"', None)])
    with db.session() as s:
        got = repository.get_validators(s, ["https://a/list/", "https://a/none/"])
    assert got == {"https://a/list/": Validators("https://a/list/", '"2-b"', None)}


def test_recent_articles_for_rechecks(db: Database) -> None:
    sid, other = site_id(db, "local"), site_id(db, "other")
    now = datetime.now(UTC)
    save(
        db,
        new_article(sid, "https://a/new", SAMPLE, now - timedelta(days=1)),
        new_article(sid, "https://a/old", "旧文" * 40, now - timedelta(days=30)),
        new_article(sid, "https://a/undated", "无日期" * 30, None),
        new_article(other, "https://b/new", "别站" * 40, now),
    )
    with db.session() as s:
        recent = repository.recent_articles(s, sid, now - timedelta(days=7))
    assert sorted(url for url, _ in recent) == ["https://a/new", "https://a/undated"]


def test_near_duplicate_lookup_uses_the_index(db: Database) -> None:
    sid = site_id(db, "local")
    save(db, new_article(sid, "https://a/1", SAMPLE, None))
    prints = fingerprint(SAMPLE)
    with db.session() as s:
        bind = s.get_bind()
        if bind.dialect.name == "sqlite":
            plan = " ".join(
                str(row[-1])
                for row in s.execute(
                    text(
                        "EXPLAIN QUERY PLAN SELECT article_id FROM dedupe_bands "
                        "WHERE key IN (1, 2, 3) AND article_id != 5 GROUP BY article_id"
                    )
                )
            )
            assert "USING" in plan and "INDEX" in plan, plan
        else:
            s.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(
                str(row[0])
                for row in s.execute(
                    text(
                        "EXPLAIN SELECT article_id FROM dedupe_bands "
                        "WHERE key = ANY(ARRAY[1, 2, 3]::bigint[]) GROUP BY article_id"
                    )
                )
            )
            assert "Index" in plan, plan
        found = repository.near_candidates(s, 10**9, None, prints.bands)
    assert len(found) == 1
