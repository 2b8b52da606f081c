"""The link checker against the local test site server, on SQLite and PostgreSQL.

Every case of issue 5's "Done when": 404, 410, a soft 404, a redirect loop, a server that
fails once and recovers, 429/403 and challenge pages, a slow server, private addresses.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import event

from crawler.extract.canonical import canonicalize
from crawler.linkcheck.checker import run_link_checks
from crawler.linkcheck.records import CheckProgress, CheckReport, LinkSettings
from storage import repository
from storage.database import Database
from storage.link_records import LinkQuery, LinkView, NewLinkRef
from storage.records import NewArticle, SiteInfo
from storage.repository.links import MAX_REFS_PER_LINK
from tests.sitegen_common import PNG_1X1
from tests.sitesrv import Page, SiteServer, error_page

PAGE = "https://jjc.example.gov.cn/html/2024-06/30/content_1.htm"
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


class Clock:
    """The checker's clock, moved by the test (checks "spread over time" without sleeping)."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, hours: float) -> None:
        self.now += timedelta(hours=hours)


def settings(**changes: Any) -> LinkSettings:
    values: dict[str, Any] = {
        "allow_private_addresses": True,  # the test server is on 127.0.0.1
        "delay_seconds": 0.0,
        "retries": 0,
        "retry_delay_seconds": 0.0,
        "timeout_seconds": 5.0,
    }
    values.update(changes)
    return LinkSettings(**values)


def add_links(
    db: Database, urls: list[str], *, page: str = PAGE, site: str = "local", kind: str = "a"
) -> None:
    with db.session() as s:
        site_id = repository.sync_sites(s, [SiteInfo(site, site)])[site]
        repository.record_link_refs(
            s,
            [
                NewLinkRef(
                    url=canonicalize(u), fetch_url=u, page_url=page, site_id=site_id, kind=kind
                )
                for u in urls
            ],
            now=T0,
        )


def links(db: Database) -> dict[str, LinkView]:
    """Every link by the URL it is fetched with."""
    with db.session() as s:
        return {v.fetch_url: v for v in repository.list_links(s, LinkQuery(limit=10_000))}


def check(db: Database, clock: Clock, **changes: Any) -> CheckReport:
    return run_link_checks(db, settings(**changes), clock=clock)


def events(db: Database) -> list[tuple[str, str]]:
    with db.session() as s:
        return [(e.kind, e.url) for e in repository.link_events_since(s, 0)]


@pytest.fixture
def srv() -> Iterator[SiteServer]:
    pages = {
        "/": Page("<html><head><title>首页</title></head><body>首页</body></html>".encode()),
        "/images/logo.png": Page(PNG_1X1, content_type="image/png"),
    }
    with SiteServer(pages) as server:
        yield server


def test_each_kind_of_link_is_classified(db: Database, srv: SiteServer) -> None:
    u = srv.url
    cases = {
        u("/status/200"): ("ok", 200),
        u("/images/logo.png"): ("ok", 200),
        u("/status/404"): ("dead", 404),
        u("/status/410"): ("dead", 410),
        u("/images/gone.png"): ("dead", 404),
        u("/soft404"): ("soft_404", 200),
        u("/redirect?to=/"): ("soft_404", 200),  # a deep link sent to the home page
        u("/redirect301?to=/status/200"): ("redirected", 200),
        u("/redirect?to=/status/200"): ("ok", 200),  # temporary: nothing to report
        u("/redirect-loop/a"): ("error", 302),
        u("/status/503"): ("error", 503),
        u("/slow?ms=3000"): ("error", None),
        u("/drop"): ("error", None),
        u("/status/429"): ("blocked", 429),
        u("/status/403"): ("blocked", 403),
        u("/challenge"): ("blocked", 200),
        u("/captcha"): ("blocked", 200),
        "http://no-such-host.invalid/notice.html": ("dead", None),
    }
    add_links(db, list(cases))
    report = check(db, Clock(), timeout_seconds=0.5)
    assert report.due == report.checked == len(cases)
    got = links(db)
    assert {url: (v.status, v.http_status) for url, v in got.items()} == cases
    assert got[u("/redirect301?to=/status/200")].redirect_url == u("/status/200")
    assert got[u("/redirect?to=/")].redirect_url == u("/")
    assert got[u("/soft404")].detail == "页面不存在"
    assert "redirect loop" in got[u("/redirect-loop/a")].detail
    assert "timed out" in got[u("/slow?ms=3000")].detail
    assert got["http://no-such-host.invalid/notice.html"].detail.startswith("host not found")
    assert got[u("/challenge")].detail == "anti-bot challenge page"
    # only links that entered dead / soft_404 are news; errors and blocks are not
    broken = {url for url, (status, _) in cases.items() if status in ("dead", "soft_404")}
    assert sorted(events(db)) == sorted(("newly_dead", canonicalize(url)) for url in broken)
    assert report.newly_dead == len(broken) and report.recovered == 0
    # resources: HEAD first, GET only to confirm an error; pages: GET only
    methods = [(r.method, r.path) for r in srv.requests]
    assert ("HEAD", "/images/logo.png") in methods
    assert ("GET", "/images/logo.png") not in methods
    assert [m for m, p in methods if p == "/images/gone.png"] == ["HEAD", "GET"]
    assert [m for m, p in methods if p == "/status/404"] == ["GET"]
    assert srv.errors == []


