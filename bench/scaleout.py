"""Scale-out: one tick of N local sites run by 1, 2 and 4 ``govwatch worker`` processes.

Each site is a local ccdi-like site on a port of its own (``tests.sitesrv``), crawled politely
(``delay_seconds``).  For each worker count: a fresh database on the PostgreSQL server, a
``govwatch run`` leader that defers every site's crawl once (``every 1h``), W workers
(``--concurrency 1`` each); the tick's wall time runs from the first deferral to the last job
done.  The scheduler's overhead per job is its defer -> start latency (Procrastinate's
``deferred`` and ``started`` events), p50/p95.  Whole processes against whole processes.

    .venv/bin/python bench/scaleout.py                          # 60 sites, 20 articles, 0.5 s
    .venv/bin/python bench/scaleout.py --sites 12 --articles 5  # smaller
    .venv/bin/python bench/scaleout.py --workers 4,1,2          # the short tick first

Each tick's CPU time (user + sys of every process it started, crawls included) and the load
average before and after it are printed beside its wall time.

Needs ``GOVWATCH_TEST_DATABASE_URL`` (a PostgreSQL server whose user may create databases);
without it, it says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.sitesrv import SiteServer, build_ccdi_site  # noqa: E402

SELECTORS = """
[sites.selectors]
title = "h2.tit"
publish_time = ".daty_con .e2"
source = ".daty_con .e1"
body = "div.content"
"""


def config_text(url: str, site_urls: list[str], delay: float) -> str:
    sites = "".join(
        f"""
[[sites]]
name = "s{i:03d}"
start_urls = ["{u}"]
article_url_pattern = '/yaowenn/\\d{{6}}/t\\d{{8}}_\\d+\\.html$'
list_link_selector = ".list_news_dl2 li a"
schedule = "every 1h"
delay_seconds = {delay}
max_list_pages = 10
{SELECTORS}"""
        for i, u in enumerate(site_urls)
    )
    return f"""
[database]
url = "{url}"

[crawl]
retries = 0
extract_workers = 0

[service]
min_schedule_seconds = 1
jitter_seconds = 0
heartbeat_seconds = 1
crawl_time_limit_seconds = 3600

[queue]
backend = "procrastinate"
heartbeat_seconds = 1
stalled_seconds = 30
poll_seconds = 0.5

[links]
schedule = "0 0 1 1 *"
{sites}"""


def one_tick(base: str, site_urls: list[str], workers: int, delay: float, tmp: Path) -> dict:
    name = f"gw_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    config = tmp / f"{name}.toml"
    config.write_text(config_text(url, site_urls, delay), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVWATCH_")}
    argv = [sys.executable, "-m", "scheduler", "--config", str(config)]
    procs: list[subprocess.Popen[bytes]] = []
    db = create_engine(url)
    load_before = os.getloadavg()[0]
    cpu_before = _children_cpu()
    try:
        init = subprocess.run([*argv, "init"], env=env, cwd=REPO, capture_output=True)
        assert init.returncode == 0, init.stderr
        log = (tmp / f"{name}.log").open("wb")
        procs += [
            subprocess.Popen(
                [*argv, "worker", "--concurrency", "1"],
                env=env,
                cwd=REPO,
                stderr=log,
                stdout=subprocess.DEVNULL,
            )
            for _ in range(workers)
        ]
        procs.append(
            subprocess.Popen(
                [*argv, "run"], env=env, cwd=REPO, stderr=log, stdout=subprocess.DEVNULL
            )
        )
        n = len(site_urls)
        while True:
            with db.connect() as conn:
                done = conn.execute(
                    text("SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'")
                ).scalar_one()
            if done >= n:
                break
            time.sleep(0.2)
        with db.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT j.id, min(e.at) FILTER (WHERE e.type = 'deferred'),"
                    " min(e.at) FILTER (WHERE e.type = 'started'),"
                    " max(e.at) FILTER (WHERE e.type = 'succeeded')"
                    " FROM procrastinate_jobs j JOIN procrastinate_events e ON e.job_id = j.id"
                    " GROUP BY j.id"
                )
            ).all()
            articles = conn.execute(text("SELECT count(*) FROM articles")).scalar_one()
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        cpu = _children_cpu() - cpu_before  # init, leader, workers and their crawls, all waited
        load_after = os.getloadavg()[0]
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    first = min(r[1] for r in rows)
    last = max(r[3] for r in rows)
    latency = sorted((r[2] - r[1]).total_seconds() for r in rows)
    # defer -> start includes the wait for a free worker; the scheduler's own overhead is
    # the hand-off: a job's start after the job that freed its worker ended (each start
    # beyond the first W, against the latest end before it)
    starts = sorted(r[2] for r in rows)[workers:]
    ends = sorted(r[3] for r in rows)
    handoff = sorted(
        (s - max(e for e in ends if e <= s)).total_seconds()
        for s in starts
        if any(e <= s for e in ends)
    ) or [0.0]
    return {
        "workers": workers,
        "tick_seconds": round((last - first).total_seconds(), 1),
        "articles": articles,
        "defer_to_start_p50": round(statistics.median(latency), 3),
        "defer_to_start_p95": round(_p95(latency), 3),
        "first_defer_to_start": round(min(latency), 3),
        "handoff_p50": round(statistics.median(handoff), 3),
        "handoff_p95": round(_p95(handoff), 3),
        "cpu_seconds": round(cpu, 1),
        "load_before": round(load_before, 2),
        "load_after": round(load_after, 2),
    }


def _p95(ordered: list[float]) -> float:
    """The 95th percentile of sorted values (nearest rank)."""
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=60)
    parser.add_argument("--articles", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.5)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    base = os.environ.get("GOVWATCH_TEST_DATABASE_URL")
    if not base:
        print("GOVWATCH_TEST_DATABASE_URL is not set: nothing measured")
        return 0
    base = make_url(base).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    results = []
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        urls = []
        for i in range(args.sites):
            site = build_ccdi_site(
                n_articles=args.articles, per_page=10, start=date(2024, 1, 1 + i % 28)
            )
            srv = stack.enter_context(SiteServer(site.pages))
            urls.append(srv.url("/yaowenn/"))
        for workers in [int(w) for w in args.workers.split(",")]:
            result = one_tick(base, urls, workers, args.delay, Path(tmp))
            print(json.dumps(result), flush=True)
            results.append(result)
    one = min(results, key=lambda r: r["workers"])["tick_seconds"]
    print(f"\n{args.sites} sites x {args.articles} articles, delay {args.delay}s")
    print(
        f"{'workers':>8} {'tick s':>8} {'speed-up':>9} {'defer->start p50':>17} {'p95':>7}"
        f" {'hand-off p50':>13} {'p95':>7} {'CPU s':>7} {'load':>11}"
    )
    for r in results:
        print(
            f"{r['workers']:>8} {r['tick_seconds']:>8} {one / r['tick_seconds']:>8.2f}x "
            f"{r['defer_to_start_p50']:>17} {r['defer_to_start_p95']:>7}"
            f" {r['handoff_p50']:>13} {r['handoff_p95']:>7} {r['cpu_seconds']:>7}"
            f" {r['load_before']:>5}-{r['load_after']:<5}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
