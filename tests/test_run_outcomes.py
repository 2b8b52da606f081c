"""How a crawl run ends and what ``govwatch crawl`` exits with (issue 11, items 8 and 9).

Selector drift (a configured selector matching on no page, or on under half of many) is a
warning; a few misses are counted and shown by ``status``.  ``crawl`` exits 0 for
``succeeded`` and ``warning``.  A start-URL redirect loop is an error of its run; a run left
``running`` by a dead process is closed ``interrupted`` by the next command.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from storage import repository
from storage.database import Database
from storage.migrate import upgrade
from storage.records import SiteInfo
from tests.conftest import run_cli
from tests.sitesrv import SiteServer, build_ccdi_site
from tests.test_crawl import ccdi_config


def _crawl(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = run_cli("--config", str(config), "crawl", "local", env=env)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_a_selector_missing_on_one_page_of_many_is_counted_not_a_warning(
    tmp_path: Path, database_url: str
) -> None:
    site = build_ccdi_site(n_articles=12, per_page=10, body_kb=1)
    other = site.articles[4]  # one page of another template: no h2.tit
    page = site.pages[other.path]
    site.pages[other.path] = dataclasses.replace(
        page, body=page.body.replace(b'<h2 class="tit">', b'<h2 class="headline">')
    )
    env = {"GOVWATCH_DATABASE_URL": database_url}
    with SiteServer(site.pages) as srv:
        config = ccdi_config(tmp_path, srv)
        result = _crawl(config, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "local: succeeded" in result.stdout, result.stdout
    status = run_cli("--config", str(config), "status", env=env)
    miss = "title selector 'h2.tit' matched nothing (on 1 of 12 article pages)"
    assert miss in status.stdout, status.stdout
    assert "local: last run:" not in status.stdout  # not a warning
    as_json = run_cli("--config", str(config), "status", "--format", "json", env=env)
    data = json.loads(as_json.stdout)
    (local,) = data["sites"]
    assert local["last_run"]["selector_misses"] == [miss]
    assert local["last_run"]["warnings"] == []


def test_a_selector_that_matches_on_no_page_is_drift_a_warning_exit_0(
    tmp_path: Path, database_url: str
) -> None:
    site = build_ccdi_site(n_articles=6, per_page=10, body_kb=1)
    env = {"GOVWATCH_DATABASE_URL": database_url}
    with SiteServer(site.pages) as srv:
        config = ccdi_config(tmp_path, srv)
        drifted = config.read_text(encoding="utf-8").replace('"h2.tit"', '"h1.gone"')
        config.write_text(drifted, encoding="utf-8")
        result = _crawl(config, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "local: warning" in result.stdout, result.stdout
    assert "title selector 'h1.gone' matched nothing (on 6 of 6 article pages)" in result.stdout
    status = run_cli("--config", str(config), "status", env=env).stdout
    assert "local: last run: selector drift: title selector 'h1.gone'" in status, status


def test_a_partial_run_exits_1(tmp_path: Path) -> None:
    site = build_ccdi_site(n_articles=3, per_page=10, body_kb=1)
    del site.pages[site.articles[0].path]  # 404
    with SiteServer(site.pages) as srv:
        result = _crawl(ccdi_config(tmp_path, srv), {})
    assert result.returncode == 1 and "local: partial" in result.stdout


def test_a_start_url_redirect_loop_is_an_error_of_the_run(
    tmp_path: Path, database_url: str
) -> None:
    env = {"GOVWATCH_DATABASE_URL": database_url}
    with SiteServer({}) as srv:
        config = ccdi_config(tmp_path, srv, start_urls=f'["{srv.url("/redirect-loop/a")}"]')
        result = _crawl(config, env)
    assert result.returncode == 1
    assert "local: failed" in result.stdout and "redirect loop" in result.stdout, result.stdout
    db = Database(database_url)
    try:
        with db.session() as session:
            errors = session.execute(text("SELECT url, kind, message FROM crawl_errors")).all()
    finally:
        db.dispose()
    assert len(errors) == 1, errors
    url, kind, message = errors[0]
    assert kind == "redirect" and "redirect loop" in message
    assert url == srv.url("/redirect-loop/a")  # the start URL, not the last hop


def test_a_run_left_running_by_a_dead_process_is_closed_by_the_next_command(
    tmp_path: Path, database_url: str
) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid belongs to no process now
    db = Database(database_url)
    upgrade(db)
    try:
        with db.session() as session:
            site_id = repository.sync_sites(session, [SiteInfo("local", "本地纪委")])["local"]
            host = socket.gethostname()
            stale = repository.start_run(session, site_id, pid=dead.pid, host=host)
            alive = repository.start_run(session, site_id, pid=os.getpid(), host=host)
            elsewhere = repository.start_run(session, site_id, pid=dead.pid, host="other-host")
        with SiteServer({}) as srv:
            config = ccdi_config(tmp_path, srv)
        env = {"GOVWATCH_DATABASE_URL": database_url}
        assert run_cli("--config", str(config), "sites", env=env).returncode == 0
        with db.session() as session:
            runs = {
                r.id: (r.outcome, r.message)
                for r in (repository.get_run(session, i) for i in (stale, alive, elsewhere))
                if r is not None
            }
    finally:
        db.dispose()
    assert runs[stale][0] == "interrupted" and f"pid {dead.pid}" in runs[stale][1]
    assert runs[alive] == ("running", "")  # its process (this one) is alive
    assert runs[elsewhere] == ("running", "")  # a pid of another host means nothing here
