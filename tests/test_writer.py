"""A crawl's database writes on their own thread (crawler.writer): the crawl goes on while a
batch waits for the database, and nothing is lost or counted twice."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO
from tests.sitesrv import SiteServer, build_ccdi_site
from tests.test_crawl import ccdi_config, runs

ARTICLE = re.compile(r"/\d{6}/t\d{8}_\d+\.html$")


def start_crawl(config: Path) -> subprocess.Popen[str]:
    """``govwatch crawl local`` in a real process, its output captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "scheduler", "--config", str(config), "crawl", "local"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def articles_fetched(srv: SiteServer) -> int:
    return sum(1 for r in list(srv.requests) if ARTICLE.search(r.path))


def test_the_crawl_goes_on_while_a_batch_waits_for_a_locked_database(tmp_path: Path) -> None:
    # 120 articles: batches of 50 are written at 50 and 100.  The test holds SQLite's write
    # lock from the crawl's first request on: a batch written on the reactor's thread stopped
    # the whole crawl there until the lock went (or its 30 s busy timeout, then an error per
    # article); on the writer's thread the crawl fetches every page meanwhile.
    site = build_ccdi_site(n_articles=120, per_page=20)
    with SiteServer(site.pages) as srv:
        config = ccdi_config(tmp_path, srv, max_list_pages="10")
        init = subprocess.run(
            [sys.executable, "-m", "scheduler", "--config", str(config), "init"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert init.returncode == 0, init.stderr
        crawl = start_crawl(config)
        lock = sqlite3.connect(tmp_path / "gw.db", isolation_level=None)
        try:
            deadline = time.monotonic() + 60
            while not srv.requests and time.monotonic() < deadline:
                time.sleep(0.01)
            lock.execute("BEGIN IMMEDIATE")  # no writer gets in from here
            locked_at = time.monotonic()

            while articles_fetched(srv) < 120 and time.monotonic() - locked_at < 20:
                time.sleep(0.05)
            fetched = articles_fetched(srv)
            assert fetched == 120, f"only {fetched} articles fetched while a write waited"
            assert crawl.poll() is None  # it waits for its batches, it does not give them up
        finally:
            if lock.in_transaction:
                lock.execute("ROLLBACK")
            lock.close()
        out, err = crawl.communicate(timeout=120)
    assert crawl.returncode == 0, err[-3000:]
    assert "120 new, 0 errors" in out, out
    ((outcome, _lists, article_pages, new, errors, _message),) = runs(tmp_path)
    assert (outcome, article_pages, new, errors) == ("succeeded", 120, 120, 0)
    with sqlite3.connect(tmp_path / "gw.db") as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT url) FROM articles").fetchone() == (
            120,
            120,
        )


def children(pid: int, name: str) -> list[int]:
    """The child processes of ``pid`` named ``name`` (``govwatch-worker``, ``govwatch-db``)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return [p for p in found if Path(f"/proc/{p}/comm").read_text().strip() == name]


def crawl_killing(
    config: Path, srv: SiteServer, name: str, *, after: int
) -> tuple[subprocess.Popen[str], str, str]:
    """``govwatch crawl local`` whose child ``name`` is SIGKILLed once ``after`` articles were
    fetched: the ended crawl, its output and its error output."""
    crawl = start_crawl(config)
    deadline = time.monotonic() + 60
    while articles_fetched(srv) < after and time.monotonic() < deadline:
        time.sleep(0.01)
    (child,) = children(crawl.pid, name)
    os.kill(child, signal.SIGKILL)
    out, err = crawl.communicate(timeout=120)
    return crawl, out, err


def test_a_killed_extraction_worker_leaves_its_pages_to_the_crawl_process(
    tmp_path: Path,
) -> None:
    # The worker's answers come back to the reactor as Deferreds; when the worker dies, the
    # page it held and every later one are extracted in the crawl process: nothing lost.
    site = build_ccdi_site(n_articles=120, per_page=20)
    with SiteServer(site.pages) as srv:
        config = ccdi_config(tmp_path, srv, max_list_pages="10", extra="extract_workers = 1")
        crawl, out, err = crawl_killing(config, srv, "govwatch-worker", after=10)
    assert crawl.returncode == 0, err[-3000:]
    assert "extraction worker failed" in err
    assert "120 new, 0 errors" in out, out
    with sqlite3.connect(tmp_path / "gw.db") as conn:
        assert conn.execute("SELECT count(DISTINCT url) FROM articles").fetchone() == (120,)
