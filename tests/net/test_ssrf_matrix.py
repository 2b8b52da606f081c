"""Issue 11's SSRF matrix: 0 connections to internal addresses from the crawl, the link
checker and ``govwatch extract URL``, proven by the log of a listening decoy.

The decoy listens on one port of ``127.0.0.1``, ``127.0.0.2`` and ``::1`` and records every
connection it accepts.  The site the crawl starts from (and the redirector) listens on
``127.0.0.3``: its origin is allowed as the operator named it, the decoy's (another
address, or another port) is not.  Each spelling is tried directly and through a redirect.
Spellings of other internal networks (10.x, 169.254.x, 6to4, NAT64) run too: every command
runs in a subprocess whose audit hook blocks and records any connection leaving loopback
and whose resolver answers ``/etc/hosts`` names only (``tests/decoy.py``), so a broken
guard shows up as a failed test, never as traffic.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.decoy import SECRET, SECRET_PAGE, LoopbackServer, Page, run_guarded

DECOY_HOSTS = ("127.0.0.1", "127.0.0.2", "::1")
SITE_HOST = "127.0.0.3"

# Hosts that reach the decoy if a client connected where it was pointed ({port}: its port).
LOOPBACK = [
    "127.0.0.1:{port}",
    "１２７.０.０.１:{port}",
    "127。0。0。1:{port}",
    "127．0．0．1:{port}",
    "127｡0｡0｡1:{port}",
    "127․0。0。1:{port}",  # U+2024 (NFKC) mixed with U+3002 (IDNA): no mapping alone folds it
    "1２7․0｡0．1:{port}",
    "①②⑦.0.0.1:{port}",
    "𝟏𝟐𝟕.𝟎.𝟎.𝟏:{port}",
    "2130706433:{port}",
    "0177.0.0.1:{port}",
    "127.1:{port}",
    "0x7f.1:{port}",
    "0x7f000001:{port}",
    "017700000001:{port}",
    "127.0.0.1.:{port}",
    "127.000.000.001:{port}",
    "%31%32%37.0.0.1:{port}",
    "127.0.0.2:{port}",
    "127.2:{port}",
    "2130706434:{port}",
    "１２７.０.０.２:{port}",
    "127。0。0。2:{port}",
    "[::1]:{port}",
    "[0:0:0:0:0:0:0:1]:{port}",
    "[::ffff:127.0.0.1]:{port}",
    "[0:0:0:0:0:ffff:7f00:1]:{port}",
    "[::ffff:7f00:1]:{port}",
    "[::127.0.0.1]:{port}",
    "[::ffff:127.0.0.2]:{port}",
    "localhost:{port}",
    "localhost.:{port}",
    "LOCALHOST:{port}",
    "ⓛⓞⓒⓐⓛⓗⓞⓢⓣ:{port}",
    "www.localhost:{port}",
    "ccdi.gov.cn@127.0.0.1:{port}",
    "ccdi.gov.cn:80@１２７.０.０.１:{port}",
    "user:pw@2130706433:{port}",
    "127.0.0.1:{port}\\@ccdi.gov.cn",
]
# Other internal networks: refused before any connection (the audit hook would block one).
ELSEWHERE = [
    "10.0.0.1",
    "１０.０.０.１",
    "10․0。0。1",
    "169.254.169.254",
    "１６９.２５４.１６９.２５４",
    "2852039166",
    "0xa9.0xfe.0xa9.0xfe",
    "192.168.1.1",
    "172.16.0.1",
    "100.64.0.1",
    "0.0.0.0:{port}",
    "[fd00::1]",
    "[fe80::1%25eth0]",
    "[::ffff:10.0.0.1]",
    "[2002:a9fe:a9fe::1]",
    "[2002:7f00:1::]:{port}",
    "[64:ff9b::a9fe:a9fe]",
    "[64:ff9b::7f00:1]:{port}",
]


def hosts_file_name() -> list[str]:
    """A name of this machine's /etc/hosts resolving to loopback (not localhost), if any."""
    name = socket.gethostname()
    try:
        hosts = Path("/etc/hosts").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    for line in hosts.splitlines():
        fields = line.split("#")[0].split()
        if len(fields) > 1 and name in fields[1:] and fields[0].startswith("127."):
            return [name + ":{port}"]
    return []


def spellings(port: int) -> list[str]:
    hosts = LOOPBACK + hosts_file_name() + ELSEWHERE
    return [f"http://{h.format(port=port)}/art/{i}.html" for i, h in enumerate(hosts)]


def test_the_matrix_has_at_least_40_spellings() -> None:
    assert len(spellings(8080)) >= 40