def test_fails_once_then_recovers_is_never_dead(db: Database, srv: SiteServer) -> None:
    clock = Clock()
    add_links(db, [srv.url("/flaky/a?fail=1"), srv.url("/flaky/b?fail=1")])
    # without retries the first check sees the 503: an error, nothing more
    check(db, clock)
    assert {v.status for v in links(db).values()} == {"error"}
    clock.advance(2)  # due again (suspect links are re-checked after an hour)
    check(db, clock)
    assert {v.status for v in links(db).values()} == {"ok"}
    assert events(db) == []
    # with a retry inside the check, the hiccup is not even an error
    add_links(db, [srv.url("/flaky/c?fail=1")])
    check(db, clock, retries=1)
    assert links(db)[srv.url("/flaky/c?fail=1")].status == "ok"
    assert srv.count("/flaky/c") == 2


def test_an_error_is_dead_only_after_n_checks_spread_over_time(
    db: Database, srv: SiteServer
) -> None:
    srv.pages["/down"] = error_page(502)
    url = srv.url("/down")
    add_links(db, [url, srv.url("/status/429")])
    clock = Clock()
    rules = {"dead_after_failures": 3, "dead_after_hours": 24.0}
    for hours in (0, 2, 5):  # three failures in a row, but within five hours
        clock.now = T0 + timedelta(hours=hours)
        check(db, clock, **rules)
        assert links(db)[url].status == "error"
    assert links(db)[url].consecutive_failures == 3
    clock.now = T0 + timedelta(hours=30)  # the fourth, 30 hours after the first
    report = check(db, clock, **rules)
    down = links(db)[url]
    assert (down.status, down.http_status, down.failing_since) == ("dead", 502, T0)
    assert report.newly_dead == 1
    assert links(db)[srv.url("/status/429")].status == "blocked"  # blocked all along: never dead
    # back up: recovered, and the streak is over
    srv.pages["/down"] = Page(b"<html><body><p>restored</p></body></html>")
    clock.advance(200)
    report = check(db, clock, **rules)
    assert report.recovered == 1
    up = links(db)[url]
    assert (up.status, up.consecutive_failures, up.failing_since) == ("ok", 0, None)
    assert [kind for kind, _ in events(db)] == ["newly_dead", "recovered"]


def test_checks_back_off_for_healthy_links_and_tighten_for_suspect_ones(
    db: Database, srv: SiteServer
) -> None:
    add_links(db, [srv.url("/status/200"), srv.url("/status/500")])
    clock = Clock()
    check(db, clock, recheck_ok_hours=24.0, recheck_suspect_hours=1.0)
    first = links(db)
    assert first[srv.url("/status/200")].next_check_at == T0 + timedelta(hours=24)
    assert first[srv.url("/status/500")].next_check_at == T0 + timedelta(hours=1)
    clock.advance(30)
    check(db, clock, recheck_ok_hours=24.0, recheck_suspect_hours=1.0)
    second = links(db)
    assert second[srv.url("/status/200")].next_check_at == clock.now + timedelta(hours=48)
    assert second[srv.url("/status/500")].next_check_at == clock.now + timedelta(hours=2)
    # nothing is due now: no request at all
    srv.clear_log()
    assert check(db, clock).due == 0
    assert srv.count() == 0


def test_private_addresses_are_refused_unless_allowed(db: Database, srv: SiteServer) -> None:
    port = srv.base_url.rsplit(":", 1)[1]
    by_name = f"http://localhost:{port}/status/200"
    add_links(db, [srv.url("/status/200"), by_name, "ftp://127.0.0.1/file.zip"])
    clock = Clock()
    check(db, clock, allow_private_addresses=False)
    got = links(db)
    assert {v.status for v in got.values()} == {"refused"}
    assert "loopback address 127.0.0.1" in got[srv.url("/status/200")].detail
    assert "loopback name localhost" in got[by_name].detail
    assert "unsupported scheme ftp" in got["ftp://127.0.0.1/file.zip"].detail
    assert srv.count() == 0  # not one connection was made
    assert events(db) == []
    clock.advance(24 * 8)
    check(db, clock, allow_private_addresses=True)
    got = links(db)
    assert got[srv.url("/status/200")].status == got[by_name].status == "ok"


