"""The web view in a real browser: Debian's Chromium driven by Playwright for Python (never a
downloaded browser), against ``govwatch serve`` over a database a real ``govwatch crawl`` of
the fake 重庆市纪委监委 site filled (its pages embed a map that answers 404), after a link
check, plus articles stored with the repository's own functions.

A screenshot of each page is saved under pytest's temporary directory (or the directory
``GOVWATCH_SCREENSHOTS`` names); the run prints where.  These tests skip only when Chromium
or Playwright is missing outside CI.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crawler.guards import browser as crawler_browser
from tests.conftest import REPO
from tests.digest_helpers import BEIJING, add_article
from tests.linkcheck.test_links import check_now, cli, local_only, write_config
from tests.sitesrv import SiteServer, build_cq_site
from tests.webdata import SCRIPT_TITLE

if crawler_browser.missing() is not None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the browser tests: {crawler_browser.missing()}", pytrace=False)
    pytest.skip("Chromium or Playwright is not installed", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright

DIGEST = """
[[digests]]
name = "discipline"
keywords = ["违纪"]
[[digests.channels]]
type = "webhook"
url = "http://127.0.0.1:9/hook"
"""


@dataclass
class Served:
    base: str
    dead_embed: str
    script_id: int
    two_char_title: str
    one_char_title: str
    shots: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("web")
    shots = Path(os.environ.get("GOVWATCH_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    shots.mkdir(parents=True, exist_ok=True)
    site = build_cq_site(n_articles=6, per_page=5)
    with SiteServer(site.pages) as srv:
        config = write_config(tmp, srv, "cq")
        config.write_text(config.read_text(encoding="utf-8") + DIGEST, encoding="utf-8")
        cli(config, "crawl", "cq")
        db = local_only(tmp, srv)
        assert check_now(db).count("dead") == 1
        soon = dt.datetime.now(BEIJING) + dt.timedelta(days=1)  # newest: first on the page
        script_id = add_article(db, 1, 9001, title=SCRIPT_TITLE, published=soon)
        two = "某区教育局原局长严重违纪违法被开除党籍"
        add_article(db, 1, 9002, title=two, published=soon - dt.timedelta(minutes=1))
        one = "鼐字只在这一篇的标题里"
        add_article(db, 1, 9003, title=one, published=soon - dt.timedelta(minutes=2))
        db.dispose()
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOVWATCH_")}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "scheduler",
                "--config",
                str(config),
                "serve",
                "--bind",
                "127.0.0.1:0",
            ],
            cwd=REPO,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stderr is not None
            line = proc.stderr.readline()  # blocks until the server listens (or exits)
            match = re.search(r"serving (http://\S+)/", line)
            assert match, line + proc.stderr.read()
            yield Served(
                base=match.group(1),
                dead_embed=srv.url("/dead-embed/map.html"),
                script_id=script_id,
                two_char_title=two,
                one_char_title=one,
                shots=shots,
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
            print(f"\nweb view screenshots: {shots}")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=crawler_browser.chromium_path(),
            headless=True,
            args=["--disable-gpu", "--no-first-run", "--disable-dev-shm-usage"],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A page, with every console error, page error and dialog recorded (none expected:
    the strict Content-Security-Policy must not break the view, and no script may run)."""
    context = chromium.new_context(viewport={"width": 1200, "height": 900}, locale="zh-CN")
    tab = context.new_page()
    problems: list[str] = []
    tab.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    tab.on(
        "response",
        lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
    )

    def on_dialog(dialog: Any) -> None:
        problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    tab.on("dialog", on_dialog)
    try:
        yield tab, problems
    finally:
        context.close()


def shoot(tab: Page, served: Served, name: str) -> None:
    tab.screenshot(path=str(served.shots / f"{name}.png"), full_page=True)


def search(tab: Page, served: Served, words: str) -> None:
    tab.goto(served.base + "/articles")
    tab.get_by_label("search").fill(words)
    tab.get_by_role("button", name="Search").click()
    tab.wait_for_url(re.compile(r"/articles\?q="))


def test_search_by_two_characters_and_by_one(served: Served, page: tuple[Page, list[str]]) -> None:
    tab, problems = page
    search(tab, served, "违纪")
    expect(tab.locator("ol.articles .title").first).to_have_text(served.two_char_title)
    shoot(tab, served, "articles-search-2-chars")
    search(tab, served, "鼐")
    titles = tab.locator("ol.articles .title")
    expect(titles).to_have_count(1)
    expect(titles.first).to_have_text(served.one_char_title)
    shoot(tab, served, "articles-search-1-char")
    tab.get_by_role("link", name=served.one_char_title).click()
    expect(tab.locator("h1")).to_have_text(served.one_char_title)
    shoot(tab, served, "article")
    assert problems == []


def test_a_script_title_shows_as_text_and_runs_nothing(
    served: Served, page: tuple[Page, list[str]]
) -> None:
    tab, problems = page
    tab.goto(served.base + "/articles")
    expect(tab.locator("ol.articles .title").first).to_have_text(SCRIPT_TITLE)
    shoot(tab, served, "articles")
    tab.goto(f"{served.base}/articles/{served.script_id}")
    expect(tab.locator("h1")).to_have_text(SCRIPT_TITLE)
    assert tab.locator("main script, main b").count() == 0
    assert tab.title() == SCRIPT_TITLE + " · govwatch"  # the script would have made it "pwned"
    shoot(tab, served, "article-script-title")
    assert problems == []


def test_the_dead_links_page_lists_the_404_embed_with_its_pages(
    served: Served, page: tuple[Page, list[str]]
) -> None:
    tab, problems = page
    tab.goto(served.base + "/links")
    row = tab.locator("table.links tbody tr").filter(has_text=served.dead_embed)
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(1)).to_have_text("dead")
    expect(row).to_contain_text("HTTP 404")
    refs = row.locator("ul.refs li a")
    assert refs.count() >= 1
    href = refs.first.get_attribute("href") or ""
    assert href.startswith("/articles/"), href  # the page is a stored article: its view
    shoot(tab, served, "links")
    refs.first.click()
    expect(tab.locator("table.links")).to_contain_text("dead")
    assert problems == []


def test_sites_and_digests_pages(served: Served, page: tuple[Page, list[str]]) -> None:
    tab, problems = page
    tab.goto(served.base + "/sites")
    expect(tab.locator("section.site-card").filter(has_text="cq").first).to_contain_text(
        "succeeded"
    )
    shoot(tab, served, "sites")
    tab.goto(served.base + "/digests")
    expect(tab.locator("main")).to_contain_text("discipline")
    shoot(tab, served, "digests")
    assert problems == []
