#!/usr/bin/env python3
"""Article search and listing on many synthetic Chinese articles: the search index
(``storage.repository.search``) against the unindexed ``LIKE`` scan, on SQLite and PostgreSQL.

Usage (from the repository root):

    .venv/bin/python bench/search.py [--articles 1000000] [--queries 10] [--baseline 3] \
        [--sqlite-only] [--postgres postgresql://postgres@127.0.0.1:5432/test]

Articles: titles of 12–28 characters, bodies of ~800 (200–1,600) drawn from a Zipf
distribution over ~3,600 Chinese characters (the commonest first), with punctuation, and
governance vocabulary (违纪, 审查调查, 党纪处分 …) placed in bodies (6 each) and half the
titles; publish times spread over ten years, 2% unknown.  They are loaded in bulk
(``executemany`` / ``COPY``) and indexed as migration 0010 does for existing rows.
PostgreSQL runs in a database the bench creates and drops (never the shared one's tables).

Reported per database, side by side:

- latency p50/p95 of ``repository.list_articles``: the articles page (first page; a deep page
  by keyset, half-way down), and searches for 1-, 2- and 4-character words (common and rare:
  vocabulary words and substrings of random articles), each run 3 times; and the same searches
  as the ``LIKE`` scan govwatch used before (``--baseline`` words per length, once each);
- the index's size beside the articles table's, and its build time (the migration's backfill);
- the insert cost per article through ``repository.store_articles``, with the index and
  without (``index_articles`` disabled), in alternating rounds;
- the query plans of every statement one search of each length runs.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import create_engine, event, select, text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from storage import repository, search_build  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Article, SiteRow  # noqa: E402
from storage.records import ArticleCursor, ArticleQuery, NewArticle, SiteInfo  # noqa: E402
from storage.repository import articles as articles_module  # noqa: E402
from storage.repository import search  # noqa: E402

# The commonest Chinese characters, roughly by frequency; the rest of the alphabet follows.
COMMON = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能"
    "下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加"
    "量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与"
    "关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者"
    "最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少"
    "图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光"
    "门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采"
    "转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节"
    "话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际"
    "商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精"
    "值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住"
    "调满县局照参红细引听该铁价严首底液官德随病苏失尔死讲配女黄推显谈罪神艺呢席含企望密批营项"
    "防举球英氧势告李台落木帮轮破亚师围注远字材排供河态封另施减树溶怎止案言士均武固叶鱼波视仅"
    "费紧爱左章早朝害续轻服试食充兵源判护司足某练差致板田降黑犯负击范继兴似余坚曲输修故城夫够"
    "送笔船占右财吃富春职觉汉画功巴跟虽杂飞检吸助升阳互初创抗考投坏策古径换未跑留钢曾端责站简"
    "述钱副尽帝射草冲承独令限阿宣环双请超微让控州良轴找否纪益依优顶础载倒房突坐粉敌略客袁冷胜"
    "绝析块剂测丝协诉念陈仍罗盐友洋错苦夜刑移频逐靠混母短皮终聚汽村云哪既距卫停烈央察烧迅境若"
    "印洲刻括激孔搞甚室待核校散侵吧甲游久菜味旧模湖货损预阻毫普稳乙妈植息扩银语挥酒守拿序纸医"
)
VOCAB_2 = ["违纪", "违法", "审查", "处分", "巡视", "问责", "留置", "受贿", "腐败", "廉洁"]
VOCAB_4 = [
    "审查调查",
    "党纪处分",
    "政务处分",
    "开除党籍",
    "纪律审查",
    "监察调查",
    "主动投案",
    "领导干部",
]
VOCAB = [
    *VOCAB_2,
    *VOCAB_4,
    "严重违纪违法",
    "中央纪委国家监委",
    "纪检监察机关",
    "违反中央八项规定精神",
    "立案审查调查",
    "党委书记",
    "副主任",
    "收受礼品礼金",
]
PUNCT = "，。、；：“”"
START = datetime(2016, 1, 1, tzinfo=UTC)
SPAN_S = 10 * 365 * 86400


def alphabet() -> tuple[np.ndarray, np.ndarray]:
    common = list(dict.fromkeys(COMMON))
    rng = random.Random(7)
    seen = set(common)
    tail = [chr(c) for c in range(0x4E00, 0x9FA6) if chr(c) not in seen]
    rng.shuffle(tail)
    chars = common + tail[: 3600 - len(common)]
    codes = np.array([ord(c) for c in chars], dtype=np.uint32)
    weights = 1.0 / np.arange(1, len(codes) + 1) ** 1.05
    return codes, weights / weights.sum()


def _texts(
    rng: np.random.Generator, n: int, width: int, lengths: np.ndarray, words: int, p_word: float
) -> list[str]:
    codes, probs = ALPHABET
    grid = rng.choice(codes, size=(n, width), p=probs)
    punct = np.array([ord(c) for c in PUNCT], dtype=np.uint32)
    mask = rng.random((n, width)) < 0.06
    grid[mask] = rng.choice(punct, size=int(mask.sum()))
    vocab = [np.array([ord(c) for c in w], dtype=np.uint32) for w in VOCAB]
    for _ in range(words):
        rows = np.nonzero(rng.random(n) < p_word)[0]
        which = rng.integers(0, len(vocab), size=len(rows))
        for w, cps in enumerate(vocab):
            sel = rows[which == w]
            if not len(sel):
                continue
            pos = (rng.random(len(sel)) * np.maximum(lengths[sel] - len(cps), 1)).astype(int)
            for j, cp in enumerate(cps):
                grid[sel, pos + j] = cp
    flat = grid.astype("<u4").tobytes().decode("utf-32-le")
    return [flat[i * width : i * width + int(lengths[i])] for i in range(n)]


def generate(rng: np.random.Generator, n: int, first_id: int) -> list[dict[str, Any]]:
    body_len = np.clip(rng.normal(800, 200, n), 200, 1600).astype(int)
    title_len = rng.integers(12, 29, n)
    bodies = _texts(rng, n, 1600, body_len, 6, 1.0)
    titles = _texts(rng, n, 28, title_len, 1, 0.5)
    stamps = rng.integers(0, SPAN_S, n)
    unknown = rng.random(n) < 0.02
    seen = START + timedelta(seconds=SPAN_S)
    return [
        {
            "id": first_id + i,
            "url": f"https://bench.example/{first_id + i}.html",
            "title": titles[i],
            "body": bodies[i],
            "publish_time": None if unknown[i] else START + timedelta(seconds=int(stamps[i])),
            "seen": seen + timedelta(seconds=(first_id + i) % 10**8),
        }
        for i in range(n)
    ]


ALPHABET = alphabet()


# Databases


@contextmanager
def sqlite_db(path: str | None) -> Iterator[Database]:
    """A database in a temporary directory, or the file ``path`` (kept, and reused when it
    already holds the articles)."""
    if path:
        db = Database(f"sqlite:///{path}")
        try:
            yield db
        finally:
            db.dispose()
        return
    with tempfile.TemporaryDirectory(prefix="gw-bench-search-") as tmp:
        db = Database(f"sqlite:///{tmp}/bench.db")
        try:
            yield db
        finally:
            db.dispose()


def postgres_db(admin_url: str, keep: str | None) -> Callable[[], Any]:
    """A database the bench creates and drops, or the database named ``keep`` (created if
    missing, kept, and reused when it already holds the articles)."""

    @contextmanager
    def make() -> Iterator[Database]:
        name = keep or f"govwatch_bench_search_{uuid.uuid4().hex[:8]}"
        admin = create_engine(
            admin_url.replace("postgresql://", "postgresql+psycopg://", 1),
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                conn.execute(text(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'"))
        base = admin_url.rsplit("/", 1)[0]
        db = Database(f"{base}/{name}")
        try:
            yield db
        finally:
            db.dispose()
            if not keep:
                with admin.connect() as conn:
                    conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            admin.dispose()

    return make


def load(db: Database, rng: np.random.Generator, n: int, site_id: int) -> tuple[float, float]:
    """Bulk-load ``n`` articles, then index them with migration 0010's backfill
    (``search_build``); returns the seconds each took."""
    batch = 20_000
    t0 = time.perf_counter()
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        if not db.is_sqlite:  # as before the migration: the search table has no index yet
            cur.execute(
                "DROP INDEX ix_article_search_title, ix_article_search_terms, "
                "ix_article_search_unindexed"
            )
        for start in range(0, n, batch):
            _insert_articles(db, cur, generate(rng, min(batch, n - start), start + 1), site_id)
            if (start // batch) % 10 == 0:
                print(f"  loaded {start + batch} articles", file=sys.stderr, flush=True)
        raw.commit()
    finally:
        raw.close()
    t1, c1 = time.perf_counter(), time.process_time()
    with db.engine.begin() as conn:  # as migration 0010 does it
        search_build.index_all_articles(conn)
        if not db.is_sqlite:
            search_build.create_postgres_indexes(conn)
    t2, c2 = time.perf_counter(), time.process_time()
    print(
        f"index build: {t2 - t1:.0f} s wall, {c2 - c1:.0f} s CPU of this process "
        f"(load average {' '.join(f'{x:.1f}' for x in os.getloadavg())})",
        file=sys.stderr,
        flush=True,
    )
    raw = db.engine.raw_connection()
    try:
        if not db.is_sqlite:
            raw.rollback()
            driver = raw.driver_connection
            driver.autocommit = True  # type: ignore[union-attr]
            driver.execute("VACUUM ANALYZE")  # type: ignore[union-attr]
            driver.autocommit = False  # type: ignore[union-attr]
        else:
            raw.cursor().execute("ANALYZE")
            raw.commit()
    finally:
        raw.close()
    return t1 - t0, t2 - t1


def _insert_articles(db: Database, cur: Any, rows: list[dict[str, Any]], site_id: int) -> None:
    values = [
        (
            r["id"],
            site_id,
            r["url"],
            r["url"],
            r["title"],
            r["body"],
            r["publish_time"],
            r["seen"],
            r["seen"],
        )
        for r in rows
    ]
    columns = "id, site_id, url, fetched_url, title, body, publish_time, first_seen, last_seen"
    if db.is_sqlite:
        cur.executemany(
            f"INSERT INTO articles ({columns}, revision) VALUES (?,?,?,?,?,?,?,?,?,0)",
            [(*v[:6], _sqlite_time(v[6]), _sqlite_time(v[7]), _sqlite_time(v[8])) for v in values],
        )
        return
    with cur.copy(f"COPY articles ({columns}) FROM STDIN") as copy:
        for v in values:
            copy.write_row(v)


def _sqlite_time(value: datetime | None) -> str | None:
    # as SQLAlchemy stores a DateTime on SQLite (naive UTC)
    return None if value is None else value.strftime("%Y-%m-%d %H:%M:%S.%f")


def sizes(db: Database) -> tuple[int, int]:
    """Bytes of the articles table (with its other indexes) and of the search index."""
    with db.engine.connect() as conn:
        if db.is_sqlite:
            page = conn.scalar(text("PRAGMA page_size")) or 0
            try:
                rows = conn.execute(
                    text("SELECT name, sum(pgsize) FROM dbstat GROUP BY name")
                ).all()
            except Exception:  # no dbstat: the file's pages, all counted as the table
                count = conn.scalar(text("PRAGMA page_count")) or 0
                return count * page, 0
            index = sum(b for name, b in rows if name.startswith("article_search"))
            table = sum(b for name, b in rows if not name.startswith("article_search"))
            return table, index
        table = conn.scalar(text("SELECT pg_total_relation_size('articles')")) or 0
        index = conn.scalar(text("SELECT pg_total_relation_size('article_search')")) or 0
        return int(table), int(index)


# Queries


def timed(db: Database, query: ArticleQuery) -> tuple[float, int]:
    t0 = time.perf_counter()
    with db.session() as s:
        n = len(repository.list_articles(s, query))
    return (time.perf_counter() - t0) * 1000, n


def timed_search(db: Database, word: str) -> float:
    return timed(db, ArticleQuery(search=word, limit=50))[0]


def deep_page(db: Database, cursor: tuple[Any, Any, int]) -> tuple[float, int]:
    """The articles page after ``cursor`` (a row half-way down the listing), by keyset, as the
    web view's "next page" asks for it."""
    publish, seen, aid = cursor
    return timed(db, ArticleQuery(limit=50, after=ArticleCursor(publish, seen, aid, None)))


