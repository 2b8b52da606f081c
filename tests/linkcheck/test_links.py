"""The link inventory end to end (crawl → check-links → links), and the checker's pure parts:
the address policy, the classification of one fetch, the state across checks."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crawler.linkcheck.checker import run_link_checks
from crawler.linkcheck.classify import classify, same_resource, wants_head
from crawler.linkcheck.records import CheckReport, FetchOutcome, Hop, LinkSettings, Verdict
from crawler.linkcheck.state import apply_verdict, recheck_interval
from crawler.net.ssrf import AddressPolicy, parse_networks, url_refusal
from storage import repository
from storage.database import Database
from storage.link_records import LinkToCheck
from tests.conftest import run_cli
from tests.sitegen_common import NGINX_404
from tests.sitesrv import SiteServer, build_ccdi_site, build_cq_site

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
LINKS = """
[links]
allow_private_addresses = true
delay_seconds = 0
retries = 0
timeout_seconds = 5
"""


def write_config(tmp_path: Path, srv: SiteServer, site: str) -> Path:
    if site == "cq":
        body = f"""
[[sites]]
name = "cq"
start_urls = ["{srv.url("/html/col609191.htm")}"]
article_url_pattern = '/html/\\d{{4}}-\\d{{2}}/\\d{{2}}/content_\\d+\\.htm$'
list_link_selector = "#list ul li h1 a"
pagination_selector = ".pages li"
delay_seconds = 0
"""
    else:
        body = f"""
