#!/usr/bin/env python3
"""How digest windows lose or repeat articles while crawls write: govwatch against two
simpler ways of deciding what is new, on SQLite and PostgreSQL.

Usage (from the repository root):

    .venv/bin/python bench/digest_windows.py [--articles 3000] [--writers 4] [--sqlite] \
        [--postgres postgresql://postgres@127.0.0.1:5432/test]

Workload: ``--writers`` threads store articles through ``storage.repository.store_articles``
in transactions of ``--batch`` articles, each transaction kept open 0-``--hold-ms`` ms after
its insert (the work a crawl does between storing and committing).  Meanwhile one builder
makes a window every ``--every-ms`` ms until the writers are done, then one last window.
Three ways of choosing a window's articles, each in its own run on a fresh database:

- ``govwatch``: ids above the last window's bound, up to the highest id committed when the
  build starts; on PostgreSQL the bound is read under a ``SHARE`` lock, so it waits for
  running writers (``digest.build.take_positions``);
- ``max-id``: the same without waiting (``read_positions(lock=False)``);
- ``clock``: articles first seen since the last build's time (a wall-clock window).

Reported per run: articles stored, lost (in no window), repeated (in two), windows built,
build time (bound + query) p50/p95, and the writers' transaction time p50/p95 (what waiting
for the builder costs them).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, select, text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from digest.build import take_positions  # noqa: E402
from storage import repository  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.digest_records import ArticleFilter  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Article  # noqa: E402
from storage.records import NewArticle, SiteInfo  # noqa: E402

STRATEGIES = ("govwatch", "max-id", "clock")


@dataclass
class Result:
    strategy: str
    stored: int
    lost: int
    repeated: int
    windows: int
    build_ms: list[float]
    txn_ms: list[float]


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Builder:
    """One strategy's windows: what each reported."""

    def __init__(self, db: Database, strategy: str) -> None:
        self.db = db
        self.strategy = strategy
        self.after_id = 0
        self.after_time = datetime(2000, 1, 1, tzinfo=UTC)
        self.reported: list[int] = []
        self.build_ms: list[float] = []

    def build(self) -> None:
        started = time.perf_counter()
        if self.strategy == "clock":
            now = datetime.now(UTC)
            with self.db.session() as s:
                ids = list(
                    s.scalars(
                        select(Article.id).where(
                            Article.first_seen > self.after_time, Article.first_seen <= now
                        )
                    )
                )
            self.after_time = now
        else:
            if self.strategy == "govwatch":
                upto = take_positions(self.db)
            else:
                with self.db.session() as s:
                    upto = repository.read_positions(s, lock=False)
            with self.db.session() as s:
                rows = repository.window_articles(
                    s, self.after_id, upto.article_id, ArticleFilter(), body_chars=1
                )
            ids = [r.id for r in rows]
            self.after_id = max(self.after_id, upto.article_id)
        self.build_ms.append((time.perf_counter() - started) * 1000)
        self.reported += ids


def run(db: Database, strategy: str, args: argparse.Namespace) -> Result:
    with db.session() as s:
        site_id = repository.sync_sites(s, [SiteInfo("bench", "bench")])["bench"]
    per_writer = args.articles // args.writers
    txn_ms: list[float] = []
    lock = threading.Lock()
    stored: list[int] = []

    def write(w: int) -> None:
        rng = random.Random(w)
        for start in range(0, per_writer, args.batch):
            batch = [
                NewArticle(
                    site_id=site_id,
                    url=f"https://bench.example/{w}/{n}",
                    fetched_url=f"https://bench.example/{w}/{n}",
                    title=f"标题 {w}-{n}",
                    publish_time=None,
                    source=None,
                    author=None,
                    body="正文",
                )
                for n in range(start, min(start + args.batch, per_writer))
            ]
            t0 = time.perf_counter()
            with db.session() as s:
                ids = repository.store_articles(s, batch, run_id=None)
                time.sleep(rng.uniform(0, args.hold_ms) / 1000)
            elapsed = (time.perf_counter() - t0) * 1000
            with lock:
                txn_ms.append(elapsed)
                stored.extend(ids)

    builder = Builder(db, strategy)
    writers = [threading.Thread(target=write, args=(w,)) for w in range(args.writers)]
    for t in writers:
        t.start()
    while any(t.is_alive() for t in writers):
        builder.build()
        time.sleep(args.every_ms / 1000)
    for t in writers:
        t.join()
    builder.build()
    reported = builder.reported
    return Result(
        strategy=strategy,
        stored=len(stored),
        lost=len(set(stored) - set(reported)),
        repeated=len(reported) - len(set(reported)),
        windows=len(builder.build_ms),
        build_ms=builder.build_ms,
        txn_ms=txn_ms,
    )


@contextmanager
def sqlite_db() -> Iterator[Database]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(db)
        yield db
        db.dispose()


def postgres_db(url: str) -> Callable[[], Iterator[Database]]:
    @contextmanager
    def make() -> Iterator[Database]:
        schema = f"gw_bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in url else "?"
        db = Database(f"{url}{sep}options=-csearch_path%3D{schema}")
        try:
            upgrade(db)
            yield db
        finally:
            db.dispose()
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()

    return make


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=3000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("--hold-ms", type=float, default=20.0)
    parser.add_argument("--every-ms", type=float, default=20.0)
    parser.add_argument("--sqlite", action="store_true", help="only SQLite")
    parser.add_argument("--postgres", metavar="URL", help="also PostgreSQL at URL")
    args = parser.parse_args()
    backends: list[tuple[str, Callable[[], Iterator[Database]]]] = [("sqlite", sqlite_db)]
    if args.postgres and not args.sqlite:
        backends.append(("postgresql", postgres_db(args.postgres)))
    print(
        f"{args.articles} articles, {args.writers} writers, {args.batch} per transaction held "
        f"0-{args.hold_ms:g} ms; a window every {args.every_ms:g} ms\n"
    )
    header = (
        f"{'backend':<11}{'strategy':<10}{'stored':>7}{'lost':>6}{'repeated':>9}{'windows':>8}"
        f"{'build p50':>11}{'build p95':>11}{'txn p50':>9}{'txn p95':>9}"
    )
    print(header)
    print("-" * len(header))
    for backend, make in backends:
        for strategy in STRATEGIES:
            with make() as db:  # type: ignore[attr-defined]
                r = run(db, strategy, args)
            print(
                f"{backend:<11}{r.strategy:<10}{r.stored:>7}{r.lost:>6}{r.repeated:>9}"
                f"{r.windows:>8}{statistics.median(r.build_ms):>9.1f}ms"
                f"{_pct(r.build_ms, 0.95):>9.1f}ms{statistics.median(r.txn_ms):>7.1f}ms"
                f"{_pct(r.txn_ms, 0.95):>7.1f}ms"
            )
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