class _Counting(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_every_redirect_hop_is_checked_against_the_policy(db: Database, srv: SiteServer) -> None:
    other = ThreadingHTTPServer(("127.0.0.2", 0), _Counting)
    thread = threading.Thread(target=other.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        inner = f"http://127.0.0.2:{other.server_address[1]}/secret"
        hop = srv.url(f"/redirect?to={inner}")
        add_links(db, [hop, inner])
        # only the test server's own address is allowed
        check(db, Clock(), allow_private_addresses=False, allowed_networks=("127.0.0.1/32",))
    finally:
        other.shutdown()
        other.server_close()
        thread.join()
    got = links(db)
    assert got[hop].status == "refused"
    assert got[hop].detail == f"redirect to {inner}: loopback address 127.0.0.2"
    assert got[inner].status == "refused"
    assert _Counting.hits == 0
    assert srv.count("/redirect") == 1


class _Endless(BaseHTTPRequestHandler):
    """An HTML page that never ends (chunked, a chunk every few milliseconds)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"<p>" + "正文".encode() * 2000 + b"</p>"
        try:
            self.wfile.write(b"c\r\n<html><body>\r\n")
            for _ in range(100_000):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                time.sleep(0.001)
        except OSError:
            return

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_bodies_are_read_only_up_to_the_limit(db: Database) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/endless.html"
        add_links(db, [url])
        started = time.monotonic()
        check(db, Clock(), timeout_seconds=20.0, max_body_bytes=64 * 1024)
        elapsed = time.monotonic() - started
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert links(db)[url].status == "ok", links(db)[url].detail
    assert elapsed < 5.0  # far below the timeout: it stopped reading, it did not time out


def test_per_host_concurrency_and_delay(db: Database) -> None:
    with SiteServer({}) as a, SiteServer({}) as b:
        slow = [s.url(f"/slow?ms=400&n={n}") for s in (a, b) for n in range(4)]
        add_links(db, slow)
        started = time.monotonic()
        check(db, Clock(), concurrent_requests_per_host=2, concurrent_requests=16)
        elapsed = time.monotonic() - started
        assert {v.status for v in links(db).values()} == {"ok"}
        # 4 links of 0.4 s per host, 2 at a time: two rounds; the two hosts in parallel
        assert 0.75 <= elapsed < 1.5
        paced = [a.url(f"/status/200?n={n}") for n in range(3)]
        add_links(db, paced)
        started = time.monotonic()
        check(db, Clock(), concurrent_requests_per_host=2, delay_seconds=0.3)
        assert time.monotonic() - started >= 0.6  # three starts, 0.3 s apart


def test_history_is_bounded_and_progress_is_reported(db: Database, srv: SiteServer) -> None:
    add_links(db, [srv.url("/status/404")])
    clock = Clock()
    seen: list[CheckProgress] = []
    for _ in range(6):
        run_link_checks(db, settings(history_per_link=3), progress=seen.append, clock=clock)
        clock.advance(24 * 8)
    with db.session() as s:
        history = repository.link_history(s, canonicalize(srv.url("/status/404")))
    assert len(history) == 3
    assert [h.checked_at for h in history] == [T0 + timedelta(hours=24 * 8 * n) for n in (5, 4, 3)]
    assert seen[-1] == CheckProgress(checked=1, total=1, broken=1, errors=0)
    assert events(db) == [("newly_dead", canonicalize(srv.url("/status/404")))]  # once


def test_two_runs_never_claim_the_same_link(db: Database) -> None:
    add_links(db, [f"https://example.gov.cn/{n}.html" for n in range(10)])
    with db.session() as s:
        first = repository.claim_due_links(s, now=T0, lease_until=T0 + timedelta(hours=6), limit=4)
    with db.session() as s:
        second = repository.claim_due_links(s, now=T0, lease_until=T0 + timedelta(hours=6))
    assert len(first) == 4 and len(second) == 6
    assert not {link.id for link in first} & {link.id for link in second}
    with db.session() as s:
        repository.release_links(s, [link.id for link in first], when=T0)
        again = repository.claim_due_links(s, now=T0, lease_until=T0 + timedelta(hours=6))
    assert sorted(link.id for link in again) == sorted(link.id for link in first)


def test_a_dead_host_port_is_an_error_not_dead(db: Database) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/notice.html"
    add_links(db, [url])
    check(db, Clock())
    got = links(db)[url]
    assert got.status == "error" and "cannot connect" in got.detail


def test_referencing_pages_are_capped_per_link(db: Database) -> None:
    nav = "https://www.ccdi.gov.cn/special/jdbg3/"
    with db.session() as s:
        site_id = repository.sync_sites(s, [SiteInfo("local", "本地")])["local"]
    for start in (0, 80):  # a site-wide link, on 160 pages crawled in two runs
        refs = [
            NewLinkRef(nav, nav, f"https://www.ccdi.gov.cn/yaowenn/{n}.html", site_id, "a")
            for n in range(start, start + 80)
        ]
        with db.session() as s:
            repository.record_link_refs(s, refs)
    with db.session() as s:
        (link,) = repository.list_links(s, LinkQuery())
    assert link.ref_count == MAX_REFS_PER_LINK
    assert len(link.refs) == 5  # a sample of the most recently seen comes with it


def test_a_link_seen_again_keeps_its_first_sight_and_takes_the_newest_url(db: Database) -> None:
    with db.session() as s:
        site_id = repository.sync_sites(s, [SiteInfo("local", "本地")])["local"]
    nav = "https://www.ccdi.gov.cn/special/"
    first = [NewLinkRef(nav, nav + "?from=a", PAGE, site_id, "a", "专题")]
    again = [
        NewLinkRef(nav, nav + "?from=b", PAGE, site_id, "img", "专题图"),
        NewLinkRef(nav + "x.html", nav + "x.html", PAGE, site_id, "a"),
    ]
    with db.session() as s:
        assert repository.record_link_refs(s, first, now=T0) == 1
    with db.session() as s:
        assert repository.record_link_refs(s, again, now=T0 + timedelta(hours=1)) == 1
    with db.session() as s:
        (link,) = [v for v in repository.list_links(s, LinkQuery()) if v.url == nav]
    assert (link.first_seen, link.last_seen) == (T0, T0 + timedelta(hours=1))
    assert link.status_since == link.next_check_at == T0 and link.status == "unchecked"
    assert link.fetch_url == nav + "?from=b"
    (ref,) = link.refs
    assert (ref.kind, ref.text, ref.last_seen) == ("img", "专题图", T0 + timedelta(hours=1))


def test_a_pages_link_references_are_one_statement_per_table(db: Database) -> None:
    # 3,000 references of a crawl were 3,000 single-row upserts on PostgreSQL (SQLAlchemy
    # batches an upsert with RETURNING only); written again, they are updated, not doubled
    with db.session() as s:
        site_id = repository.sync_sites(s, [SiteInfo("local", "本地")])["local"]
    refs = [
        NewLinkRef(f"https://www.ccdi.gov.cn/a/{n}.html", f"https://www.ccdi.gov.cn/a/{n}.html",
                   f"https://www.ccdi.gov.cn/yaowenn/{n % 7}.html", site_id, "a", f"第{n}条")
        for n in range(200)
    ]  # fmt: skip
    inserts: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO LINK_REFS"):
            inserts.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for _ in range(2):
            with db.session() as s:
                repository.record_link_refs(s, refs)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(inserts) == 2, len(inserts)
    with db.session() as s:
        assert len(repository.list_links(s, LinkQuery(limit=500))) == 200


def test_stored_articles_are_checked_and_flagged_when_gone(db: Database, srv: SiteServer) -> None:
    srv.pages["/yaowenn/202406/t20240630_1.html"] = Page("<p>通报</p>".encode())
    with db.session() as s:
        site_id = repository.sync_sites(s, [SiteInfo("local", "本地")])["local"]
        stored = {}
        for n in (1, 2):
            url = srv.url(f"/yaowenn/202406/t20240630_{n}.html")
            article = NewArticle(
                site_id=site_id,
                url=canonicalize(url),
                fetched_url=url,
                title=f"通报{n}",
                publish_time=None,
                source=None,
                author=None,
                body="正文",
            )
            stored[n] = repository.store_articles(s, [article], run_id=None)[0]
    clock = Clock(datetime.now(UTC))
    report = run_link_checks(db, settings(), site="local", clock=clock)
    assert (report.adopted, report.checked, report.articles_gone) == (2, 2, 1)
    with db.session() as s:
        up, gone = (repository.get_article(s, stored[n]) for n in (1, 2))
    assert up is not None and up.gone_at is None
    assert gone is not None and (gone.gone_at, gone.gone_status) == (clock.now, 404)
    # not adopted twice; a second check of a page still gone flags nothing new
    clock.advance(24 * 8)
    report = run_link_checks(db, settings(), clock=clock)
    assert (report.adopted, report.checked, report.articles_gone) == (0, 2, 0)


def test_host_not_found_is_not_believed_when_no_host_resolved(db: Database) -> None:
    """With a broken resolver every name fails: that must not declare every link dead."""
    url = "http://no-such-host.invalid/notice.html"
    add_links(db, [url])
    report = check(db, Clock())
    assert report.checked == 1
    got = links(db)[url]
    assert got.status == "error"
    assert "not trusted" in got.detail and got.detail.startswith("host not found")
    assert events(db) == []
