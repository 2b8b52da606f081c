"""Cookie replay end to end: ``govwatch crawl`` (a real subprocess) against a ccdi-style
guarded site (``tests.sitegen_guarded``, mode a), on SQLite and PostgreSQL; per-site
identity; the configuration keys; and the guard itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scheduler.config import load_config, render_config
from storage import repository
from storage.database import Database
from storage.errors import ConfigError
from storage.records import StoredCookie
from tests.conftest import REPO, run_cli
from tests.sitegen_guarded import parse_cookie_header, rewrite
from tests.sitesrv import CcdiGuard, CcdiSite, Logged, SiteServer, build_ccdi_site

N = 60
BLOCKING = {412, 420}
BROWSER_STARTED = "govwatch browser: starting Chromium"  # crawler.guards.browser's line per start


def config_file(tmp_path: Path, database_url: str, srv: SiteServer, site_lines: str = "") -> Path:
    path = tmp_path / "govwatch.toml"
    path.write_text(
        f"""
[database]
url = "{database_url}"

[crawl]
retries = 1
retry_backoff_seconds = 0
timeout_seconds = 10

[[sites]]
name = "guarded"
start_urls = ["{srv.url("/yaowenn/")}"]
article_url_pattern = '/\\d{{6}}/t\\d{{8}}_\\d+\\.html$'
list_link_selector = ".list_news_dl2 li a"
max_list_pages = 10
delay_seconds = 0
{site_lines}
""",
        encoding="utf-8",
    )
    return path


def crawl(config: Path, expect: int = 0) -> str:
    result = run_cli("--config", str(config), "crawl", "guarded", timeout=180)
    assert result.returncode == expect, result.stdout + result.stderr
    # cookie replay alone (challenge = "auto", the default): no browser is ever started
    assert BROWSER_STARTED not in result.stderr, result.stderr
    assert "starting the browser" not in result.stdout + result.stderr
    return result.stdout


def stored_count(config: Path) -> int:
    result = run_cli("--config", str(config), "articles", "--format", "json", "--limit", "500")
    assert result.returncode == 0, result.stderr
    return len(result.stdout.splitlines())


def guarded_requests(srv: SiteServer) -> list[Logged]:
    return [r for r in srv.requests if r.path != "/robots.txt"]


@pytest.fixture
def guarded_site() -> Iterator[tuple[CcdiSite, SiteServer]]:
    site = build_ccdi_site(n_articles=N, per_page=20)
    with SiteServer(site.pages, guards=[CcdiGuard()]) as srv:
        yield site, srv


def test_ccdi_rule_gets_every_article_and_the_next_run_starts_with_stored_cookies(
    tmp_path: Path, database_url: str, guarded_site: tuple[CcdiSite, SiteServer]
) -> None:
    site, srv = guarded_site
    config = config_file(tmp_path, database_url, srv, 'cookie_rule = "ccdi"')
    crawl(config)
    assert stored_count(config) == N
    first, *later = guarded_requests(srv)
    assert first.status == 200 and first.header("cookie") is None
    assert len(later) >= N
    assert [r for r in later if r.status in BLOCKING] == []
    assert srv.errors == []
    # every later request carried the rewritten HOY_TR
    for request in later:
        hoy = parse_cookie_header(request.header("cookie") or "")["HOY_TR"]
        assert hoy.endswith(",0") and rewrite(hoy) == hoy, request.path

    db = Database(database_url)
    try:
        with db.session() as session:
            kept = {c.name: c for c in repository.live_cookies(session, ["127.0.0.1"])}
    finally:
        db.dispose()
    assert set(kept) == {"HOY_TR", "HBB_HC"}
    now = datetime.now(UTC)
    assert kept["HOY_TR"].expires_at > now + timedelta(days=360)
    assert now + timedelta(hours=23) < kept["HBB_HC"].expires_at < now + timedelta(days=2)

    # the next run: the server knows this client, so a cookieless request would get a 412
    srv.clear_log()
    site.add_article()
    crawl(config)
    assert stored_count(config) == N + 1
    requests = guarded_requests(srv)
    assert requests, "the second run asked for nothing"
    opening = parse_cookie_header(requests[0].header("cookie") or "")
    assert opening.get("HOY_TR", "").endswith(",0"), requests[0]
    assert "HBB_HC" in opening
    assert [r for r in requests if r.status in BLOCKING] == []


def test_sigterm_mid_crawl_keeps_the_cookies_and_the_next_run_goes_on(
    tmp_path: Path, database_url: str
) -> None:
    site = build_ccdi_site(n_articles=N, per_page=20, body_kb=1)
    with SiteServer(site.pages, guards=[CcdiGuard(hold_ms=20)]) as srv:
        config = config_file(tmp_path, database_url, srv, 'cookie_rule = "ccdi"')
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOVWATCH_")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "scheduler", "--config", str(config), "crawl", "guarded"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while len(guarded_requests(srv)) < 10:  # polled: the server has no event to await
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the crawl did not get going"
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert "interrupted" in out, out + err
        assert "Traceback" not in err, err
        db = Database(database_url)
        try:
            with db.session() as session:
                kept = {c.name for c in repository.live_cookies(session, ["127.0.0.1"])}
        finally:
            db.dispose()
        assert kept == {"HOY_TR", "HBB_HC"}
        srv.clear_log()
        crawl(config)
        assert stored_count(config) == N
        requests = guarded_requests(srv)
        assert "HOY_TR=" in (requests[0].header("cookie") or "")
        assert [r for r in requests if r.status in BLOCKING] == []


def test_kept_cookies_expire_and_are_replaced_per_domain(db: Database) -> None:
    now = datetime.now(UTC)
    later = now + timedelta(days=1)

    def cookie(domain: str, name: str, value: str, expires: datetime = later) -> StoredCookie:
        return StoredCookie(domain=domain, path="/", name=name, value=value, expires_at=expires)

    with db.session() as session:
        written = repository.save_cookies(
            session,
            [
                cookie("a.example", "A", "1"),
                cookie("a.example", "B", "2"),
                cookie("b.example", "C", "3"),
                cookie("b.example", "OLD", "x", now - timedelta(seconds=1)),
            ],
        )
    assert written == 4
    with db.session() as session:
        live = repository.live_cookies(session, ["a.example", "b.example", "c.example"])
    assert [(c.domain, c.name, c.value) for c in live] == [
        ("a.example", "A", "1"),
        ("a.example", "B", "2"),
        ("b.example", "C", "3"),
    ]
    assert abs(live[0].expires_at - later) < timedelta(seconds=1)
    # a run that held a.example's cookies saves its jar: B was deleted by the site
    with db.session() as session:
        repository.save_cookies(session, [cookie("a.example", "A", "9")], replace=["a.example"])
    with db.session() as session:
        live = repository.live_cookies(session, ["a.example", "b.example"])
        assert repository.live_cookies(session, ["b.example"], now=later) == []
    assert [(c.domain, c.name, c.value) for c in live] == [
        ("a.example", "A", "9"),
        ("b.example", "C", "3"),
    ]


def test_a_kept_user_agent_lives_as_long_as_its_cookies_and_is_replaced(db: Database) -> None:
    now = datetime.now(UTC)
    with db.session() as session:
        repository.save_agent(session, "a.example", "HeadlessChrome/1", now + timedelta(hours=1))
        repository.save_agent(session, "b.example", "HeadlessChrome/1", now - timedelta(hours=1))
    with db.session() as session:
        assert repository.live_agent(session, "a.example") == "HeadlessChrome/1"
        assert repository.live_agent(session, "b.example") is None  # expired
        assert repository.live_agent(session, "a.example", now + timedelta(hours=2)) is None
        repository.save_agent(session, "a.example", "HeadlessChrome/2", now + timedelta(days=1))
    with db.session() as session:
        assert repository.live_agent(session, "a.example", now + timedelta(hours=2)) == (
            "HeadlessChrome/2"
        )


def test_a_412_answer_s_cookies_carry_its_retry(
    tmp_path: Path, guarded_site: tuple[CcdiSite, SiteServer]
) -> None:
    """A client the guard has seen, with no cookies kept (a new database): the first request
    is answered 412, whose script's cookies are in the jar before the retry goes out."""
    _, srv = guarded_site
    guard = srv.guards[0]
    assert isinstance(guard, CcdiGuard)
    guard.clients_seen.add("127.0.0.1")
    config = config_file(tmp_path, f"sqlite:///{tmp_path / 'new.db'}", srv, 'cookie_rule = "ccdi"')
    crawl(config)
    assert stored_count(config) == N
    requests = guarded_requests(srv)
    assert [r.status for r in requests[:2]] == [412, 200]
    assert requests[0].path == requests[1].path == "/yaowenn/"
    assert [r for r in requests[2:] if r.status in BLOCKING] == []


