"""End to end: ``govwatch crawl`` (a real subprocess) against a local 纪委-style site."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.sitesrv import (
    CcdiSite,
    Page,
    SiteServer,
    build_ccdi_site,
    build_cq_site,
    challenge_page,
)


def ccdi_config(tmp_path: Path, srv: SiteServer, *, extra: str = "", **site: str) -> Path:
    values = {
        "start_urls": f'["{srv.url("/yaowenn/")}"]',
        "max_list_pages": "5",
        "list_link_selector": '".list_news_dl2 li a"',
    }
    values.update(site)
    lines = "\n".join(f"{k} = {v}" for k, v in values.items())
    path = tmp_path / "govwatch.toml"
    path.write_text(
        f"""
[database]
url = "sqlite:///{tmp_path / "gw.db"}"

[crawl]
retries = 1
retry_backoff_seconds = 0
timeout_seconds = 10
{extra}

[[sites]]
name = "local"
title = "本地纪委"
article_url_pattern = '/\\d{{6}}/t\\d{{8}}_\\d+\\.html$'
delay_seconds = 0
{lines}
[sites.selectors]
title = "h2.tit"
publish_time = ".daty_con .e2"
source = ".daty_con .e1"
body = "div.content"
""",
        encoding="utf-8",
    )
    return path


def articles(config: Path, *args: str) -> list[dict[str, Any]]:
    result = run_cli(
        "--config", str(config), "articles", "--format", "json", "--limit", "500", *args
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def runs(tmp_path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(tmp_path / "gw.db") as conn:
        return conn.execute(
            "SELECT outcome, list_pages, article_pages, articles_new, error_count, message"
            " FROM crawl_runs ORDER BY id"
        ).fetchall()


@pytest.fixture
def ccdi() -> Iterator[tuple[CcdiSite, SiteServer]]:
    site = build_ccdi_site(n_articles=23, per_page=10, gbk_every=5)
    with SiteServer(site.pages) as srv:
        yield site, srv


def test_crawl_stores_every_article_with_its_fields(
    tmp_path: Path, ccdi: tuple[CcdiSite, SiteServer]
) -> None:
    site, srv = ccdi
    config = ccdi_config(tmp_path, srv)
    result = run_cli("--config", str(config), "crawl", "local")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "local: succeeded" in result.stdout
    assert "23 new" in result.stdout
    stored = {a["title"]: a for a in articles(config)}
    assert len(stored) == 23
    for fake in site.articles:
        got = stored[fake.title]
        assert datetime.fromisoformat(got["publish_time"]) == fake.publish_time
        assert got["publish_time"].endswith("+08:00")
        assert got["source"] == fake.source
        assert got["url"] == srv.url(fake.path)
        body = got["body"]
        assert body.split("\n")[0].strip() == fake.paragraphs[0].strip()
        assert all(p.strip() in body for p in fake.paragraphs)
        assert "备案序号" not in body and "主办单位" not in body
    assert runs(tmp_path) == [("succeeded", 3, 23, 23, 0, "")]
    # robots.txt was asked once, each list page and each article once
    assert srv.count("/robots.txt") == 1
    assert srv.count("/yaowenn/2") == 23


def test_second_crawl_stores_nothing_and_fetches_no_article(
    tmp_path: Path, ccdi: tuple[CcdiSite, SiteServer]
) -> None:
    site, srv = ccdi
    config = ccdi_config(tmp_path, srv)
    assert run_cli("--config", str(config), "crawl", "local").returncode == 0
    srv.clear_log()
    result = run_cli("--config", str(config), "crawl", "local")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 new" in result.stdout
    assert len(articles(config)) == 23
    assert srv.count("/yaowenn/2") == 0  # no article page fetched again
    # a new article on top is picked up alone
    new = site.add_article(title="新发布的审查调查通报")
    srv.clear_log()
    result = run_cli("--config", str(config), "crawl", "local")
    assert "1 new" in result.stdout, result.stdout
    assert srv.count("/yaowenn/2") == 1
    assert articles(config, "--search", "审查调查通报")[0]["url"] == srv.url(new.path)


def test_dead_article_link_makes_a_partial_run(
    tmp_path: Path, ccdi: tuple[CcdiSite, SiteServer]
) -> None:
    site, srv = ccdi
    gone = site.articles[3]
    site.pages[gone.path] = Page(b"<h1>404 Not Found</h1>", status=404)
    config = ccdi_config(tmp_path, srv)
    result = run_cli("--config", str(config), "crawl", "local")
    assert result.returncode == 1
    assert "local: partial" in result.stdout and "HTTP 404" in result.stdout
    assert "Traceback" not in result.stderr
    assert len(articles(config)) == 22
    with sqlite3.connect(tmp_path / "gw.db") as conn:
        errors = conn.execute("SELECT url, status, kind FROM crawl_errors").fetchall()
    assert errors == [(srv.url(gone.path), 404, "http")]


def test_unreachable_site_is_a_failed_run_not_a_traceback(tmp_path: Path) -> None:
    with SiteServer({}) as srv:
        dead_url = srv.url("/yaowenn/")
    # the server is stopped: its port refuses connections
    config = ccdi_config(tmp_path, srv, start_urls=f'["{dead_url}"]')
    result = run_cli("--config", str(config), "crawl", "--all")
    assert result.returncode == 1
    assert "local: failed" in result.stdout
    assert "Traceback" not in result.stderr
    (run,) = runs(tmp_path)
    assert run[0] == "failed" and "no list page could be fetched" in run[5]


def test_challenge_page_is_blocked_not_stored(tmp_path: Path) -> None:
    site = build_ccdi_site(n_articles=3)
    with SiteServer(site.pages) as srv:
        site.pages[site.articles[0].path] = challenge_page()
        # cookie replay only: its HOY_TR cookie is replayed once, then the page is blocked
        # (under "auto" the browser would try it next, for its whole timeout)
        config = ccdi_config(tmp_path, srv, challenge='"replay"')
        result = run_cli("--config", str(config), "crawl", "local")
    assert result.returncode == 1
    assert len(articles(config)) == 2
    with sqlite3.connect(tmp_path / "gw.db") as conn:
        kinds = [k for (k,) in conn.execute("SELECT kind FROM crawl_errors")]
    assert kinds == ["blocked"]


def test_selector_drift_is_a_warning(tmp_path: Path, ccdi: tuple[CcdiSite, SiteServer]) -> None:
    _, srv = ccdi
    config = ccdi_config(tmp_path, srv, list_link_selector='".old_layout li a"')
    result = run_cli("--config", str(config), "crawl", "local")
    assert result.returncode == 0  # a warning run worked: status shows the warning
    assert "local: warning" in result.stdout
    assert "list_link_selector '.old_layout li a' matched no links" in result.stdout
    assert "(on 3 of 3 list pages)" in result.stdout
    # it still found the articles (and, with every link, a few from other columns too)
    assert {a["title"] for a in articles(config)} >= {a.title for a in ccdi[0].articles}


def test_cq_site_generic_pagination_and_dead_embed(tmp_path: Path) -> None:
    site = build_cq_site(n_articles=8, per_page=5)
    with SiteServer(site.pages) as srv:
        config = tmp_path / "cq.toml"
        config.write_text(
            f"""