@pytest.fixture
def decoy() -> Iterator[LoopbackServer]:
    with LoopbackServer(DECOY_HOSTS, default=SECRET_PAGE) as server:
        yield server


def article(title: str) -> Page:
    body = f"<p>{title}。" + "中央纪委国家监委网站讯，据通报，某地加强作风建设。" * 20 + "</p>"
    html = (
        f"<html><head><title>{title}</title></head><body><h1>{title}</h1>"
        f"<div class='info'>发布时间：2024-06-30 10:06</div><div class='content'>{body}</div>"
        "</body></html>"
    )
    return 200, {"Content-Type": "text/html; charset=utf-8"}, html.encode()


def redirect_via(site: LoopbackServer, url: str) -> str:
    return site.url(f"/r?to={quote(url, safe='')}")


def write_config(tmp_path: Path, site: LoopbackServer, **sections: str) -> Path:
    path = tmp_path / "govwatch.toml"
    path.write_text(
        f"""
[database]
url = "sqlite:///{tmp_path / "gw.db"}"

[crawl]
retries = 0
timeout_seconds = 5
extract_workers = 0
{sections.get("crawl", "")}

[links]
delay_seconds = 0
retries = 0
timeout_seconds = 5
{sections.get("links", "")}

[[sites]]
name = "local"
article_url_pattern = '/art/\\w+\\.html$'
start_urls = ["{site.url("/list")}"]
delay_seconds = 0
[sites.selectors]
title = "h1"
body = "div.content"
""",
        encoding="utf-8",
    )
    return path


def assert_untouched(decoy: LoopbackServer, blocked: list[str]) -> None:
    time.sleep(0.1)  # a connection in flight would be logged by now
    assert decoy.connections == [], f"connections reached the decoy: {decoy.connections}"
    assert blocked == [], f"connections or DNS queries left loopback: {blocked}"


def test_extract_refuses_every_redirect_to_an_internal_address(
    tmp_path: Path, decoy: LoopbackServer
) -> None:
    with LoopbackServer((SITE_HOST,), pages={"/ok": article("正常页面")}) as site:
        config = write_config(tmp_path, site)
        urls = spellings(decoy.port)
        inputs = [redirect_via(site, u) for u in urls]
        run = run_guarded(tmp_path, "--config", str(config), "extract", *inputs)
        assert_untouched(decoy, run.blocked)
        records = [json.loads(line) for line in run.result.stdout.splitlines()]
        assert len(records) == len(urls), run.result.stderr
        not_refused = [r for r in records if "refused" not in r.get("error", "")]
        assert not_refused == []
        assert run.result.returncode == 1
        # the typed URL is the operator's: its origin is fetched, internal as it is
        ok = run_guarded(tmp_path, "--config", str(config), "extract", site.url("/ok"))
        assert ok.result.returncode == 0, ok.result.stdout + ok.result.stderr
        assert json.loads(ok.result.stdout)["title"] == "正常页面"
        same_origin = run_guarded(
            tmp_path, "--config", str(config), "extract", redirect_via(site, site.url("/ok"))
        )
        assert same_origin.result.returncode == 0, same_origin.result.stdout
    assert_untouched(decoy, ok.blocked + same_origin.blocked)


def test_extract_gives_one_line_for_a_refusal(tmp_path: Path, decoy: LoopbackServer) -> None:
    with LoopbackServer((SITE_HOST,)) as site:
        config = write_config(tmp_path, site)
        target = f"http://１２７.０.０.１:{decoy.port}/secret"
        run = run_guarded(tmp_path, "--config", str(config), "extract", redirect_via(site, target))
    assert_untouched(decoy, run.blocked)
    (record,) = [json.loads(line) for line in run.result.stdout.splitlines()]
    assert record["error"].endswith(
        "refused: loopback address 127.0.0.1 (written １２７.０.０.１)"
    ), record
    assert "Traceback" not in run.result.stderr


def add_links(tmp_path: Path, config: Path, urls: list[str]) -> None:
    from crawler.extract.canonical import canonicalize
    from storage import repository
    from storage.database import Database
    from storage.link_records import NewLinkRef
    from storage.migrate import upgrade
    from storage.records import SiteInfo

    db = Database(f"sqlite:///{tmp_path / 'gw.db'}")
    upgrade(db)
    try:
        with db.session() as s:
            site_id = repository.sync_sites(s, [SiteInfo("local", "local")])["local"]
            refs = [
                NewLinkRef(
                    url=canonicalize(u) + f"#{i}",  # spellings must stay distinct links
                    fetch_url=u,
                    page_url="https://www.example.gov.cn/a.html",
                    site_id=site_id,
                    kind="a",
                )
                for i, u in enumerate(urls)
            ]
            from datetime import UTC, datetime

            repository.record_link_refs(s, refs, now=datetime.now(UTC))
    finally:
        db.dispose()


