"""End to end: incremental crawls and dedupe through ``govwatch`` (a real subprocess).

Against local 纪委-style sites (``tests/sitesrv.py``), whose pages carry ETag and
Last-Modified and answer conditional requests with 304.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.sitegen_cq import SAMPLE_PARAGRAPHS, SAMPLE_TITLE
from tests.sitesrv import CcdiSite, Page, SiteServer, build_ccdi_site, build_cq_site
from tests.test_crawl import articles, ccdi_config


def crawl(config: Path, *sites: str) -> str:
    result = run_cli("--config", str(config), "crawl", *sites)
    assert "Traceback" not in result.stderr
    return result.stdout + result.stderr


def article_paths(srv: SiteServer, site: CcdiSite) -> list[str]:
    """Paths of article pages requested (list and asset pages left out)."""
    paths = {a.path for a in site.articles}
    return [r.path for r in srv.requests if r.path in paths]


@pytest.fixture
def two_channels() -> Iterator[tuple[CcdiSite, CcdiSite, SiteServer]]:
    """Two ccdi channels on one host: two start URLs of one site."""
    yaowen = build_ccdi_site(n_articles=23, per_page=10)
    scdc = build_ccdi_site(n_articles=12, per_page=5, channel="scdcn")
    pages = dict(scdc.pages)
    pages.update(yaowen.pages)
    yaowen.pages, scdc.pages = pages, pages  # both edit the served dict from now on
    with SiteServer(pages) as srv:
        yield yaowen, scdc, srv


def two_start_urls(tmp_path: Path, srv: SiteServer, **site: str) -> Path:
    urls = f'["{srv.url("/yaowenn/")}", "{srv.url("/scdcn/")}"]'
    return ccdi_config(tmp_path, srv, start_urls=urls, **site)


def test_second_crawl_of_an_unchanged_site_asks_only_for_the_first_list_pages(
    tmp_path: Path, two_channels: tuple[CcdiSite, CcdiSite, SiteServer]
) -> None:
    _, _, srv = two_channels
    config = two_start_urls(tmp_path, srv)
    first = crawl(config, "local")
    assert "35 new" in first, first
    srv.clear_log()
    second = crawl(config, "local")
    assert "local: succeeded" in second, second
    assert "2 pages (2 list, 2 not modified), 0 articles found, 0 new" in second
    # at most one request per start URL, plus robots.txt
    assert sorted(r.path for r in srv.requests) == ["/robots.txt", "/scdcn/", "/yaowenn/"]
    for request in srv.requests:
        if request.path != "/robots.txt":
            assert request.header("if-none-match"), request
            assert request.status == 304
    assert len(articles(config)) == 35


def test_without_validators_pagination_stops_at_a_page_of_known_articles(
    tmp_path: Path, two_channels: tuple[CcdiSite, CcdiSite, SiteServer]
) -> None:
    _, _, srv = two_channels
    config = two_start_urls(tmp_path, srv, conditional_requests="false")
    crawl(config, "local")
    srv.clear_log()
    second = crawl(config, "local")
    assert "0 new" in second, second
    assert sorted(r.path for r in srv.requests) == ["/robots.txt", "/scdcn/", "/yaowenn/"]
    assert all(r.header("if-none-match") is None for r in srv.requests)
    # stop_at_known_page = false: every list page again (3 + 3), still no article page
    srv.clear_log()
    config = two_start_urls(tmp_path, srv, conditional_requests="false", stop_at_known_page="false")
    crawl(config, "local")
    assert srv.count("/yaowenn/index_") == 2 and srv.count("/scdcn/index_") == 2
    assert srv.count("/yaowenn/2") == 0 and srv.count("/scdcn/2") == 0


def test_new_articles_on_top_are_fetched_without_refetching_old_ones(tmp_path: Path) -> None:
    site = build_ccdi_site(n_articles=23, per_page=10)
    with SiteServer(site.pages) as srv:
        config = ccdi_config(tmp_path, srv)
        crawl(config, "local")
        new = [site.add_article(title=f"新发布的第{i}篇通报") for i in (1, 2)]
        srv.clear_log()
        out = crawl(config, "local")
        assert "2 new" in out, out
        assert sorted(article_paths(srv, site)) == sorted(a.path for a in new)
        # page 2 holds only stored articles: page 3 is not asked for
        lists = [r.path for r in srv.requests if r.path.startswith("/yaowenn/index")]
        assert [r.path for r in srv.requests if r.path == "/yaowenn/"] == ["/yaowenn/"]
        assert lists == ["/yaowenn/index_1.html"]
    assert len(articles(config)) == 25


def test_articles_that_failed_are_retried_by_the_next_run(tmp_path: Path) -> None:
    site = build_ccdi_site(n_articles=8, per_page=10)
    broken = site.articles[2]
    good = site.pages[broken.path]
    with SiteServer(site.pages) as srv:
        site.pages[broken.path] = Page(b"<h1>503</h1>", status=503)
        config = ccdi_config(tmp_path, srv)
        assert "local: partial" in crawl(config, "local")
        site.pages[broken.path] = good
        srv.clear_log()
        out = crawl(config, "local")
        # the list page was not taken as "not modified": its validators were not saved
        assert "1 new" in out, out
        assert article_paths(srv, site) == [broken.path]
        srv.clear_log()
        assert "1 not modified" in crawl(config, "local")
    assert len(articles(config)) == 8


def test_edited_article_is_updated_with_its_revision_counted(tmp_path: Path) -> None:
    site = build_ccdi_site(n_articles=12, per_page=10)
    with SiteServer(site.pages) as srv:
        config = ccdi_config(tmp_path, srv, recheck_days="36500")
        crawl(config, "local")
        before = {a["title"]: a for a in articles(config)}
        edited = site.edit_article(3)
        srv.clear_log()
        out = crawl(config, "local")
        assert "1 edited" in out and "0 new" in out, out
        # every stored article re-checked conditionally; only the edited one came back
        statuses = {r.path: r.status for r in srv.requests if r.path in before_paths(site)}
        assert len(statuses) == 12
        assert statuses.pop(edited.path) == 200
        assert set(statuses.values()) == {304}
    after = {a["title"]: a for a in articles(config)}
    assert len(after) == 12
    got = after[edited.title]
    assert got["id"] == before[edited.title]["id"]
    assert got["revision"] == 1 and got["changed_at"] is not None
    assert got["body"] != before[edited.title]["body"]
    assert all(p.strip() in got["body"] for p in edited.paragraphs)
    assert all(a["revision"] == 0 for t, a in after.items() if t != edited.title)
    shown = run_cli("--config", str(config), "show", str(got["id"]))
    assert "revision 1" in shown.stdout


def before_paths(site: CcdiSite) -> set[str]:
    return {a.path for a in site.articles}


def test_same_story_on_two_sites_is_stored_twice_and_linked_as_one(tmp_path: Path) -> None:
    cq = build_cq_site(n_articles=6, per_page=5)
    ccdi = build_ccdi_site(n_articles=5)
    # ccdi republishes the 重庆日报 story (under its own title, with its own page chrome),
    # and its copy was published first
    republished = ccdi.add_article(title="基层治理的重庆探索", paragraphs=list(SAMPLE_PARAGRAPHS))
    with SiteServer(cq.pages) as cq_srv, SiteServer(ccdi.pages) as ccdi_srv:
        config = two_sites_config(tmp_path, cq_srv, cq.start_path, ccdi_srv)
        assert "local-cq: succeeded" in crawl(config, "local-cq")
        assert "local-ccdi: succeeded" in crawl(config, "local-ccdi")
    every = articles(config, "--duplicates", "show")
    assert len(every) == 12  # stored twice: 6 + 6 rows
    by_title = {a["title"]: a for a in every}
    earliest, copy = by_title[republished.title], by_title[SAMPLE_TITLE]
    assert earliest["site"] == "local-ccdi" and earliest["duplicate_of"] is None
    assert copy["site"] == "local-cq" and copy["duplicate_of"] == earliest["id"]
    # one entry per story by default; no other article was taken for a copy
    shown = articles(config)
    assert len(shown) == 11 and copy["id"] not in {a["id"] for a in shown}
    assert [a["id"] for a in articles(config, "--duplicates", "only")] == [copy["id"]]
    text = run_cli("--config", str(config), "show", str(earliest["id"]))
    assert f"also in:    local-cq 2024-06-30 10:06 {copy['url']}" in text.stdout, text.stdout
    data = json.loads(
        run_cli("--config", str(config), "show", str(copy["id"]), "--format", "json").stdout
    )
    assert [c["id"] for c in data["also_published_by"]] == [earliest["id"]]


def two_sites_config(tmp_path: Path, cq_srv: SiteServer, cq_start: str, ccdi: SiteServer) -> Path:
    path = tmp_path / "govwatch.toml"
    path.write_text(
        f"""
[database]
url = "sqlite:///{tmp_path / "gw.db"}"

[crawl]
retries = 1
retry_backoff_seconds = 0

[[sites]]
name = "local-cq"
start_urls = ["{cq_srv.url(cq_start)}"]
article_url_pattern = '/html/\\d{{4}}-\\d{{2}}/\\d{{2}}/content_\\d+\\.htm$'
list_link_selector = "#list ul li h1 a"
pagination_selector = ".pages li"
delay_seconds = 0

[[sites]]
name = "local-ccdi"
start_urls = ["{ccdi.url("/yaowenn/")}"]
article_url_pattern = '/\\d{{6}}/t\\d{{8}}_\\d+\\.html$'
list_link_selector = ".list_news_dl2 li a"
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