[database]
url = "sqlite:///{tmp_path / "gw.db"}"
[[sites]]
name = "cq"
start_urls = ["{srv.url(site.start_path)}"]
article_url_pattern = '/html/\\d{{4}}-\\d{{2}}/\\d{{2}}/content_\\d+\\.htm$'
list_link_selector = "#list ul li h1 a"
pagination_selector = ".pages li"
delay_seconds = 0
""",
            encoding="utf-8",
        )
        result = run_cli("--config", str(config), "crawl", "cq")
    assert result.returncode == 0, result.stdout + result.stderr
    stored = {a["title"]: a for a in articles(config)}
    assert len(stored) == 8
    for fake in site.articles:
        got = stored[fake.title]
        assert got["source"] == fake.source
        assert datetime.fromisoformat(got["publish_time"]) == fake.publish_time
        assert "404 Not Found" not in got["body"] and "nginx" not in got["body"]
        assert "Baidu" not in got["body"] and "所在位置" not in got["body"]


def test_crawl_twice_on_each_backend(tmp_path: Path, database_url: str) -> None:
    site = build_ccdi_site(n_articles=12, per_page=5)
    with SiteServer(site.pages) as srv:
        config = ccdi_config(tmp_path, srv)
        env = {"GOVWATCH_DATABASE_URL": database_url}
        first = run_cli("--config", str(config), "crawl", "local", env=env)
        assert first.returncode == 0, first.stdout + first.stderr
        second = run_cli("--config", str(config), "crawl", "local", env=env)
        assert second.returncode == 0, second.stdout + second.stderr
        # the list page had not changed: one conditional request, answered 304
        assert "1 pages (1 list, 1 not modified), 0 articles found, 0 new" in second.stdout
        listed = run_cli("--config", str(config), "articles", "--format", "json", env=env)
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert sorted(r["title"] for r in rows) == sorted(a.title for a in site.articles)


def test_extraction_in_a_worker_process_or_in_the_crawl_gives_the_same_articles(
    tmp_path: Path,
) -> None:
    site = build_ccdi_site(n_articles=8, per_page=5, gbk_every=3)
    stored: list[list[tuple[str, str, str]]] = []
    found: list[list[str]] = []  # the search index: its terms computed in the worker or not
    word = site.articles[0].title[2:4]
    with SiteServer(site.pages) as srv:
        for workers in (0, 1):
            workdir = tmp_path / f"w{workers}"
            workdir.mkdir()
            config = ccdi_config(workdir, srv, extra=f"extract_workers = {workers}")
            result = run_cli("--config", str(config), "crawl", "local")
            assert result.returncode == 0, result.stdout + result.stderr
            stored.append(
                sorted((a["title"], a["publish_time"], a["body"]) for a in articles(config))
            )
            search = run_cli(
                "--config", str(config), "articles", "--search", word, "--format", "json"
            )
            assert search.returncode == 0, search.stderr
            found.append([json.loads(line)["url"] for line in search.stdout.splitlines()])
    assert len(stored[0]) == 8
    assert stored[0] == stored[1]
    assert found[0] and found[0] == found[1]
