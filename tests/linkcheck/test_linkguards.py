"""The link checker on guarded sites (issue 12, item 1): real ``govwatch crawl`` and
``govwatch check-links`` processes, and the checker in-process with a moved clock, against
the test site's guarded modes.

A ccdi-style site's pages are checked with the cookies the crawl kept and the site's cookie
rule, so they answer as they do to the crawl; a guard's answer (412, a captcha page, a 521
JavaScript challenge) is ``blocked``, never ``dead``, however often it comes.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from crawler.linkcheck.classify import classify
from crawler.linkcheck.records import FetchOutcome
from tests.linkcheck.test_links import LINKS, cli, local_only
from tests.sitegen_captcha import CaptchaGuard
from tests.sitegen_ccdi import DEAD_EMBED
from tests.sitegen_challenge import ChallengeGate
from tests.sitesrv import CcdiGuard, SiteServer, build_ccdi_site

BLOCKING = {412, 420}


def _config(tmp_path: Path, srv: SiteServer, site_lines: str) -> Path:
    path = tmp_path / "govwatch.toml"
    path.write_text(
        f"""
[database]
url = "sqlite:///{tmp_path / "gw.db"}"
[crawl]
retries = 0
{LINKS}
[[sites]]
name = "guarded"
start_urls = ["{srv.url("/yaowenn/")}"]
article_url_pattern = '/\\d{{6}}/t\\d{{8}}_\\d+\\.html$'
list_link_selector = ".list_news_dl2 li a"
delay_seconds = 0
{site_lines}
""",
        encoding="utf-8",
    )
    return path


def _local_links(config: Path, srv: SiteServer) -> dict[str, dict[str, Any]]:
    out = cli(config, "links", "--status", "all", "--format", "json", "--limit", "1000")
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    return {r["url"]: r for r in rows if r["url"].startswith(srv.base_url)}


def test_a_ccdi_style_site_s_links_are_checked_with_its_cookies_and_rule(
    tmp_path: Path,
) -> None:
    site = build_ccdi_site(n_articles=20, per_page=10, body_kb=1)
    with SiteServer(site.pages, guards=[CcdiGuard()]) as srv:
        config = _config(tmp_path, srv, 'cookie_rule = "ccdi"')
        cli(config, "crawl", "guarded")
        local_only(tmp_path, srv).dispose()
        srv.clear_log()
        cli(config, "check-links")
        checked = [r for r in srv.requests if r.path != "/robots.txt"]
        links = _local_links(config, srv)

    assert len(links) > 20 and len(checked) >= len(links)
    # the guard let every check through: the crawl's kept cookies, rewritten by the rule
    assert [(r.path, r.status) for r in checked if r.status in BLOCKING] == []
    assert all("HOY_TR=" in (r.header("cookie") or "") for r in checked)
    # each link is what the site makes it: ok when it serves the page, dead when it has none
    statuses = {url.removeprefix(srv.base_url): r["status"] for url, r in links.items()}
    expected = {path: "ok" if path in site.pages else "dead" for path in statuses}
    assert statuses == expected
    assert statuses[DEAD_EMBED] == "dead" and list(statuses.values()).count("ok") > 20


def test_without_the_rule_the_guard_s_412s_are_blocked_links_never_dead(
    tmp_path: Path,
) -> None:
    site = build_ccdi_site(n_articles=5, per_page=10, body_kb=1)
    with SiteServer(site.pages, guards=[CcdiGuard()]) as srv:
        # the crawl had the rule (articles stored, links found); the checker's config not
        crawled = _config(tmp_path, srv, 'cookie_rule = "ccdi"')
        cli(crawled, "crawl", "guarded")
        db = local_only(tmp_path, srv)
        db.dispose()
        config = _config(tmp_path, srv, "")
        srv.clear_log()
        cli(config, "check-links")
        answers = [r.status for r in srv.requests if r.path != "/robots.txt"]
        links = _local_links(config, srv)
    assert 412 in answers
    statuses = {r["status"] for r in links.values()}
    assert "blocked" in statuses and "dead" not in statuses, statuses


def test_captcha_and_javascript_challenge_answers_are_never_dead(tmp_path: Path) -> None:
    from tests.linkcheck.test_links import check_now

    site = build_ccdi_site(n_articles=5, per_page=10, body_kb=1)
    with SiteServer(site.pages) as srv:
        config = _config(tmp_path, srv, "")
        cli(config, "crawl", "guarded")
        db = local_only(tmp_path, srv)
        try:
            # checks spread over days: three failures of the same kind would make them dead
            for day, guard in enumerate(
                [CaptchaGuard(), ChallengeGate(), CaptchaGuard(), ChallengeGate()], start=1
            ):
                srv.guard = guard
                report = check_now(db, later=timedelta(days=2 * day))
                assert report.checked > 5
                assert dict(report.by_status) == {"blocked": report.checked}, report.by_status
                assert report.newly_dead == 0
        finally:
            db.dispose()
        links = _local_links(config, srv)
    assert {r["status"] for r in links.values()} == {"blocked"}


def test_a_521_with_a_script_is_a_challenge_and_without_one_an_error() -> None:
    text = "<p>" + "正文内容" * 100 + "</p>"
    for body, status in [
        (f"<html><body><script>var a = 1;</script>{text}</body></html>", "blocked"),
        (f"<html><body>{text}</body></html>", "error"),
    ]:
        outcome = FetchOutcome(
            url="http://example.org/a.html",
            method="GET",
            final_url="http://example.org/a.html",
            status=521,
            content_type="text/html",
            body=body.encode(),
        )
        assert classify(outcome).status == status
