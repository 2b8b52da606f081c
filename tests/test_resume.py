"""Resumable crawls: nothing is lost after a partial, killed or stopped crawl (issue 11).

Real ``govwatch crawl`` processes against the local 纪委-style site (``tests/sitesrv.py``), on
SQLite and PostgreSQL.  A crawl is killed at a point awaited from the database or the server's
request log, never after a sleep.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from storage.database import Database
from tests.conftest import REPO, run_cli
from tests.sitesrv import CcdiSite, SiteServer, build_ccdi_site, error_page
from tests.test_crawl import ccdi_config


class Crawls:
    """``govwatch`` commands on one config and database (given by the environment)."""

    def __init__(self, config: Path, database_url: str) -> None:
        self.config = config
        self.env = {"GOVWATCH_DATABASE_URL": database_url}
        self.db = Database(database_url)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli("--config", str(self.config), *args, env=self.env)

    def crawl(self) -> subprocess.CompletedProcess[str]:
        result = self.cli("--log-level", "INFO", "crawl", "local")
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def start_crawl(self) -> subprocess.Popen[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOVWATCH_")}
        env.update(self.env)
        argv = [sys.executable, "-m", "scheduler", "--config", str(self.config)]
        return subprocess.Popen(
            [*argv, "--log-level", "INFO", "crawl", "local"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with self.db.session() as session:
            return [tuple(row) for row in session.execute(text(sql))]

    def stored(self) -> list[str]:
        """Fetched URLs of the stored articles, one per row."""
        return [url for (url,) in self.query("SELECT fetched_url FROM articles")]

    def close(self) -> None:
        self.db.dispose()


@pytest.fixture
def crawls(tmp_path: Path, database_url: str) -> Iterator[Callable[..., Crawls]]:
    made: list[Crawls] = []

    def make(srv: SiteServer, delay: float = 0.0, **site: str) -> Crawls:
        config = ccdi_config(tmp_path, srv, **site)
        if delay:  # between requests: a crawl long enough to be stopped in the middle
            config.write_text(
                config.read_text(encoding="utf-8").replace(
                    "delay_seconds = 0\n", f"delay_seconds = {delay}\n"
                ),
                encoding="utf-8",
            )
        made.append(Crawls(config, database_url))
        return made[-1]

    yield make
    for c in made:
        c.close()


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    """Poll ``condition`` until it holds; fail if the crawl ends first."""
    deadline = time.monotonic() + 60
    while not condition():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the crawl ended before {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def article_requests(srv: SiteServer, site: CcdiSite) -> int:
    paths = {a.path for a in site.articles}
    return sum(1 for r in list(srv.requests) if r.path in paths and r.status == 200)


def assert_all_stored_once(c: Crawls, srv: SiteServer, site: CcdiSite) -> None:
    stored = c.stored()
    assert len(stored) == len(set(stored)), "an article was stored twice"
    assert sorted(stored) == sorted(srv.url(a.path) for a in site.articles)


def test_a_partial_run_is_completed_by_the_next_runs(
    crawls: Callable[..., Crawls], database_url: str
) -> None:
    site = build_ccdi_site(n_articles=40, per_page=10, body_kb=1)
    broken = site.list_paths[1]
    good = site.pages[broken]
    with SiteServer(site.pages) as srv:
        c = crawls(srv, max_list_pages="10")
        site.pages[broken] = error_page(502)  # through its retries
        first = c.crawl()
        assert first.returncode == 1 and "local: partial" in first.stdout, first.stdout
        assert len(c.stored()) == 10
        site.pages[broken] = good
        srv.clear_log()
        second = c.crawl()
        assert second.returncode == 0, second.stdout + second.stderr
        (run_1,) = c.query("SELECT min(id) FROM crawl_runs")[0]
        recovered = f"recovered 30 articles missed by run {run_1}"
        assert "local: succeeded" in second.stdout and recovered in second.stdout, second.stdout
        assert recovered in second.stderr  # the log says it too
        # page 1 (stored articles only) was walked past; no stored article fetched again
        assert srv.count("/yaowenn/index_3.html") == 1
        assert article_requests(srv, site) == 30
        assert_all_stored_once(c, srv, site)
        # the pass is complete: the next run stops at the first list page again (a 304)
        srv.clear_log()
        third = c.crawl()
        assert "1 pages (1 list, 1 not modified), 0 articles found, 0 new" in third.stdout
        assert srv.count("/yaowenn/index_") == 0


def test_an_article_that_failed_below_the_first_page_is_fetched_by_the_next_run(
    crawls: Callable[..., Crawls],
) -> None:
    # page 1 holds only stored articles on the next run: stop_at_known_page used to end there
    site = build_ccdi_site(n_articles=25, per_page=10, body_kb=1)
    victim = site.articles[15]
    good = site.pages[victim.path]
    with SiteServer(site.pages) as srv:
        c = crawls(srv)
        site.pages[victim.path] = error_page(503)
        assert "local: partial" in c.crawl().stdout
        site.pages[victim.path] = good
        srv.clear_log()
        second = c.crawl()
        assert "local: succeeded" in second.stdout, second.stdout
        assert "1 new" in second.stdout and "recovered 1 articles" in second.stdout
        assert article_requests(srv, site) == 1
        assert_all_stored_once(c, srv, site)


def test_a_killed_crawl_loses_nothing_after_the_next_two_runs(
    crawls: Callable[..., Crawls],
) -> None:
    site = build_ccdi_site(n_articles=150, per_page=10, body_kb=1)
    # killed once the first batch (50) is stored, after a random number of article fetches
    kill_after = random.randint(55, 95)
    with SiteServer(site.pages) as srv:
        c = crawls(srv, delay=0.01, max_list_pages="20")
        proc = c.start_crawl()
        wait_for(
            lambda: article_requests(srv, site) >= kill_after and len(c.stored()) >= 50,
            proc,
            f"{kill_after} article fetches and a stored batch",
        )
        proc.send_signal(signal.SIGKILL)
        # returns once every process holding the crawl's output is gone (its extraction
        # worker too: it must not outlive a killed crawl)
        proc.communicate(timeout=30)
        stored = len(c.stored())
        assert 50 <= stored < 150, stored
        # the killed run is closed by the next command that opens the site's runs
        second = c.crawl()
        assert second.returncode == 0, second.stdout + second.stderr
        outcomes = [o for (o,) in c.query("SELECT outcome FROM crawl_runs ORDER BY id")]
        assert outcomes == ["interrupted", "succeeded"], outcomes
        third = c.crawl()
        assert third.returncode == 0, third.stdout + third.stderr
        assert_all_stored_once(c, srv, site)
        # together, the two runs fetched only what the killed one had not stored
        assert "0 new" in third.stdout


def test_sigterm_mid_crawl_flushes_the_buffered_articles(
    crawls: Callable[..., Crawls],
) -> None:
    site = build_ccdi_site(n_articles=60, per_page=10, body_kb=1)
    with SiteServer(site.pages) as srv:
        c = crawls(srv, delay=0.05, max_list_pages="10")
        proc = c.start_crawl()
        wait_for(lambda: article_requests(srv, site) >= 10, proc, "10 article fetches")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 1, out + err
        assert "local: interrupted" in out, out
        assert "Traceback" not in err, err
        flushed = [
            int(line.split("storing ")[1].split()[0])
            for line in err.splitlines()
            if "spider closing: storing" in line
        ]
        assert len(flushed) == 1 and flushed[0] > 0, err  # the buffer was written on SIGTERM
        stored = len(c.stored())
        assert 10 <= stored < 60 and stored >= flushed[0]
        second = c.crawl()
        assert second.returncode == 0, second.stdout + second.stderr
        assert_all_stored_once(c, srv, site)


def test_a_pass_never_completed_before_walks_to_max_list_pages(
    crawls: Callable[..., Crawls],
) -> None:
    """A start URL whose pass was cut short keeps walking while its pages fail."""
    site = build_ccdi_site(n_articles=30, per_page=10, body_kb=1)
    last = site.list_paths[2]
    good = site.pages[last]
    with SiteServer(site.pages) as srv:
        c = crawls(srv)
        site.pages[last] = error_page(502)
        assert "local: partial" in c.crawl().stdout
        srv.clear_log()
        assert "local: partial" in c.crawl().stdout  # still failing: walks on to it again
        assert srv.count(last) >= 1 and srv.count("/yaowenn/index_1.html") == 1
        site.pages[last] = good
        assert "recovered 10 articles" in c.crawl().stdout
        assert_all_stored_once(c, srv, site)