def next_search_page(db: Database, word: str) -> tuple[float, int]:
    """Page 2 of a search, after page 1's last row (the cursor says whether it was a title
    hit)."""
    with db.session() as s:
        first = repository.list_articles(s, ArticleQuery(search=word, limit=50))
    if not first:
        return timed(db, ArticleQuery(search=word, limit=50))
    last = first[-1]
    cursor = ArticleCursor(
        last.publish_time, last.first_seen, last.id, search.title_matches(last.title, word)
    )
    return timed(db, ArticleQuery(search=word, limit=50, after=cursor))


def like_scan(db: Database, word: str) -> tuple[float, int]:
    """The search as govwatch ran it before the index: a substring scan, newest first."""
    stmt = (
        select(Article, SiteRow.name)
        .join(SiteRow, Article.site_id == SiteRow.id)
        .where(
            Article.title.contains(word, autoescape=True)
            | Article.body.contains(word, autoescape=True)
        )
        .order_by(*search.listing_order())
        .limit(50)
    )
    t0 = time.perf_counter()
    with db.session() as s:
        n = len(list(s.execute(stmt)))
    return (time.perf_counter() - t0) * 1000, n


def words(db: Database, rng: random.Random, count: int) -> dict[str, list[str]]:
    """Query words: vocabulary and frequent characters, and substrings of random articles
    (rare ones)."""
    with db.engine.connect() as conn:
        top = conn.scalar(text("SELECT max(id) FROM articles")) or 1
        samples = [
            conn.scalar(text("SELECT body FROM articles WHERE id = :i"), {"i": rng.randint(1, top)})
            or ""
            for _ in range(count)
        ]
    common = list(dict.fromkeys(COMMON))
    half = count // 2
    ones = [common[r] for r in rng.sample(range(60), half)]
    ones += [chr(int(ALPHABET[0][r])) for r in rng.sample(range(1500, 3600), count - half)]

    def pieces(size: int, k: int) -> list[str]:
        out = []
        for body in samples[:k]:
            start = rng.randrange(max(len(body) - size, 1))
            piece = body[start : start + size]
            if any(p in piece for p in PUNCT) or len(piece) < size:
                piece = rng.choice(VOCAB_4)[:size]
            out.append(piece)
        return out

    twos = rng.sample(VOCAB_2, min(half, len(VOCAB_2))) + pieces(2, count - half)
    fours = rng.sample(VOCAB_4, min(half, len(VOCAB_4))) + pieces(4, count - half)
    return {"1 char": ones, "2 chars": twos, "4 chars": fours}