def link_states(tmp_path: Path) -> dict[str, tuple[str, str]]:
    with sqlite3.connect(tmp_path / "gw.db") as conn:
        rows = conn.execute("SELECT url, status, detail FROM links").fetchall()
    return {url: (status, detail or "") for url, status, detail in rows}


def test_link_checks_refuse_every_spelling_directly_and_through_redirects(
    tmp_path: Path, decoy: LoopbackServer
) -> None:
    with LoopbackServer((SITE_HOST,), pages={"/ok": article("正常页面")}) as site:
        config = write_config(tmp_path, site, links=f'allowed_networks = ["{SITE_HOST}/32"]')
        urls = spellings(decoy.port)
        checked = [*urls, *(redirect_via(site, u) for u in urls), site.url("/ok")]
        add_links(tmp_path, config, checked)
        run = run_guarded(tmp_path, "--config", str(config), "check-links")
        assert run.result.returncode == 0, run.result.stderr
        assert_untouched(decoy, run.blocked)
    states = link_states(tmp_path)
    assert len(states) == len(checked)
    statuses: dict[str, int] = {}
    for status, _ in states.values():
        statuses[status] = statuses.get(status, 0) + 1
    assert statuses == {"refused": 2 * len(urls), "ok": 1}, [
        (u, s) for u, s in states.items() if s[0] != "refused"
    ]


def crawl_site(decoy: LoopbackServer) -> tuple[dict[str, Page], list[str]]:
    """A list page linking to every spelling, directly and through the site's redirects."""
    urls = spellings(decoy.port)
    pages: dict[str, Page] = {"/art/ok.html": article("正常的文章")}
    links = ['<li><a href="/art/ok.html">正常的文章</a></li>']
    for i, url in enumerate(urls):
        # a URL of its own: Scrapy drops a redirect to a URL it already asked for
        pages[f"/art/r{i}.html"] = (302, {"Location": url + "?via=redirect"}, b"")
        links.append(f'<li><a href="{url}">文章 {i}</a></li>')
        links.append(f'<li><a href="/art/r{i}.html">转向 {i}</a></li>')
    html = f"<html><head><title>列表</title></head><body><ul>{''.join(links)}</ul></body></html>"
    pages["/list"] = (200, {"Content-Type": "text/html; charset=utf-8"}, html.encode())
    return pages, urls


