#!/usr/bin/env python3
"""Crawl throughput: govwatch's whole pipeline against a bare Scrapy spider, same site.

Serves a generated ccdi-style site (list pages with createPageHTML pagination, article pages
of 30-60 KB with realistic chrome) on 127.0.0.1 and times, alternating A B A B:

  A  a bare Scrapy spider that fetches the same list and article pages with the same
     politeness (one request per host at a time, no delay) and the fastest reactor, doing
     nothing with them;
  B  ``govwatch crawl`` of the same site into a fresh database (SQLite; PostgreSQL too when
     GOVWATCH_BENCH_PG is set or --pg URL is given).

Each attempt is its own process (Scrapy's reactor starts once per process); wall time,
CPU time and peak RSS are that child's own (``os.wait4``).  Prints medians, the bare/govwatch
wall-time ratio (target >= 0.5 on SQLite, >= 0.4 on PostgreSQL), govwatch's per-stage
breakdown (from the run's timing counters), and a recrawl of the unchanged site.

    .venv/bin/python bench/crawl.py                  # 300 pages, 3 pairs, SQLite
    .venv/bin/python bench/crawl.py --pg postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/crawl.py --pages 3000 --pairs 1   # memory on a large crawl
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.sitesrv import SiteServer, build_ccdi_site  # noqa: E402

PATTERN = r"/\d{6}/t\d{8}_\d+\.html$"

BARE_SPIDER = Path(__file__).resolve().parent / "bare_spider.py"


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mb: float
    pages: int
    requests: int
    output: str


class ChildRusage:
    """Per-child CPU and peak memory: run the child via ``os.posix_spawn`` + ``os.wait4``."""

    @staticmethod
    def run(argv: list[str], env: dict[str, str], srv: SiteServer) -> Sample:
        srv.clear_log()
        with tempfile.TemporaryFile("w+") as out:
            started = time.perf_counter()
            pid = os.posix_spawn(
                argv[0],
                argv,
                env,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                    (os.POSIX_SPAWN_DUP2, out.fileno(), 2),
                ],
            )
            _, status, usage = os.wait4(pid, 0)
            wall = time.perf_counter() - started
            out.seek(0)
            text = out.read()
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise SystemExit(f"{' '.join(argv[:6])} exited {code}:\n{text[-3000:]}")
        return Sample(
            wall=wall,
            cpu=usage.ru_utime + usage.ru_stime,
            rss_mb=usage.ru_maxrss / 1024,
            pages=0,
            requests=len(srv.requests),
            output=text,
        )


def write_config(directory: Path, start_url: str, db_url: str, max_pages: int) -> Path:
    path = directory / "bench.toml"
    path.write_text(
        f"""
[database]
url = "{db_url}"

[[sites]]
name = "bench"
start_urls = ["{start_url}"]
article_url_pattern = '{PATTERN}'
list_link_selector = ".list_news_dl2 li a"
max_list_pages = {max_pages}
delay_seconds = 0
[sites.selectors]
title = "h2.tit"
publish_time = ".daty_con .e2"
source = ".daty_con .e1"
body = "div.content"
""",
        encoding="utf-8",
    )
    return path


def fresh_pg_url(base: str) -> tuple[str, str]:
    """A URL of a new, empty PostgreSQL schema (and its name, to drop later)."""
    import psycopg

    schema = f"gw_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    url = base.replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{url}{sep}options=-csearch_path%3D{schema}", schema


def drop_pg_schema(base: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def stage_timings(output: str) -> dict[str, float]:
    """The run's per-stage counters, from its ``timings`` log line (JSON log format)."""
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        message = entry.get("message", "")
        if "timings:" in message:
            return json.loads(message.split("timings:", 1)[1])
    return {}