class Statements:
    """The statements a block of code runs, with their parameters (for EXPLAIN)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.seen: list[tuple[str, Any]] = []

    def __enter__(self) -> Statements:
        event.listen(self.db.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.db.engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_a: Any) -> None:
        self.seen.append((statement, params))


def plans(db: Database, label: str, run: Callable[[], Any]) -> None:
    with Statements(db) as st:
        run()
    for statement, params in st.seen:
        if not statement.lstrip().upper().startswith("SELECT"):
            continue
        prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN "
        raw = db.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute(prefix + statement, params)
            lines = [str(r[-1]) if db.is_sqlite else str(r[0]) for r in cur.fetchall()]
        finally:
            raw.close()
        shown = " ".join(statement.split())
        print(f"  [{label}] {shown[:150]}{'…' if len(shown) > 150 else ''}")
        for line in lines:
            print(f"      {line}")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def insert_cost(
    db: Database, rng: np.random.Generator, site_id: int, rounds: int
) -> dict[str, float]:
    """Wall and CPU µs per article stored through ``store_articles`` (batches of 100), with the
    index and with ``index_articles`` disabled, alternating."""
    original = search.index_articles
    times: dict[str, list[float]] = {
        "indexed": [],
        "unindexed": [],
        "cpu indexed": [],
        "cpu unindexed": [],
    }
    next_id = 10_000_000_000 + time.time_ns() % 10**9 * 1000  # new URLs in a kept database
    if not db.is_sqlite:  # the bulk load gave ids itself: move the sequence past them
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('articles', 'id'), max(id)) FROM articles"
                )
            )
    try:
        for r in range(rounds * 2):
            mode = "indexed" if r % 2 == 0 else "unindexed"
            # the name store_articles calls (storage.repository.articles imports it)
            articles_module.index_articles = (  # type: ignore[assignment]
                original if mode == "indexed" else (lambda *_a, **_k: None)
            )
            rows = generate(rng, 100, next_id)
            next_id += 100
            new = [
                NewArticle(
                    site_id=site_id,
                    url=row["url"],
                    fetched_url=row["url"],
                    title=row["title"],
                    pretitle=None,
                    subtitle=None,
                    publish_time=row["publish_time"],
                    source=None,
                    author=None,
                    editor=None,
                    body=row["body"],
                )
                for row in rows
            ]
            c0, t0 = time.process_time(), time.perf_counter()
            with db.session() as s:
                repository.store_articles(s, new, run_id=None)
            times[mode].append((time.perf_counter() - t0) * 1e6 / len(new))
            times["cpu " + mode].append((time.process_time() - c0) * 1e6 / len(new))
    finally:
        articles_module.index_articles = original  # type: ignore[assignment]
    return {k: statistics.median(v) for k, v in times.items()}


def run(name: str, db: Database, args: argparse.Namespace) -> None:
    upgrade(db)
    with db.session() as s:
        site_id = repository.sync_sites(s, [SiteInfo("bench", "基准")])["bench"]
    rng = np.random.default_rng(2026)
    with db.session() as s:
        stored = repository.count_articles(s)
    if stored:  # a kept database: built by an earlier run
        args.articles = stored
        load_s = index_s = float("nan")
    else:
        load_s, index_s = load(db, rng, args.articles, site_id)
    table, index = sizes(db)
    print(f"\n== {name}: {args.articles} articles")
    print(f"load {load_s:.0f} s; index build (migration backfill) {index_s:.0f} s")
    print(f"size: articles {table / 2**20:,.0f} MiB, search index {index / 2**20:,.0f} MiB")
    if args.build_only:
        return

    with db.session() as s:
        row = s.execute(
            select(Article.publish_time, Article.first_seen, Article.id)
            .order_by(*search.listing_order())
            .offset(args.articles // 2)
            .limit(1)
        ).one()
    cursor = (row[0], row[1], row[2])
    qrng = random.Random(17)
    query_words = words(db, qrng, args.queries)

    results: list[tuple[str, list[float], list[float], int, int]] = []
    first = [timed(db, ArticleQuery(limit=50))[0] for _ in range(20)]
    deep = [deep_page(db, cursor)[0] for _ in range(20)]
    results.append(("articles page 1", first, [], 20, 0))
    results.append(("articles deep page", deep, [], 20, 0))
    for label, ws in query_words.items():
        indexed: list[float] = []
        for _ in range(3):
            for w in ws:
                indexed.append(timed(db, ArticleQuery(search=w, limit=50))[0])
        half = len(ws) // 2
        rows = []
        for kind, group in (("common", ws[:half]), ("rare", ws[half:])):
            times = [timed_search(db, w) for _ in range(3) for w in group]
            scans = [like_scan(db, w)[0] for w in group[: args.baseline]]
            rows.append((f"  {kind} {label}", times, scans, len(group), len(scans)))
        scanned = rows[0][2] + rows[1][2]
        results.append((f"search {label}", indexed, scanned, len(ws), len(scanned)))
        results += rows
        page2 = [next_search_page(db, w)[0] for w in ws]
        results.append((f"  page 2 {label}", page2, [], len(ws), 0))

    print(
        f"\n{'query':<22}{'indexed p50':>11}{'p95':>10}{'LIKE scan p50':>16}{'p95':>10}  (queries)"
    )
    for label, a, b, na, nb in results:
        base = (
            f"{statistics.median(b):>14.1f}ms{pct(b, 0.95):>8.1f}ms" if b else f"{'-':>16}{'-':>10}"
        )
        print(
            f"{label:<22}{statistics.median(a):>9.1f}ms{pct(a, 0.95):>8.1f}ms{base}"
            f"  ({na} x3 / {nb})"
        )
    print("words:", {k: " ".join(v) for k, v in query_words.items()})

    cost = insert_cost(db, rng, site_id, args.insert_rounds)
    print(
        f"\ninsert per article (store_articles, batches of 100, median of {args.insert_rounds} "
        f"rounds each): indexed {cost['indexed']:.0f} µs wall / {cost['cpu indexed']:.0f} µs "
        f"CPU here; unindexed {cost['unindexed']:.0f} µs wall / {cost['cpu unindexed']:.0f} µs CPU"
    )

    print("\nquery plans:")
    plans(db, "articles page 1", lambda: timed(db, ArticleQuery(limit=50)))
    plans(db, "deep page", lambda: deep_page(db, cursor))
    for label, ws in query_words.items():
        common_word, rare_word = ws[0], ws[-1]
        plans(db, f"{label} {common_word}", lambda w=common_word: timed(db, ArticleQuery(search=w)))
        plans(db, f"{label} {rare_word}", lambda w=rare_word: timed(db, ArticleQuery(search=w)))
    plans(db, "LIKE scan 违纪", lambda: like_scan(db, "违纪"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=10, help="words per length")
    parser.add_argument("--baseline", type=int, default=3, help="words per length, LIKE scan")
    parser.add_argument("--insert-rounds", type=int, default=5)
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--postgres-only", action="store_true")
    parser.add_argument(
        "--postgres", metavar="URL", default="postgresql://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument(
        "--sqlite-file", metavar="PATH", help="keep the SQLite database here; reuse it if built"
    )
    parser.add_argument(
        "--postgres-keep", metavar="NAME", help="keep the PostgreSQL database NAME; reuse it"
    )
    parser.add_argument("--build-only", action="store_true", help="stop after loading and indexing")
    args = parser.parse_args()
    if not args.postgres_only:
        with sqlite_db(args.sqlite_file) as db:
            run("SQLite", db, args)
    if not args.sqlite_only:
        with postgres_db(args.postgres, args.postgres_keep)() as db:
            run("PostgreSQL", db, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