def test_without_the_rule_every_page_after_the_first_is_412_and_the_run_blocked(
    tmp_path: Path, database_url: str, guarded_site: tuple[CcdiSite, SiteServer]
) -> None:
    _, srv = guarded_site
    # replay only: under "auto" a 412 that replayed cookies cannot pass goes to the browser
    config = config_file(tmp_path, database_url, srv, 'challenge = "replay"')
    out = crawl(config, expect=1)
    assert "blocked" in out and "JavaScript challenge unsolved" in out  # guard answers only
    requests = guarded_requests(srv)
    assert requests[0].status == 200  # the first cookieless request is served
    # the first list page's 20 articles and the second list page: asked, retried once
    assert sum(1 for r in requests if r.status == 412) == 2 * 21
    assert {r.status for r in requests[1:]} == {412}
    # the cookies were sent back, just not rewritten
    assert all("HOY_TR=" in (r.header("cookie") or "") for r in requests[1:])
    assert stored_count(config) == 0


def test_site_user_agent_and_headers_are_sent(tmp_path: Path) -> None:
    site = build_ccdi_site(n_articles=3, per_page=10)
    with SiteServer(site.pages) as srv:
        config = config_file(
            tmp_path,
            f"sqlite:///{tmp_path / 'gw.db'}",
            srv,
            'user_agent = "Mozilla/5.0 (X11; Linux x86_64) govwatch-test"\n'
            "[sites.headers]\n"
            'Accept-Language = "zh-CN,zh;q=0.9"\n'
            'X-Requested-By = "govwatch tests"\n',
        )
        crawl(config)
    assert stored_count(config) == 3
    pages = [r for r in srv.requests if r.path != "/robots.txt"]
    assert len(pages) >= 4
    for request in srv.requests:  # robots.txt too: the site's identity throughout
        assert request.header("user-agent") == "Mozilla/5.0 (X11; Linux x86_64) govwatch-test"
    for request in pages:
        assert request.header("accept-language") == "zh-CN,zh;q=0.9"
        assert request.header("x-requested-by") == "govwatch tests"
        assert request.header("accept", "").startswith("text/html")


