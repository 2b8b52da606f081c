#!/usr/bin/env python3
"""Soak the background service: run ``govwatch run`` for N crawl cycles against a local site
and print the service process's memory every 10 cycles (target: flat after warm-up).

Usage (from the repository root):

    .venv/bin/python bench/soak.py [--cycles N] [--sites K] [--database-url URL] [--links]

A cycle is one finished crawl run.  The local site (``tests/sitesrv.py``) gets a new article
every few cycles, so crawls store something now and then and otherwise get ``304 Not
Modified`` list pages, as real sites do.  Sites are scheduled ``every 1s`` (with
``[service] min_schedule_seconds = 1``), so every firing during a run is skipped and recorded as
an ``overlap``: the missed-run bookkeeping is soaked too.  ``--links`` adds the link-check job
every 5 s.

Each line: cycles done, seconds, the service's RSS (``VmRSS``) and high-water mark
(``VmHWM``), its threads and open file descriptors, and beside them the RSS of a crawl process
caught running (the alternative, crawling inside the service, would keep that memory, and
Scrapy's reactor cannot restart anyway).  The summary compares the RSS after warm-up with the
RSS at the end.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from storage.database import Database  # noqa: E402
from tests.sitesrv import SiteServer, build_ccdi_site  # noqa: E402

WARM_UP = 30  # cycles before the memory is expected to level off


def proc_status(pid: int) -> dict[str, int]:
    """``VmRSS``/``VmHWM`` in KiB and ``Threads`` from ``/proc/PID/status``."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def open_fds(pid: int) -> int:
    try:
        return sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return -1


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def write_config(workdir: Path, url: str, base: str, sites: int, links: bool) -> Path:
    blocks = []
    for k in range(sites):
        blocks.append(
            f"""
[[sites]]
name = "site{k}"
start_urls = ["{base}/yaowenn/"]
article_url_pattern = '/yaowenn/\\d{{6}}/t\\d{{8}}_\\d+\\.html$'
list_link_selector = ".list_news_dl2 li a"
delay_seconds = 0
schedule = "every 1s"
[sites.selectors]
title = "h2.tit"
publish_time = ".daty_con .e2"
source = ".daty_con .e1"
body = "div.content"
"""
        )
    link_schedule = '"every 5s"' if links else '"0 0 1 1 *"'
    path = workdir / "soak.toml"
    path.write_text(
        f"""
[database]
url = "{url}"

[crawl]
retries = 0

[service]
min_schedule_seconds = 1
jitter_seconds = 0
heartbeat_seconds = 1
max_concurrent_crawls = {sites}

[links]
schedule = {link_schedule}
allow_private_addresses = true
{"".join(blocks)}""",
        encoding="utf-8",
    )
    return path


def count_rows(db: Database, sql: str) -> int:
    """``SELECT count(*) ...`` on the service's database; 0 before its schema is there."""
    try:
        with db.engine.connect() as conn:
            n = conn.execute(text(sql)).scalar_one()
    except Exception:  # the schema is not there yet
        return 0
    return int(n)


def finished_runs(db: Database) -> int:
    return count_rows(db, "SELECT count(*) FROM crawl_runs WHERE outcome != 'running'")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=300, help="crawl runs to wait for")
    parser.add_argument("--sites", type=int, default=2, help="sites (crawled concurrently)")
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    parser.add_argument("--links", action="store_true", help="also run the link check")
    args = parser.parse_args()

    site = build_ccdi_site(n_articles=20, per_page=10)
    with tempfile.TemporaryDirectory(prefix="govwatch-soak-") as tmp, SiteServer(site.pages) as srv:
        workdir = Path(tmp)
        url = args.database_url or f"sqlite:///{workdir / 'soak.db'}"
        config = write_config(workdir, url, srv.base_url, args.sites, args.links)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOVWATCH_")}
        env["GOVWATCH_DATABASE_URL"] = url
        log = (workdir / "service.log").open("wb")
        service = subprocess.Popen(
            [sys.executable, "-m", "scheduler", "--config", str(config), "run"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=env,
            cwd=REPO,
        )
        db = Database(url)
        print(f"service pid {service.pid}, {args.sites} site(s) every 1s, {args.cycles} cycles")
        print(
            f"{'cycles':>6} {'seconds':>8} {'RSS MB':>8} {'HWM MB':>8} {'threads':>7} "
            f"{'fds':>5}   {'crawl process RSS MB':>20}"
        )
        started = time.monotonic()
        reported = 0
        child_rss: list[float] = []
        samples: list[tuple[int, float]] = []
        try:
            while reported < args.cycles:
                if service.poll() is not None:
                    print(f"the service exited with status {service.returncode}; see its log:")
                    print((workdir / "service.log").read_text()[-3000:])
                    return 1
                for pid in children(service.pid):
                    rss = proc_status(pid).get("VmRSS")
                    if rss:
                        child_rss.append(rss / 1024)
                done = finished_runs(db)
                while reported + 10 <= done and reported < args.cycles:
                    reported += 10
                    if reported % 50 == 0:
                        site.add_article()  # something new to store now and then
                    status = proc_status(service.pid)
                    rss_mb = status.get("VmRSS", 0) / 1024
                    samples.append((reported, rss_mb))
                    crawl = f"{max(child_rss):.1f} ({len(child_rss)} samples)" if child_rss else "-"
                    print(
                        f"{reported:>6} {time.monotonic() - started:>8.0f} {rss_mb:>8.1f} "
                        f"{status.get('VmHWM', 0) / 1024:>8.1f} {status.get('Threads', 0):>7} "
                        f"{open_fds(service.pid):>5}   {crawl:>20}",
                        flush=True,
                    )
                    child_rss.clear()
                time.sleep(0.2)
        finally:
            service.send_signal(signal.SIGTERM)
            try:
                service.wait(timeout=60)
            except subprocess.TimeoutExpired:
                service.kill()
            log.close()
            db.dispose()
        after = [rss for cycles, rss in samples if cycles >= WARM_UP]
        if len(after) >= 2:
            growth = after[-1] - after[0]
            per_100 = growth / max(1, samples[-1][0] - WARM_UP) * 100
            print(
                f"RSS after warm-up ({WARM_UP} cycles): {after[0]:.1f} MB; at the end: "
                f"{after[-1]:.1f} MB; growth {growth:+.1f} MB ({per_100:+.2f} MB per 100 "
                f"cycles); min {min(after):.1f}, max {max(after):.1f}"
            )
        print(f"service exit status {service.returncode}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