def crawl_errors(tmp_path: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(tmp_path / "gw.db") as conn:
        return conn.execute("SELECT url, kind, message FROM crawl_errors").fetchall()


def stored_titles(tmp_path: Path) -> list[Any]:
    with sqlite3.connect(tmp_path / "gw.db") as conn:
        return [row[0] for row in conn.execute("SELECT title FROM articles")]


def test_the_crawl_refuses_every_spelling_directly_and_through_redirects(
    tmp_path: Path, decoy: LoopbackServer
) -> None:
    pages, urls = crawl_site(decoy)
    with LoopbackServer((SITE_HOST,), pages=pages) as site:
        config = write_config(tmp_path, site)
        run = run_guarded(tmp_path, "--config", str(config), "crawl", "local")
        assert_untouched(decoy, run.blocked)
        assert "Traceback" not in run.result.stderr, run.result.stderr
    assert stored_titles(tmp_path) == ["正常的文章"]
    errors = crawl_errors(tmp_path)
    kinds = {kind for _, kind, _ in errors}
    assert kinds == {"refused"}, errors
    # recorded under the URL refused: every direct link, and every redirect's target
    redirects = [e for e in errors if e[0].endswith("?via=redirect")]
    assert len(redirects) == len(urls)
    assert all(e[2].startswith(f"redirect from {site.url('/art/r')}") for e in redirects)
    assert len(errors) - len(redirects) == len(urls)


def test_the_crawl_fetches_its_own_start_origin_and_allowed_networks_only(
    tmp_path: Path, decoy: LoopbackServer
) -> None:
    pages: dict[str, Page] = {"/art/ok.html": article("正常的文章")}
    inner = decoy.url("/art/inner.html", host="127.0.0.2")
    other_port = decoy.url("/art/port.html")
    links = [f'<a href="{u}">x</a>' for u in ("/art/ok.html", inner, other_port)]
    pages["/list"] = (200, {"Content-Type": "text/html"}, f"<html>{''.join(links)}</html>".encode())
    with LoopbackServer((SITE_HOST,), pages=pages) as site:
        config = write_config(tmp_path, site, crawl='allowed_networks = ["127.0.0.2/32"]')
        run = run_guarded(tmp_path, "--config", str(config), "crawl", "local")
    assert run.blocked == []
    # 127.0.0.2 is an allowed network: fetched; 127.0.0.1 on the decoy's port is not
    assert {local for local, _ in decoy.connections} == {"127.0.0.2"}
    assert sorted(stored_titles(tmp_path)) == sorted(["正常的文章", SECRET])
    assert [(kind, url) for url, kind, _ in crawl_errors(tmp_path)] == [("refused", other_port)]


def test_meta_refreshes_and_start_url_redirects_are_judged_too(
    tmp_path: Path, decoy: LoopbackServer
) -> None:
    refresh = f"<meta http-equiv='refresh' content='0;url={decoy.url('/x.html', '127.0.0.2')}'>"
    pages: dict[str, Page] = {
        "/list": (200, {"Content-Type": "text/html"}, b"<html><a href='/art/meta.html'>m</a>"),
        "/art/meta.html": (200, {"Content-Type": "text/html"}, f"<html>{refresh}</html>".encode()),
        "/moved": (302, {"Location": decoy.url("/list", "127.0.0.2")}, b""),
    }
    with LoopbackServer((SITE_HOST,), pages=pages) as site:
        config = write_config(tmp_path, site)
        text = config.read_text(encoding="utf-8")
        both = f'start_urls = ["{site.url("/list")}", "{site.url("/moved")}"]'
        config.write_text(text.replace(f'start_urls = ["{site.url("/list")}"]', both))
        run = run_guarded(tmp_path, "--config", str(config), "crawl", "local")
        assert_untouched(decoy, run.blocked)
    errors = sorted((url, kind) for url, kind, _ in crawl_errors(tmp_path))
    assert errors == [
        (decoy.url("/list", "127.0.0.2"), "refused"),
        (decoy.url("/x.html", "127.0.0.2"), "refused"),
    ]


def test_hosts_with_control_characters_are_not_looked_up_stored_or_printed(
    tmp_path: Path,
) -> None:
    """A list page linking to ``http://evil\\x1bc.example/`` (ESC c resets a terminal) had the
    crawl ask DNS for that name and print the raw escape in ``govwatch crawl``'s summary, its
    log and the stored run message; a redirect to such a host did the same."""
    ctl_hosts = ["evil\x1bc.example", "x\x9b2Jy.example", "127.0.0.1\x1b", "a\u202eb.example"]
    links = ["/art/ok.html", "/art/r.html"] + [
        f"http://{h}/art/{i}.html" for i, h in enumerate(ctl_hosts)
    ]
    html = "".join(f'<a href="{u}">文章{i}</a>' for i, u in enumerate(links))
    pages: dict[str, Page] = {
        "/list": (200, {"Content-Type": "text/html; charset=utf-8"}, html.encode()),
        "/art/ok.html": article("正常的文章"),
        "/art/r.html": (302, {"Location": "http://evil\x1bc.example/art/r2.html"}, b""),
    }
    with LoopbackServer((SITE_HOST,), pages=pages) as site:
        config = write_config(tmp_path, site)
        run = run_guarded(tmp_path, "--config", str(config), "crawl", "local")
        shown = run_guarded(tmp_path, "--config", str(config), "status")
    assert run.blocked == []  # no DNS query for any of those names
    assert stored_titles(tmp_path) == ["正常的文章"]
    for text in (run.result.stdout, run.result.stderr, shown.result.stdout):
        assert not any(c in text for c in "\x1b\x9b\u202e"), text
    with sqlite3.connect(tmp_path / "gw.db") as conn:
        rows = conn.execute("SELECT url, message FROM crawl_errors").fetchall()
        rows += conn.execute("SELECT '', coalesce(message, '') FROM crawl_runs").fetchall()
        rows += conn.execute("SELECT url, fetch_url FROM links").fetchall()
    for row in rows:
        assert not any(c in "".join(row) for c in "\x1b\x9b\u202e"), row


def test_a_robots_txt_redirect_to_an_internal_address_is_refused(
    tmp_path: Path, decoy: LoopbackServer
) -> None:
    pages: dict[str, Page] = {
        "/robots.txt": (302, {"Location": decoy.url("/robots.txt", "127.0.0.2")}, b""),
        "/list": (200, {"Content-Type": "text/html"}, b"<html><a href='/art/ok.html'>ok</a>"),
        "/art/ok.html": article("正常的文章"),
    }
    with LoopbackServer((SITE_HOST,), pages=pages) as site:
        config = write_config(tmp_path, site, crawl="obey_robots_txt = true")
        run = run_guarded(tmp_path, "--config", str(config), "crawl", "local")
        assert_untouched(decoy, run.blocked)
    assert stored_titles(tmp_path) == ["正常的文章"]