def test_default_identity_is_govwatch(tmp_path: Path) -> None:
    path = tmp_path / "govwatch.toml"
    path.write_text(
        '[[sites]]\nname = "x"\nstart_urls = ["http://127.0.0.1:9/"]\n'
        "article_url_pattern = 'a'\n",
        encoding="utf-8",
    )
    (site,) = load_config(str(path), {}).sites
    assert (site.cookie_rule, site.user_agent, site.headers) == (None, None, ())
    ccdi = load_config(None, {}).site("ccdi")
    assert ccdi is not None and ccdi.cookie_rule == "ccdi"


SITE = """
[[sites]]
name = "local"
start_urls = ["http://127.0.0.1:9/list/"]
article_url_pattern = 'a'
"""


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ('cookie_rule = "nope"', "sites[0] (local).cookie_rule: unknown cookie rule; known"),
        ("cookie_rule = 1", "sites[0] (local).cookie_rule: expected a string"),
        ('user_agent = "a\\r\\nX-Evil: 1"', "sites[0] (local).user_agent: must not contain"),
        ('user_agent = " "', "sites[0] (local).user_agent: must not be empty"),
        ('headers = "x"', "sites[0] (local).headers: expected a table"),
        ('[sites.headers]\n"Bad Name" = "1"', "'Bad Name' is not a header name"),
        ('[sites.headers]\n"X-A:" = "1"', "'X-A:' is not a header name"),
        ('[sites.headers]\nX-A = "1\\r\\nX-B: 2"', "X-A: must not contain line breaks"),
        ("[sites.headers]\nX-A = 1", "X-A: expected a string"),
        ('[sites.headers]\nCookie = "a=b"', "'Cookie' cannot be set here"),
        ('[sites.headers]\nuser-agent = "x"', "use the site's user_agent key"),
        ('[sites.headers]\nHost = "x"', "'Host' cannot be set here"),
    ],
)
def test_bad_cookie_rule_and_headers_are_config_errors(
    tmp_path: Path, lines: str, expected: str
) -> None:
    path = tmp_path / "govwatch.toml"
    path.write_text(SITE + lines + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(str(path), {})
    assert str(info.value).startswith(f"{path}: ")
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_identity_keys_render_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "govwatch.toml"
    path.write_text(
        SITE + 'cookie_rule = "ccdi"\nuser_agent = "UA/1"\n'
        '[sites.headers]\nAccept-Language = "zh-CN"\n"X-Quote" = "a \\"b\\" c"\n',
        encoding="utf-8",
    )
    config = load_config(str(path), {})
    (site,) = config.sites
    assert site.headers == (("Accept-Language", "zh-CN"), ("X-Quote", 'a "b" c'))
    again = tmp_path / "again.toml"
    again.write_text(render_config(config), encoding="utf-8")
    assert load_config(str(again), {}).sites == config.sites


# the guard itself


def _get(srv: SiteServer, path: str, cookie: str = "") -> tuple[int, bytes]:
    request = urllib.request.Request(srv.url(path), headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_guard_serves_first_then_wants_the_rewritten_cookie() -> None:
    site = build_ccdi_site(n_articles=3, per_page=10)
    with SiteServer(site.pages, guards=[CcdiGuard()]) as srv:
        status, body = _get(srv, "/yaowenn/")
        assert status == 200 and b'document.cookie = "HOY_TR=' in body
        assert _get(srv, "/robots.txt")[0] == 200  # never guarded
        status, challenge = _get(srv, "/yaowenn/")
        assert status == 412 and b"HOY_TR=" in challenge and b"list_news" not in challenge
        from crawler.net.scriptcookies import script_cookies

        cookies = {c.name: c.value for c in script_cookies(challenge)}
        raw = f"HOY_TR={cookies['HOY_TR']}; HBB_HC={cookies['HBB_HC']}"
        assert _get(srv, "/yaowenn/", raw)[0] == 412  # not rewritten
        good = f"HOY_TR={rewrite(cookies['HOY_TR'])}; HBB_HC={cookies['HBB_HC']}"
        status, page = _get(srv, "/yaowenn/", good)
        assert status == 200 and b"list_news" in page and b"HOY_TR=" in page
        assert [r.status for r in srv.requests] == [200, 200, 412, 412, 200]


def test_guard_answers_420_to_overlapping_requests() -> None:
    site = build_ccdi_site(n_articles=3, per_page=10)
    guard = CcdiGuard(hold_ms=500)
    with SiteServer(site.pages, guards=[guard]) as srv:
        statuses: list[int] = []
        entered = threading.Event()

        def slow() -> None:
            entered.set()
            statuses.append(_get(srv, "/yaowenn/")[0])

        worker = threading.Thread(target=slow)
        worker.start()
        entered.wait(5)
        while not guard.in_flight:  # the first request is being held by the guard
            threading.Event().wait(0.005)
        overlapping = _get(srv, "/yaowenn/")[0]
        worker.join(10)
    assert statuses == [200]
    assert overlapping == 420
