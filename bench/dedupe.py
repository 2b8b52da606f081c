#!/usr/bin/env python3
"""Benchmark govwatch's content dedupe on 200,000 synthetic articles, SQLite and PostgreSQL.

Usage (from the repository root):

    .venv/bin/python bench/dedupe.py [--n 200000] [--sqlite] \
        [--postgres postgresql://postgres@127.0.0.1:5432/test] [--probes 200]

The corpus is deterministic: articles written like the test sites' (``tests/sitegen_text``,
100-1,000 characters), 5% formulaic 开除党籍 notices (the hard negatives: two notices share
most of their text), and 10% planted copies of an earlier article as another site would
republish it: another site's byline or credit lines (some the normaliser knows, some it does
not), a corrected number, changed characters, a dropped or added sentence, other punctuation,
merged paragraphs (one to four of these at once).  A copy is usually published after its
original, sometimes before (then it must become the story's earliest copy).

For each backend it stores every article through the real store path
(``storage.repository.save_articles`` with ``crawler.extract.fingerprint.is_same_story``, batches of
200 as the crawler's pipeline does), and reports:

- insert rate (articles per second, fingerprints computed beforehand and timed apart);
- near-duplicate lookup time when 10k, 100k and 200k articles are stored: the index query
  (``near_candidates``) and the same query with the index disabled (a scan, the
  alternative), over ``--probes`` probe bodies (half copies of stored articles, half new);
- precision and recall of the ``duplicate_of`` links against the planted copies.

It also compares, in memory and on the same planted pairs, the MinHash-LSH scheme govwatch
uses with 64-bit SimHash and a 4-band index (the alternative that was not chosen).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, select, text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from crawler.extract.fingerprint import (  # noqa: E402
    fingerprint,
    is_same_story,
    normalize_body,
    shingle_set,
    similarity,
)
from storage import repository  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Article  # noqa: E402
from storage.records import NewArticle, SiteInfo  # noqa: E402
from tests.sitegen_common import CST  # noqa: E402
from tests.sitegen_text import POSITIONS, TOPICS, make_paragraphs, person, province  # noqa: E402

BATCH = 200
CHECKPOINTS = (10_000, 100_000, 200_000)
COPY_SHARE = 0.10
NOTICE_SHARE = 0.05

VIOLATIONS = (
    "丧失理想信念，背弃初心使命，对党不忠诚不老实，对抗组织审查",
    "违反中央八项规定精神，违规收受礼品礼金，违规接受宴请",
    "违反组织原则，在干部选拔任用、职工录用等方面为他人谋取利益并收受财物",
    "违反廉洁纪律，违规从事营利活动，违规拥有非上市公司股份",
    "违反工作纪律，违规干预和插手市场经济活动、司法活动",
    "违反生活纪律，生活奢靡，贪图享乐，追求低级趣味",
    "搞权钱交易，利用职务上的便利在企业经营、项目承揽、职务晋升等方面为他人谋利，并非法收受巨额财物",
    "利用职权或者职务上的影响为亲属经营活动谋取利益",
    "隐瞒不报个人有关事项，在组织函询时不如实说明问题",
    "违规借用管理和服务对象钱款，违规出入私人会所",
    "滥用职权，造成国家利益遭受特别重大损失",
    "违规打高尔夫球，违规占用公务用车",
    "大搞形式主义、官僚主义，政绩观严重错位",
    "违规收受可能影响公正执行公务的礼品、礼金、消费卡",
)
KNOWN_PREFIXES = ("来源：{src}", "新华社北京{m}月{d}日电", "本报讯（记者 {name}）", "原标题：{t}")
UNKNOWN_PREFIXES = ("{src}讯", "转自{src}")
KNOWN_SUFFIXES = (
    "（责任编辑：{name}）",
    "编辑：{name} 审核：{name2}",
    "【纠错】 【打印】 【关闭】",
)
UNKNOWN_SUFFIXES = ("扫一扫在手机打开当前页", "欢迎关注清风巴渝微信公众号", "转载请注明来源")
SOURCES = ("重庆日报", "华龙网", "中国纪检监察报", "新华社", "人民网")


@dataclass(frozen=True, slots=True)
class Doc:
    index: int
    story: int  # index of the original this is a copy of (its own index if an original)
    body: str
    published: datetime


def notice(rng: random.Random, k: int) -> list[str]:
    place = province(k)
    name = person(rng)
    position = rng.choice(POSITIONS)
    chosen = rng.sample(VIOLATIONS, rng.randint(4, 7))
    facts = make_paragraphs(
        f"n{k}", place, rng.choice(TOPICS), datetime(2024, 1, 1, tzinfo=CST), 200, name
    )[1:2]
    return [
        f"日前，经中共{place.short}省委批准，{place.org}对{place.prov}{position}{name}"
        "严重违纪违法问题进行了立案审查调查。",
        f"经查，{name}" + "；".join(chosen) + "。",
        *facts,
        f"{name}严重违反党的政治纪律、组织纪律、廉洁纪律和工作纪律，构成严重职务违法并涉嫌"
        "受贿犯罪，且在党的十八大后不收敛、不收手，性质严重，影响恶劣，应予严肃处理。",
        "依据《中国共产党纪律处分条例》《中华人民共和国监察法》《中华人民共和国公职人员政务"
        f"处分法》等有关规定，经{place.org}常委会会议研究并报{place.short}省委批准，决定给予"
        f"{name}开除党籍处分；由{place.short}省监委给予其开除公职处分；收缴其违纪违法所得；"
        "将其涉嫌犯罪问题移送检察机关依法审查起诉，所涉财物一并移送。",
    ]


def original(i: int) -> list[str]:
    rng = random.Random(f"bench:{i}")
    if rng.random() < NOTICE_SHARE / (1 - COPY_SHARE):
        return notice(rng, i)
    when = datetime(2024, 1, 1, tzinfo=CST) + timedelta(minutes=7 * i)
    size = int(300 * (10 ** rng.random()))  # 300..3,000 bytes: 100..1,000 characters
    place = province(rng.randrange(31))
    return make_paragraphs(f"b{i}", place, rng.choice(TOPICS), when, size, person(rng))


def republish(paragraphs: list[str], rng: random.Random) -> list[str]:
    """A copy as another site would carry it: other chrome, a few small edits."""
    p = list(paragraphs)
    slots = {
        "src": rng.choice(SOURCES),
        "m": str(rng.randint(1, 12)),
        "d": str(rng.randint(1, 28)),
        "name": person(rng),
        "name2": person(rng),
        "t": p[0][:14],
    }
    ops = ["prefix", "suffix", "number", "chars", "drop", "add", "punct", "merge"]
    for op in rng.sample(ops, rng.randint(1, 4)):
        if op == "prefix":
            pool = KNOWN_PREFIXES if rng.random() < 0.6 else UNKNOWN_PREFIXES
            p.insert(0, rng.choice(pool).format(**slots))
        elif op == "suffix":
            pool = KNOWN_SUFFIXES if rng.random() < 0.6 else UNKNOWN_SUFFIXES
            p.append(rng.choice(pool).format(**slots))
        elif op == "number":
            j = rng.randrange(len(p))
            p[j] = re.sub(r"\d+", lambda m: str(int(m.group()) + 1), p[j], count=1)
        elif op == "chars":
            for _ in range(rng.randint(1, 3)):
                j = rng.randrange(len(p))
                if len(p[j]) > 6:
                    k = rng.randrange(len(p[j]) - 2)
                    p[j] = p[j][:k] + "的" + p[j][k + 2 :]
        elif op == "drop":
            sentences = [s for s in re.split(r"(?<=。)", "".join(p)) if s]
            if len(sentences) > 6:
                del sentences[rng.randrange(1, len(sentences))]
                p = ["".join(sentences)]
        elif op == "add":
            p.insert(rng.randrange(1, len(p) + 1), "此外，相关工作正在进一步推进中。")
        elif op == "punct":
            p = [s.replace("，", ", ").replace("。", ". ") for s in p]
        elif op == "merge" and len(p) > 2:
            p[0:2] = [p[0] + p[1]]
    return p


def corpus(n: int) -> list[Doc]:
    rng = random.Random("bench:copies")
    docs: list[Doc] = []
    originals: list[int] = []
    base = datetime(2024, 1, 1, tzinfo=CST)
    for i in range(n):
        published = base + timedelta(minutes=3 * i)
        if originals and rng.random() < COPY_SHARE:
            story = rng.choice(originals[-20_000:])  # republished within a few weeks
            body = "\n".join(republish(docs[story].body.split("\n"), rng))
            # usually after the original, sometimes (10%) before it
            shift = timedelta(hours=rng.randint(1, 48))
            when = docs[story].published + (-shift if rng.random() < 0.1 else shift)
            docs.append(Doc(i, story, body, when))
        else:
            docs.append(Doc(i, i, "\n".join(original(i)), published))
            originals.append(i)
    return docs


def new_articles(docs: list[Doc], site_ids: list[int]) -> list[NewArticle]:
    out = []
    for d in docs:
        prints = fingerprint(d.body)
        url = f"https://site{d.index % len(site_ids)}.example.gov.cn/a/{d.index}.html"
        out.append(
            NewArticle(
                site_id=site_ids[d.index % len(site_ids)],
                url=url,
                fetched_url=url,
                title=f"文章{d.index}",
                publish_time=d.published,
                source=None,
                author=None,
                body=d.body,
                body_hash=prints.body_hash,
                bands=prints.bands,
            )
        )
    return out


# --- the database side ----------------------------------------------------------------------


@contextmanager
def backend_database(kind: str, pg_url: str | None) -> Iterator[Database]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(f"sqlite:///{tmp}/bench.db")
            upgrade(db)
            try:
                yield db
            finally:
                db.dispose()
        return
    assert pg_url
    admin = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    schema = f"gw_bench_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in pg_url else "?"
    db = Database(f"{pg_url}{sep}options=-csearch_path%3D{schema}")
    try:
        upgrade(db)
        yield db
    finally:
        db.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def timed_lookups(
    db: Database, probes: list[NewArticle], scan: bool
) -> tuple[list[float], list[float]]:
    """Milliseconds per index query, and per query + verification of its candidates."""
    query_ms: list[float] = []
    total_ms: list[float] = []
    with db.session() as s:
        if scan and not db.is_sqlite:
            s.execute(text("SET LOCAL enable_indexscan = off"))
            s.execute(text("SET LOCAL enable_bitmapscan = off"))
            s.execute(text("SET LOCAL enable_indexonlyscan = off"))
        for p in probes:
            t0 = time.perf_counter()
            if scan:
                # the band query alone, as its own SQL text: psycopg prepares a statement run
                # 5 times and PostgreSQL keeps its plan, so near_candidates' text would keep
                # the plan it got with the index on
                keys = ",".join(str(k) for k in p.bands)
                hint = "NOT INDEXED " if db.is_sqlite else ""
                ids = list(
                    s.scalars(
                        text(
                            f"SELECT article_id FROM dedupe_bands {hint}"
                            f"WHERE key IN ({keys}) GROUP BY article_id "
                            "ORDER BY count(*) DESC LIMIT 8"
                        )
                    )
                )
            else:
                ids = repository.near_candidates(s, 10**15, p.body_hash, p.bands)
            t1 = time.perf_counter()
            if ids:
                bodies = s.scalars(select(Article.body).where(Article.id.in_(ids)))
                any(is_same_story(p.body, b) for b in bodies)
            t2 = time.perf_counter()
            query_ms.append((t1 - t0) * 1000)
            total_ms.append((t2 - t0) * 1000)
    return query_ms, total_ms


def probe_set(docs: list[Doc], stored: int, count: int) -> list[NewArticle]:
    rng = random.Random(f"probes:{stored}")
    chosen = [docs[rng.randrange(stored)] for _ in range(count // 2)]
    copies = [
        Doc(-1, d.story, "\n".join(republish(d.body.split("\n"), rng)), d.published) for d in chosen
    ]
    fresh = [
        Doc(-1, -1, "\n".join(original(10**7 + i)), chosen[0].published)
        for i in range(count - len(copies))
    ]
    return new_articles(copies + fresh, [1])


def quantiles(values: list[float]) -> str:
    if not values:
        return "-"
    median = statistics.median(values)
    p95 = sorted(values)[max(0, int(len(values) * 0.95) - 1)]
    return f"{median:.2f} / {p95:.2f}"


def run_backend(
    kind: str, pg_url: str | None, docs: list[Doc], articles: list[NewArticle], probes: int
) -> dict[str, object]:
    checkpoints = [c for c in CHECKPOINTS if c <= len(docs)] or [len(docs)]
    results: dict[str, object] = {"backend": kind, "lookups": []}
    with backend_database(kind, pg_url) as db:
        with db.session() as s:
            ids = repository.sync_sites(s, [SiteInfo(f"site{i}", f"站点{i}") for i in range(4)])
        site_ids = [ids[f"site{i}"] for i in range(4)]
        rows = [replace(a, site_id=site_ids[a.site_id]) for a in articles]
        insert_seconds = 0.0
        done = 0
        for checkpoint in checkpoints:
            t0 = time.perf_counter()
            while done < checkpoint:
                batch = rows[done : min(done + BATCH, checkpoint)]
                with db.session() as s:
                    repository.save_articles(s, batch, run_id=None, same_story=is_same_story)
                done += len(batch)
            insert_seconds += time.perf_counter() - t0
            if not db.is_sqlite:
                with db.engine.begin() as conn:
                    conn.execute(text("ANALYZE"))
            probe_rows = probe_set(docs, checkpoint, probes)
            index_q, index_total = timed_lookups(db, probe_rows, scan=False)
            scan_q, _ = timed_lookups(db, probe_rows[:20], scan=True)
            results["lookups"].append(  # type: ignore[attr-defined]
                (checkpoint, quantiles(index_q), quantiles(index_total), quantiles(scan_q))
            )
            print(
                f"  {kind}: {checkpoint:>7,} stored, {checkpoint / insert_seconds:,.0f}/s so far; "
                f"lookup ms (median / p95): index {quantiles(index_q)}, "
                f"+verify {quantiles(index_total)}, scan {quantiles(scan_q)}",
                flush=True,
            )
        results["insert_rate"] = done / insert_seconds
        with db.session() as s:
            links = dict(s.execute(select(Article.url, Article.duplicate_of)).all())
            id_to_url = dict(s.execute(select(Article.id, Article.url)).all())
    results.update(score(docs[:done], links, id_to_url))
    return results


def score(
    docs: list[Doc], links: dict[str, int | None], id_to_url: dict[int, str]
) -> dict[str, object]:
    """Precision and recall of duplicate_of against the planted stories."""
    story_of = {f"/a/{d.index}.html": d.story for d in docs}

    def story(url: str) -> int:
        return story_of[url[url.index("/a/") :]]

    members: dict[int, int] = {}
    for d in docs:
        members[d.story] = members.get(d.story, 0) + 1
    expected = sum(m - 1 for m in members.values())
    linked = correct = 0
    for url, root in links.items():
        if root is None:
            continue
        linked += 1
        if story(url) == story(id_to_url[root]):
            correct += 1
    roots = {story(url) for url, root in links.items() if root is None}
    return {
        "planted": expected,
        "linked": linked,
        "correct": correct,
        "precision": correct / linked if linked else 1.0,
        "recall": correct / expected if expected else 1.0,
        "stories": len(members),
        "roots": len(roots),
    }


# --- the alternative, in memory: SimHash ------------------------------------------------------


def simhash(normalized: str) -> int:
    shingles = shingle_set(normalized)
    if len(shingles) == 0:
        return 0
    bits = np.unpackbits(shingles.view(np.uint8)).reshape(-1, 64)
    return int.from_bytes(np.packbits(bits.sum(axis=0) * 2 > len(shingles)).tobytes(), "big")


def compare_schemes(docs: list[Doc], pairs: int) -> None:
    """Planted pairs and random pairs: does each scheme find / reject them?"""
    rng = random.Random("compare")
    copies = [d for d in docs if d.story != d.index][:pairs]
    randoms = [(rng.randrange(len(docs)), rng.randrange(len(docs))) for _ in range(pairs * 10)]
    randoms = [(a, b) for a, b in randoms if docs[a].story != docs[b].story]
    notices = [d.index for d in docs if d.body.startswith("日前，经中共")]
    hard = [(rng.choice(notices), rng.choice(notices)) for _ in range(pairs)]
    hard = [(a, b) for a, b in hard if docs[a].story != docs[b].story]

    def timed(fn: Callable[[str], object], bodies: list[str]) -> tuple[list[object], float]:
        t0 = time.perf_counter()
        out = [fn(b) for b in bodies]
        return out, (time.perf_counter() - t0) / len(bodies) * 1e6

    needed = sorted(
        {d.index for d in copies}
        | {d.story for d in copies}
        | {i for p in randoms + hard for i in p}
    )
    bodies = [docs[i].body for i in needed]
    mins, min_us = timed(fingerprint, bodies)
    sims, sim_us = timed(lambda b: simhash(normalize_body(b)), bodies)
    mh = dict(zip(needed, mins, strict=True))
    sh = dict(zip(needed, sims, strict=True))

    def minhash_found(a: int, b: int) -> bool:
        shared = set(mh[a].bands) & set(mh[b].bands)  # type: ignore[attr-defined]
        return bool(shared) and is_same_story(docs[a].body, docs[b].body)

    def simhash_found(a: int, b: int, k: int) -> bool:
        distance = bin(sh[a] ^ sh[b]).count("1")  # type: ignore[operator]
        if distance > k:
            return False
        x, y = sh[a], sh[b]
        return any((x >> s) & 0xFFFF == (y >> s) & 0xFFFF for s in (0, 16, 32, 48))  # type: ignore[operator]

    planted = [(d.story, d.index) for d in copies]
    print(
        f"\nscheme comparison on {len(planted)} planted pairs, {len(randoms)} random pairs, "
        f"{len(hard)} notice/notice pairs (in memory)"
    )
    print(
        f"  {'scheme':<44} {'recall':>7} {'false+ random':>14} {'false+ notices':>15} {'µs/doc':>7}"
    )
    rows = [
        ("MinHash-LSH 16x8 + Jaccard >= 0.75 (govwatch)", minhash_found, min_us),
        ("SimHash 64, 4 bands of 16, Hamming <= 3", lambda a, b: simhash_found(a, b, 3), sim_us),
        ("SimHash 64, 4 bands of 16, Hamming <= 6", lambda a, b: simhash_found(a, b, 6), sim_us),
    ]
    for name, found, us in rows:
        recall = sum(found(a, b) for a, b in planted) / len(planted)
        fp_random = sum(found(a, b) for a, b in randoms)
        fp_hard = sum(found(a, b) for a, b in hard)
        print(f"  {name:<44} {recall:>7.3f} {fp_random:>14} {fp_hard:>15} {us:>7.0f}")
    jaccards = sorted(similarity(docs[a].body, docs[b].body) for a, b in planted[:500])
    hard_j = sorted(similarity(docs[a].body, docs[b].body) for a, b in hard[:500])
    print(
        f"  Jaccard of planted pairs: min {jaccards[0]:.3f}, "
        f"1% {jaccards[len(jaccards) // 100]:.3f}, "
        f"median {statistics.median(jaccards):.3f}; of notice pairs: median "
        f"{statistics.median(hard_j):.3f}, max {hard_j[-1]:.3f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200_000, help="articles (default 200,000)")
    parser.add_argument("--sqlite", action="store_true", help="run on SQLite")
    parser.add_argument(
        "--postgres", metavar="URL", help="run on this PostgreSQL (a schema is made and dropped)"
    )
    parser.add_argument("--probes", type=int, default=200, help="lookups timed per checkpoint")
    parser.add_argument(
        "--compare", type=int, default=2000, help="planted pairs in the scheme comparison (0: skip)"
    )
    args = parser.parse_args()

    t0 = time.perf_counter()
    docs = corpus(args.n)
    t1 = time.perf_counter()
    articles = new_articles(docs, [0, 1, 2, 3])
    t2 = time.perf_counter()
    copies = sum(d.story != d.index for d in docs)
    print(
        f"corpus: {len(docs):,} articles ({copies:,} planted copies), mean body "
        f"{statistics.mean(len(d.body) for d in docs):.0f} chars; generated in {t1 - t0:.0f}s, "
        f"fingerprinted in {t2 - t1:.0f}s ({(t2 - t1) / len(docs) * 1e6:.0f} µs/article)",
        flush=True,
    )
    if args.compare:
        compare_schemes(docs, args.compare)
    backends = (["sqlite"] if args.sqlite else []) + (["postgresql"] if args.postgres else [])
    results = []
    for kind in backends:
        print(f"\n{kind}:", flush=True)
        t = time.perf_counter()
        r = run_backend(kind, args.postgres, docs, articles, args.probes)
        results.append(r)
        print(
            f"  ({time.perf_counter() - t:.0f}s) {r['insert_rate']:,.0f} articles/s; "
            f"{r['linked']:,} linked of {r['planted']:,} planted copies: precision "
            f"{r['precision']:.4f}, recall {r['recall']:.4f}",
            flush=True,
        )
    if results:
        print(f"\n{'backend':<11} {'insert/s':>9} {'planted':>8} {'linked':>7} ", end="")
        print(f"{'precision':>10} {'recall':>7}")
        for r in results:
            print(f"{r['backend']:<11} {r['insert_rate']:>9,.0f} {r['planted']:>8,} ", end="")
            print(f"{r['linked']:>7,} {r['precision']:>10.4f} {r['recall']:>7.4f}")
        print("\nlookup ms, median / p95")
        print(f"{'backend':<11} {'stored':>8} {'index':>13} {'index+verify':>14} {'scan':>16}")
        for r in results:
            for checkpoint, index_q, total, scan in r["lookups"]:  # type: ignore[attr-defined]
                print(f"{r['backend']:<11} {checkpoint:>8,} {index_q:>13} {total:>14} {scan:>16}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
