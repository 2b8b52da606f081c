"""The web view's answer times on a synthetic database, beside what the command line costs
for the same question (a whole ``govwatch articles`` process).

Builds N articles over three sites with the repository's own ``store_articles`` (titles and
bodies of Chinese words, so 1-, 2- and 4-character searches hit), serves the web view
in-process (read-only database, as ``govwatch serve``) and times sequential requests of each
page: p50 and p95 wall milliseconds.  The search goes through the article-listing query
(``storage.repository.articles``); its index is issue 17's item 1 (``bench/search.py``).

    .venv/bin/python bench/webview.py                       # 20000 articles, SQLite in a temp dir
    .venv/bin/python bench/webview.py --articles 100000 --requests 50
    .venv/bin/python bench/webview.py --database-url postgresql+psycopg://postgres@127.0.0.1/test
      (PostgreSQL: an empty database or schema of your own; it is filled, not cleaned)
    .venv/bin/python bench/webview.py --articles 200000 --database-file /tmp/web-200k.db
      (a SQLite file kept between runs: filled when it has no articles, reused otherwise, so
      two versions of the code can be timed on the same rows)

"articles, half-way down" is the keyset page whose cursor is the middle row of the listing:
it should cost what the first page costs (the keyset seeks, issue 17's web2 item 1).
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from storage import migrate, repository  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.records import NewArticle, SiteInfo  # noqa: E402
from web.app import WebOptions, build_app  # noqa: E402
from web.server import ThreadedServer  # noqa: E402

WORDS = ["审查调查", "违纪", "通报", "巡视", "整改", "监督", "基层", "作风", "廉洁", "纪律"]
# CJK characters for bodies
FILLER = "".join(chr(c) for c in range(0x4E00, 0x4E00 + 2000, 3))


def fill(db: Database, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with db.session() as s:
        ids = repository.sync_sites(s, [SiteInfo(f"site{i}", f"站点{i}") for i in range(3)])
    start = datetime(2026, 1, 1, tzinfo=UTC)
    batch: list[NewArticle] = []
    for k in range(n):
        title = "".join(rng.choice(WORDS) for _ in range(3)) + f"第{k}号"
        body = "".join(rng.choice(FILLER) for _ in range(600))
        when = start + timedelta(minutes=7 * k)
        batch.append(
            NewArticle(
                site_id=ids[f"site{k % 3}"],
                url=f"https://s{k % 3}.example.gov.cn/a/{k}.html",
                fetched_url=f"https://s{k % 3}.example.gov.cn/a/{k}.html",
                title=title,
                publish_time=when,
                source="中央纪委国家监委网站",
                author=None,
                body=body,
            )
        )
        if len(batch) == 1000:
            with db.session() as s:
                repository.store_articles(s, batch, run_id=None)
            batch = []
    if batch:
        with db.session() as s:
            repository.store_articles(s, batch, run_id=None)
    if not db.is_sqlite:
        # the statistics autovacuum gathers on a live table within a minute of such a load
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


def timed(url: str, count: int) -> tuple[float, float, float]:
    """p50 and p95 wall ms of ``count`` sequential requests, and CPU ms per request of this
    process (the server's threads and the client's: less noisy on a shared machine)."""
    times = []
    cpu = time.process_time()
    for _ in range(count):
        began = time.perf_counter()
        with urllib.request.urlopen(url, timeout=120) as response:
            response.read()
            assert response.status == 200, url
        times.append((time.perf_counter() - began) * 1000)
    cpu_ms = (time.process_time() - cpu) * 1000 / count
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))], cpu_ms


def cli_ms(url: str, tmp: Path, search: str) -> float:
    config = tmp / "bench.toml"
    config.write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    began = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "scheduler",
            "--config",
            str(config),
            "articles",
            "--search",
            search,
            "--limit",
            "50",
            "--format",
            "json",
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    return (time.perf_counter() - began) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--database-url")
    parser.add_argument("--database-file", type=Path, help="a SQLite file to fill once, reuse")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="govwatch-bench-web-") as tmpdir:
        tmp = Path(tmpdir)
        url = args.database_url or f"sqlite:///{args.database_file or tmp / 'gw.db'}"
        writer = Database(url)
        migrate.upgrade(writer)
        with writer.session() as s:
            stored = repository.count_articles(s)
        if stored:
            print(f"{stored} articles already stored ({url})")
        else:
            began = time.perf_counter()
            fill(writer, args.articles)
            took = time.perf_counter() - began
            print(f"{args.articles} articles stored in {took:.1f} s ({url.split(':')[0]})")
        half_way = _middle_cursor(writer)
        writer.dispose()
        reader = Database(url, read_only=True, statement_timeout=60)
        server = ThreadedServer(build_app(reader, WebOptions()), "127.0.0.1", 0).start()
        base = f"http://{server.address}"
        pages = [
            ("/articles", "articles, first page"),
            ("/articles?after=" + _cursor(base), "articles, a later page (keyset)"),
            ("/articles?copies=show&after=" + half_way, "articles, half-way down (keyset)"),
            ("/articles?q=" + quote("审查调查"), "search, 4 characters"),
            ("/articles?q=" + quote("违纪"), "search, 2 characters"),
            ("/articles?q=" + quote("纪"), "search, 1 character"),
            ("/api/articles?q=" + quote("违纪"), "search, 2 characters, JSON"),
            ("/feeds/site/site0.atom", "Atom feed of a site"),
            ("/feeds/search.atom?q=" + quote("违纪"), "Atom feed of a search"),
            ("/sites", "sites"),
            ("/links", "dead links"),
        ]
        print(f"{'page':40} {'p50 ms':>8} {'p95 ms':>8} {'CPU ms':>8}")
        try:
            for path, label in pages:
                p50, p95, cpu = timed(base + path, args.requests)
                print(f"{label:40} {p50:8.1f} {p95:8.1f} {cpu:8.1f}")
        finally:
            server.stop()
            reader.dispose()
        runs = sorted(cli_ms(url, tmp, "违纪") for _ in range(3))
        print(f"{'govwatch articles --search 违纪 (process)':40} {runs[1]:8.1f}  (median of 3)")
    return 0


def _middle_cursor(db: Database) -> str:
    """The cursor of the listing's middle row (every copy shown), read with one query."""
    from sqlalchemy import func, select

    from storage.models import Article
    from storage.records import ArticleCursor
    from storage.repository.search import listing_order
    from web.params import encode_cursor

    with db.session() as s:
        total = s.scalar(select(func.count(Article.id))) or 0
        row = s.execute(
            select(Article.publish_time, Article.first_seen, Article.id)
            .order_by(*listing_order())
            .offset(total // 2)
            .limit(1)
        ).one()
    return quote(encode_cursor(ArticleCursor(row[0], row[1], row[2], None)))


def _cursor(base: str) -> str:
    import json

    url = base + "/api/articles?limit=200"
    for _ in range(5):
        with urllib.request.urlopen(url, timeout=120) as response:
            payload = json.loads(response.read())
        url = base + payload["next_url"]
    return str(payload["next"])


if __name__ == "__main__":
    sys.exit(main())