def govwatch_argv(config: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "scheduler",
        "--config",
        str(config),
        "--log-level",
        "INFO",
        "--log-format",
        "json",
        "crawl",
        "bench",
    ]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=300, help="article pages (default 300)")
    parser.add_argument("--per-page", type=int, default=20, help="articles per list page")
    parser.add_argument("--pairs", type=int, default=3, help="A/B pairs per backend (>= 3)")
    parser.add_argument("--body-kb", type=int, default=30, help="article body size in KiB")
    parser.add_argument(
        "--pg",
        default=os.environ.get("GOVWATCH_BENCH_PG"),
        help="PostgreSQL URL (postgresql://…) to measure as well",
    )
    args = parser.parse_args()

    # articles are dated about 1.6 days apart from ``start``: early enough that none of a
    # 3,000-page site lies in the future (the extractor rejects future publish times)
    site = build_ccdi_site(
        n_articles=args.pages, per_page=args.per_page, body_kb=args.body_kb, start=date(2012, 1, 1)
    )
    sizes = [len(site.pages[a.path].body) for a in site.articles]
    list_pages = len(site.list_paths)
    print(
        f"site: {args.pages} article pages ({min(sizes) // 1024}-{max(sizes) // 1024} KB, "
        f"mean {statistics.mean(sizes) / 1024:.0f} KB), {list_pages} list pages; "
        f"{args.pairs} A/B pairs per backend"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVWATCH_")}
    env["PYTHONPATH"] = str(REPO)
    backends = [("sqlite", None)] + ([("postgresql", args.pg)] if args.pg else [])
    with SiteServer(site.pages) as srv, tempfile.TemporaryDirectory() as tmp:
        start = srv.url(site.start_path)
        bare_argv = [sys.executable, str(BARE_SPIDER), start, str(list_pages + 1), PATTERN]
        for backend, pg in backends:
            bare: list[Sample] = []
            gov: list[Sample] = []
            timings: list[dict[str, float]] = []
            recrawl: Sample | None = None
            for i in range(args.pairs):
                bare.append(ChildRusage.run(bare_argv, env, srv))
                workdir = Path(tmp) / f"{backend}-{i}"
                workdir.mkdir()
                schema = None
                if pg:
                    db_url, schema = fresh_pg_url(pg)
                else:
                    db_url = f"sqlite:///{workdir / 'gw.db'}"
                config = write_config(workdir, start, db_url, list_pages + 1)
                sample = ChildRusage.run(govwatch_argv(config), env, srv)
                gov.append(sample)
                timings.append(stage_timings(sample.output))
                if i == args.pairs - 1:
                    recrawl = ChildRusage.run(govwatch_argv(config), env, srv)
                    recrawl_timings = stage_timings(recrawl.output)
                if schema and pg:
                    drop_pg_schema(pg, schema)
            pages = args.pages + list_pages
            bw, gw = median([s.wall for s in bare]), median([s.wall for s in gov])
            print(f"\n== {backend} ==")
            print(
                f"{'':10} {'wall s':>8} {'cpu s':>8} {'pages/s':>8} {'peak MB':>8} {'requests':>9}"
            )
            for name, samples in (("bare", bare), ("govwatch", gov)):
                w = median([s.wall for s in samples])
                print(
                    f"{name:10} {w:8.2f} {median([s.cpu for s in samples]):8.2f} "
                    f"{pages / w:8.0f} {max(s.rss_mb for s in samples):8.0f} "
                    f"{samples[-1].requests:9d}"
                )
            print(f"ratio bare/govwatch (median wall): {bw / gw:.2f}")
            print(
                "pairs (bare, govwatch):",
                ", ".join(f"({b.wall:.2f}, {g.wall:.2f})" for b, g in zip(bare, gov, strict=True)),
            )
            merged: dict[str, list[float]] = {}
            for t in timings:
                for key, value in t.items():
                    merged.setdefault(key, []).append(value)
            if merged:
                print(
                    "govwatch stages (median s): "
                    + ", ".join(f"{k} {median(v):.3f}" for k, v in merged.items())
                )
            if recrawl is not None:
                pipeline = sum(v for k, v in recrawl_timings.items() if k != "fetch_wait")
                print(
                    f"recrawl of the unchanged site: {recrawl.wall:.2f} s wall, "
                    f"{recrawl.requests} requests, pipeline {pipeline:.3f} s"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