[[sites]]
name = "ccdi"
start_urls = ["{srv.url("/yaowenn/")}"]
article_url_pattern = '/\\d{{6}}/t\\d{{8}}_\\d+\\.html$'
list_link_selector = ".list_news_dl2 li a"
delay_seconds = 0
[sites.selectors]
title = "h2.tit"
publish_time = ".daty_con .e2"
source = ".daty_con .e1"
body = "div.content"
"""
    path = tmp_path / "govwatch.toml"
    path.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "gw.db"}"\n[crawl]\nretries = 0\n{LINKS}{body}',
        encoding="utf-8",
    )
    return path


def cli(config: Path, *args: str) -> str:
    result = run_cli("--config", str(config), *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def local_only(tmp_path: Path, srv: SiteServer) -> Database:
    """The crawl's database, without the links to real sites (weibo, qq, beian …) that the
    fake pages carry: tests do not go to the internet."""
    with sqlite3.connect(tmp_path / "gw.db") as conn:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("DELETE FROM links WHERE fetch_url NOT LIKE ?", (srv.base_url + "/%",))
    return Database(f"sqlite:///{tmp_path / 'gw.db'}")


def check_now(db: Database, later: timedelta = timedelta(0)) -> CheckReport:
    """Check the due links, as if ``later`` had passed (a crawl just recorded them)."""
    settings = LinkSettings(allow_private_addresses=True, delay_seconds=0, retries=0)
    return run_link_checks(db, settings, clock=lambda: datetime.now(UTC) + later)


def test_dead_iframe_inside_articles_is_found_with_its_pages(tmp_path: Path) -> None:
    site = build_cq_site(n_articles=8, per_page=5)
    with SiteServer(site.pages) as srv:
        config = write_config(tmp_path, srv, "cq")
        cli(config, "crawl", "cq")
        db = local_only(tmp_path, srv)
        with sqlite3.connect(tmp_path / "gw.db") as conn:
            (n_links,) = conn.execute("SELECT count(*) FROM links").fetchone()
            refs = conn.execute("SELECT page_url, kind FROM link_refs").fetchall()
        assert {"a", "iframe", "link", "script"} <= {kind for _, kind in refs}
        pages = {page for page, _ in refs}
        assert any("col609191" in p for p in pages)  # list pages are in the inventory
        assert sum("content_" in p for p in pages) == 8  # and every article page
        report = check_now(db)
        assert report.checked == n_links and report.count("dead") == 1
        dead = json_lines(cli(config, "links", "--status", "dead", "--format", "json"))
    assert [d["url"] for d in dead] == [srv.url("/dead-embed/map.html")]
    (link,) = dead
    assert link["http_status"] == 404 and link["detail"] == "HTTP 404"
    assert link["page_count"] == 8 and len(link["pages"]) == 5  # the first five are listed
    assert {p["kind"] for p in link["pages"]} == {"iframe"}
    assert all("content_" in p["url"] and p["site"] == "cq" for p in link["pages"])


def test_withdrawn_article_is_flagged_not_deleted(tmp_path: Path) -> None:
    site = build_ccdi_site(n_articles=6, per_page=10)
    with SiteServer(site.pages) as srv:
        config = write_config(tmp_path, srv, "ccdi")
        cli(config, "crawl", "ccdi")
        db = local_only(tmp_path, srv)
        gone = site.remove_article(2)
        srv.clear_log()
        report = check_now(db)
        assert report.articles_gone == 1
        assert srv.count(gone.path) == 1
        stored = json_lines(cli(config, "articles", "--format", "json"))
        assert len(stored) == 6  # still there
        flagged = [a for a in stored if a["gone_at"]]
        assert [(a["url"], a["gone_status"]) for a in flagged] == [(srv.url(gone.path), 404)]
        shown = cli(config, "show", str(flagged[0]["id"]))
        assert "its page answered HTTP 404 since" in shown
        # it comes back: the flag is cleared at its next check
        site.pages[gone.path] = site.pages[site.articles[0].path]
        assert check_now(db, timedelta(days=30)).recovered >= 1
        with db.session() as s:
            article = repository.get_article(s, flagged[0]["id"])
        assert article is not None and article.gone_at is None


def test_check_links_and_links_commands(tmp_path: Path) -> None:
    site = build_ccdi_site(n_articles=3, per_page=10)
    with SiteServer(site.pages) as srv:
        config = write_config(tmp_path, srv, "ccdi")
        cli(config, "crawl", "ccdi")
        db = local_only(tmp_path, srv)
        with db.session() as s:
            total = sum(repository.count_links(s).values())
        first = cli(config, "check-links", "--site", "ccdi", "--limit", "5")
        assert first.splitlines()[0] == "checking 5 links"
        assert "checked 5 of 5 links" in first
        rest = cli(config, "check-links")
        assert f"checked {total - 5} of {total - 5} links" in rest
        newly = [int(n) for n in re.findall(r"newly dead (\d+), recovered 0", first + rest)]
        assert newly in ([1, 0], [0, 1])  # the dead embed, once
        everything = json_lines(cli(config, "links", "--status", "all", "--format", "json"))
        table = cli(config, "links")  # default: broken ones, as a table
        csv_text = cli(config, "links", "--status", "all", "--limit", "3", "--format", "csv")
        bad = run_cli("--config", str(config), "links", "--site", "nope")
    assert len(everything) == total
    assert {d["status"] for d in everything} <= {"ok", "dead", "redirected"}
    assert all(d["last_checked"] and d["since"].endswith("+00:00") for d in everything)
    lines = table.splitlines()
    assert " ".join(lines[0].split()) == "STATUS SINCE (BEIJING) LAST CHECK HTTP URL DETAIL"
    assert lines[1].startswith("dead") and srv.url("/dead-embed/x.html") in lines[1]
    assert lines[2].strip().startswith("on https://127.0.0.1:") and "[ccdi, iframe]" in lines[2]
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert len(rows) == 3 and set(rows[0]) >= {"url", "status", "since", "http_status", "pages"}
    assert bad.returncode == 2 and "unknown site 'nope'" in bad.stderr


# ---- the address policy ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "shared (CGNAT)"),  # carrier-grade NAT
        ("240.0.0.1", "reserved"),
        ("202.108.22.5", None),  # a public address
        ("2400:da00::6666", None),
    ],
)
def test_address_policy(address: str, refused: str | None) -> None:
    reason = AddressPolicy().refusal(address)
    assert (reason is None) if refused is None else (reason or "").startswith(refused)
    assert AddressPolicy(allow_private=True).refusal(address) is None


def test_allowed_networks_and_url_checks() -> None:
    policy = AddressPolicy(allowed_networks=parse_networks(["10.8.0.0/16", "127.0.0.1"]))
    assert policy.refusal("10.8.3.4") is None and policy.refusal("127.0.0.1") is None
    assert policy.refusal("10.9.0.1") == "private address 10.9.0.1"
    assert url_refusal("http://10.8.0.9/x", policy) is None
    assert url_refusal("http://[::1]:8080/", AddressPolicy()) == "loopback address ::1"
    assert url_refusal("file:///etc/passwd", policy) == "unsupported scheme file:"
    assert url_refusal("gopher://x/", policy) == "unsupported scheme gopher:"
    assert url_refusal("http:///nohost", policy) == "URL without a host"
    assert url_refusal("https://www.ccdi.gov.cn/", AddressPolicy()) is None  # names: resolver


# ---- one fetch, classified ---------------------------------------------------------------


def html(text: str, title: str = "") -> bytes:
    return f"<html><head><title>{title}</title></head><body>{text}</body></html>".encode()


def got(
    status: int | None = 200,
    body: bytes | None = None,
    *,
    url: str = "https://www.example.gov.cn/a/b/notice.html",
    hops: tuple[Hop, ...] = (),
    final: str | None = None,
    ctype: str | None = "text/html; charset=utf-8",
    failure: Any = None,
    message: str = "",
) -> Verdict:
    return classify(
        FetchOutcome(
            url=url,
            method="GET",
            hops=hops,
            final_url=final or url,
            status=status,
            content_type=ctype,
            body=body,
            failure=failure,
            message=message,
        )
    )


ARTICLE = "".join(
    f"<p>第{n}段。据中央纪委国家监委网站消息，某单位党委书记严重违纪违法，接受审查调查。</p>"
    for n in range(20)
)


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (NGINX_404, "soft_404", "404 Not Found"),
        (
            html(
                "<h1>Not Found</h1><p>The requested URL /x.html was not found on this server.</p>",
                "404 Not Found",
            ),
            "soft_404",
            "404 Not Found",
        ),
        (
            html(
                "<div id='content'><h2>404 - File or directory not found.</h2><h3>The resource "
                "you are looking for might have been removed, had its name changed, or is "
                "temporarily unavailable.</h3></div>",
                "404 - File or directory not found.",
            ),
            "soft_404",
            None,
        ),  # IIS
        (html("<div>该信息已删除</div><a href='/'>返回首页</a>", "提示"), "soft_404", None),
        (html("<p>您访问的页面不存在或已被删除！</p>", "页面不存在"), "soft_404", None),
        (
            html(ARTICLE + "<iframe src='/dead'></iframe><div>404 Not Found nginx</div>", "通报"),
            "ok",
            "HTTP 200",
        ),  # an article with a dead embed is still an article
        (html(ARTICLE, "审查调查"), "ok", "HTTP 200"),
    ],
)
def test_soft_404_pages(body: bytes, status: str, detail: str | None) -> None:
    verdict = got(200, body)
    assert verdict.status == status
    if detail is not None:
        assert verdict.detail == detail


def test_statuses_and_failures() -> None:
    assert got(404, NGINX_404).status == "dead"  # an error status stays dead, not soft
    assert got(410, b"").status == "dead"
    for blocked in (401, 403, 412, 420, 429):
        assert got(blocked, b"").status == "blocked"
    challenge = b"<html><body><script>document.cookie='HOY_TR=1';location.reload()</script>"
    assert got(503, challenge).status == "blocked"  # a WAF challenge served as 503
    assert (got(503, b"").status, got(503, b"").http_status) == ("error", 503)
    assert got(400, b"").status == "error"
    assert got(200, b"\x89PNG", ctype="image/png").status == "ok"
    assert got(None, failure="timeout", message="timed out after 5s").status == "error"
    assert got(None, failure="dns_not_found", message="host not found: x").status == "dead"
    assert got(None, failure="dns", message="DNS lookup failed").status == "error"
    assert got(None, failure="refused", message="loopback address").status == "refused"
    loop = got(None, hops=(Hop(302, "a", "b"),), failure="redirect_loop", message="loop")
    assert (loop.status, loop.http_status) == ("error", 302)


def test_redirects() -> None:
    base = "https://www.example.gov.cn"
    first = f"{base}/a/b/notice.html"

    def via(status: int, final: str, code: int = 200) -> Verdict:
        return got(code, html(ARTICLE, "x"), hops=(Hop(status, first, final),), final=final)

    moved = via(301, f"{base}/new/notice.html")
    assert (moved.status, moved.redirect_url) == ("redirected", f"{base}/new/notice.html")
    assert via(308, f"{base}/new/notice.html").status == "redirected"
    assert via(302, f"{base}/new/notice.html").status == "ok"  # temporary
    assert via(301, "http://example.gov.cn/a/b/notice.html").status == "ok"  # same page
    home = via(302, f"{base}/")
    assert (home.status, home.detail) == ("soft_404", "redirected to the home page")
    assert via(301, "https://example.gov.cn/index.html").status == "soft_404"
    assert via(302, f"{base}/404.html").detail == "redirected to the error page"
    assert via(302, "https://www.other.gov.cn/").status == "ok"  # another site's home page
    assert via(301, f"{base}/gone.html", 404).status == "dead"
    assert same_resource(f"{base}/col/", "http://example.gov.cn/col/index.html")
    assert wants_head(f"{base}/attach/2024.pdf") and wants_head(f"{base}/img/a.JPG")
    assert not wants_head(f"{base}/a/b/notice.html") and not wants_head(f"{base}/col/")


# ---- the state across checks --------------------------------------------------------------


def state(status: str = "unchecked", **changes: Any) -> LinkToCheck:
    values: dict[str, Any] = {
        "id": 1,
        "url": "https://x.gov.cn/a.html",
        "fetch_url": "http://x.gov.cn/a.html",
        "status": status,
        "status_since": T0,
        "streak": 1,
        "consecutive_failures": 0,
        "failing_since": None,
    }
    values.update(changes)
    return LinkToCheck(**values)


def test_state_machine_events_and_flags() -> None:
    s = LinkSettings()
    dead = Verdict("dead", 404, "HTTP 404")
    new = apply_verdict(state(), dead, T0, s)
    assert (new.status, new.event, new.article_gone) == ("dead", "newly_dead", True)
    again = apply_verdict(state("dead", streak=1), dead, T0 + timedelta(days=1), s)
    assert (again.event, again.streak, again.status_since) == (None, 2, T0)
    # a dead link that is now blocked or failing is still dead: no false "recovered"
    for verdict in (Verdict("blocked", 403, "HTTP 403"), Verdict("error", 503, "HTTP 503")):
        kept = apply_verdict(state("dead"), verdict, T0, s)
        assert (kept.status, kept.event, kept.http_status) == ("dead", None, verdict.http_status)
    back = apply_verdict(state("soft_404"), Verdict("ok", 200, "HTTP 200"), T0, s)
    assert (back.status, back.event, back.article_gone) == ("ok", "recovered", False)
    blocked = apply_verdict(state("ok"), Verdict("blocked", 429, "HTTP 429"), T0, s)
    assert (blocked.status, blocked.event, blocked.article_gone) == ("blocked", None, None)
    soft = apply_verdict(state("ok"), Verdict("soft_404", 200, "页面不存在"), T0, s)
    assert (soft.event, soft.article_gone) == ("newly_dead", True)
    # a 5xx streak: dead only with enough failures AND enough time between first and last
    error = Verdict("error", 502, "HTTP 502")
    link = state("ok")
    times = [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=3), T0 + timedelta(hours=26)]
    seen = []
    for when in times:
        update = apply_verdict(link, error, when, s)
        seen.append((update.status, update.consecutive_failures))
        link = state(
            update.status,
            streak=update.streak,
            consecutive_failures=update.consecutive_failures,
            failing_since=update.failing_since,
        )
    assert seen == [("error", 1), ("error", 2), ("error", 3), ("dead", 4)]
    assert update.event == "newly_dead" and update.article_gone is None  # down, not withdrawn


def test_recheck_intervals() -> None:
    s = LinkSettings(
        recheck_ok_hours=24,
        recheck_suspect_hours=1,
        recheck_dead_hours=24,
        recheck_blocked_hours=12,
        recheck_max_hours=168,
    )
    hours = [recheck_interval("ok", n, 0, s) / timedelta(hours=1) for n in range(1, 6)]
    assert hours == [24, 48, 96, 168, 168]
    hours = [recheck_interval("error", 1, n, s) / timedelta(hours=1) for n in range(1, 8)]
    assert hours == [1, 2, 4, 8, 16, 24, 24]
    assert recheck_interval("blocked", 2, 0, s) == timedelta(hours=24)
    assert recheck_interval("dead", 1, 0, s) == timedelta(hours=24)
    assert recheck_interval("refused", 1, 0, s) == timedelta(hours=168)


def test_links_whose_host_holds_control_or_space_characters_are_dropped() -> None:
    from crawler.extract.links import resolve_link

    base = "https://a.gov.cn/list/"
    for href in ("http://evil\x1bc.example/", "http://a\u202eb.cn/", "//x\x9by.cn/", "http://a b/"):
        assert resolve_link(base, href) is None, href
    # userinfo and paths are percent-encoded by the clients, not refused
    assert resolve_link(base, "http://u s@b.gov.cn/x") == "http://u s@b.gov.cn/x"
    assert resolve_link(base, "http://中文.中国/a b") == "http://中文.中国/a b"
