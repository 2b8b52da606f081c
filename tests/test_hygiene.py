"""Hostile text and bodies: control characters, CSV formulas, binary and markup-only pages."""

from __future__ import annotations

import csv
import io
import os
import random
import sqlite3
from pathlib import Path

import pytest

from crawler.extract.article import extract_article
from crawler.extract.errors import ExtractError
from crawler.extract.links import extract_links
from crawler.extract.pagekind import is_readable
from crawler.extract.sniff import not_html_reason
from crawler.extract.textclean import clean_text
from scheduler.output import csv_cell
from storage.database import Database
from tests.conftest import run_cli
from tests.digest_helpers import add_article, add_site
from tests.sitesrv import Page, SiteServer, build_ccdi_site
from tests.test_crawl import articles, ccdi_config

OSC_TITLE = "\x1b]0;owned\x07"  # sets the terminal's title
CLEAR = "\x1b[2J"  # clears the screen
RLO = "\u202e"  # right-to-left override: "gpj.exe" shows as "exe.jpg"
# (no NUL: PostgreSQL refuses to store one, so only the extractor's output can hold it)
HOSTILE = f"{OSC_TITLE}通报{CLEAR}标题{RLO}gpj.exe\x9b31m"
UNSAFE = ("\x1b", "\x07", "\x9b", "\x00", "\u202e", "\r")


def assert_clean(text: str) -> None:
    found = [c for c in UNSAFE if c in text]
    assert not found, f"control characters {found!r} in {text!r}"


# --- the cleaner ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("plain title", "plain title"),
        ("第一段\n\t第二段", "第一段\n\t第二段"),
        (HOSTILE, "]0;owned通报[2J标题gpj.exe31m"),
        ("NUL\x00 BEL\x07 BS\x08 ESC\x1b", "NUL BEL BS ESC"),
        ("a\r\nb\rc", "a\nb\nc"),
        ("a\x0bb\x0cc\x85d", "a\nb\nc\nd"),
        ("\u202aL\u202bR\u202cP\u202dO\u202eO\u2066I\u2067I\u2068I\u2069x\u061c", "LRPOOIIIx"),
        ("\x7fDEL\x80C1\x9f", "DELC1"),
        ("", ""),
        ("‎LRM and ZWJ‍ stay", "‎LRM and ZWJ‍ stay"),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("通报", "通报"),
        ("a=b", "a=b"),
        (12, 12),
        (None, None),
    ],
)
def test_csv_cell(cell: object, safe: object) -> None:
    assert csv_cell(cell) == safe


# --- what is HTML -------------------------------------------------------------------------


def test_random_bytes_are_not_html_whatever_the_content_type() -> None:
    noise = random.Random(7).randbytes(1 << 20)
    for content_type in ("application/octet-stream", "text/html", None, "text/plain"):
        assert not_html_reason(noise, content_type), content_type


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"%PDF-1.7\n...", "text/html"),
        (b"\x89PNG\r\n\x1a\n....", None),
        (b"PK\x03\x04....", "application/octet-stream"),
        (b"<html><body>x</body></html>", "image/png"),
        (b"<html><body>x</body></html>", "application/pdf"),
        (b"just some words, no markup at all", "application/octet-stream"),
        (b"<" * 200_000, None),
    ],
)
def test_not_html(body: bytes, content_type: str | None) -> None:
    assert not_html_reason(body, content_type)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<!DOCTYPE html><html><p>x</p></html>", "text/html"),
        (b"<html><p>x</p></html>", "application/octet-stream"),  # a misconfigured server
        (b"  <HTML><p>x</p></HTML>", None),
        (b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"/>', "text/xml"),
        ("<html><p>通报</p></html>".encode("utf-16"), "text/html"),  # BOM, NUL bytes
        ("<html><p>通报</p></html>".encode("utf-16-le"), "text/html; charset=utf-16"),
        (b"<!-- ad \x02 fields \x02 -->\n<html><p>x</p></html>", None),  # yahoo.cn's comments
        (b"<" * 200_000, "text/html"),  # left to the extractor: no readable text
        (b"var x = 1;\n" * 100 + b'<span class="t">x</span>', None),
        ("<li>只有一项</li>".encode(), "text/plain"),
        (b"", None),
    ],
)
def test_html(body: bytes, content_type: str | None) -> None:
    assert not_html_reason(body, content_type) is None


def test_is_readable() -> None:
    assert is_readable("中央纪委国家监委")
    assert is_readable("2024-06-30")
    assert not is_readable("<" * 200_000)
    assert not is_readable("——、。…… ！")
    assert not is_readable("")
    assert not is_readable(None)


# --- the extractor ------------------------------------------------------------------------


def test_extracted_fields_hold_no_control_characters() -> None:
    page = f"""<html><head><title>{HOSTILE}</title></head><body>
<h1>{HOSTILE}\x00</h1>
<div class="info">来源：{OSC_TITLE}重庆日报 作者：{CLEAR}张三 发布时间：2024-06-30 10:06</div>
<div class="content"><p>{CLEAR}基层治理是国家治理的基石，{RLO}也是全面从严治党的重要一环。</p>
<p>第二段：{OSC_TITLE}纪检监察机关持续深化整治群众身边不正之风和腐败问题。</p>
<p><a href="/x.html">{OSC_TITLE}相关链接</a></p></div></body></html>"""
    art = extract_article(page.encode(), "https://jjc.example.gov.cn/a/1.html")
    assert art.page_kind == "article"
    for value in (art.title, art.body, art.source, art.author, art.pretitle, art.subtitle):
        assert_clean(value or "")
    assert art.title and "通报" in art.title
    assert "基层治理是国家治理的基石" in art.body
    for link in art.links:
        assert_clean(link.text)


def test_link_texts_of_list_and_article_pages_hold_no_control_characters() -> None:
    page = f"""<html><body><ul><li><a href="/a/1.html">{HOSTILE}</a></li>
<li><a href="/a/2.html" title="{OSC_TITLE}x"></a></li><li><img src="/i.png" alt="{CLEAR}图"></li>
</ul></body></html>"""
    links = extract_links(page, "https://jjc.example.gov.cn/list.html")
    assert len(links) == 3
    for link in links:
        assert_clean(link.text)
    assert links[0].text == clean_text(HOSTILE)


def test_error_reason_holds_no_control_characters() -> None:
    page = f"<html><body><p>The requested URL /x{CLEAR}{OSC_TITLE} was not found</p></body></html>"
    art = extract_article(page.encode(), "https://a.example/x", content_type="text/html")
    assert art.page_kind == "error"
    assert art.error_reason and "was not found" in art.error_reason
    assert_clean(art.error_reason)


def test_page_of_angle_brackets_is_an_error_page() -> None:
    art = extract_article(b"<" * 200_000, "https://a.example/1.html", content_type="text/html")
    assert art.page_kind == "error"
    assert art.error_reason == "no title and no readable text"
    assert art.body == ""


def test_binary_body_is_not_extracted() -> None:
    with pytest.raises(ExtractError, match="not an HTML document"):
        extract_article(
            os.urandom(4096), "https://a.example/1.bin", content_type="application/octet-stream"
        )


# --- the command line on rows stored before the cleaner existed ---------------------------

CLI_CONFIG = """
[[sites]]
name = "ccdi"
title = "中央纪委国家监委网站"
start_urls = ["http://127.0.0.1:9/"]
article_url_pattern = 'a/\\d+'

[[digests]]
name = "daily"
schedule = "0 8 * * *"
[[digests.channels]]
type = "webhook"
url = "http://127.0.0.1:9/"
"""


@pytest.fixture
def hostile_rows(tmp_path: Path, db: Database, database_url: str) -> tuple[Path, dict[str, str]]:
    config = tmp_path / "govwatch.toml"
    config.write_text(CLI_CONFIG, encoding="utf-8")
    sid = add_site(db)
    add_article(db, sid, 1, title=HOSTILE, body=f"正文{CLEAR}第一段。\n{OSC_TITLE}第二段。")
    add_article(db, sid, 2, title='=HYPERLINK("http://evil.example","点此")', source="-2+3")
    add_article(db, sid, 3, title="@SUM(1+1)", source="+通报")
    return config, {"GOVWATCH_DATABASE_URL": database_url}


def test_cli_text_output_prints_no_control_characters(
    hostile_rows: tuple[Path, dict[str, str]],
) -> None:
    config, env = hostile_rows
    table = run_cli("--config", str(config), "articles", env=env)
    assert table.returncode == 0, table.stderr
    assert "通报" in table.stdout
    assert_clean(table.stdout)
    show = run_cli("--config", str(config), "show", "1", env=env)
    assert show.returncode == 0, show.stderr
    assert "第一段" in show.stdout and "第二段" in show.stdout
    assert_clean(show.stdout)
    for fmt in ("text", "html"):
        digest = run_cli(
            "--config", str(config), "digest", "daily", "--dry-run", "--format", fmt, env=env
        )
        assert digest.returncode == 0, digest.stderr
        assert "通报" in digest.stdout
        assert_clean(digest.stdout)


def test_articles_csv_quotes_formula_cells(hostile_rows: tuple[Path, dict[str, str]]) -> None:
    config, env = hostile_rows
    out = run_cli("--config", str(config), "articles", "--format", "csv", env=env)
    assert out.returncode == 0, out.stderr
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(out.stdout))}
    assert rows["2"]["title"] == '\'=HYPERLINK("http://evil.example","点此")'
    assert rows["2"]["source"] == "'-2+3"
    assert rows["3"]["title"] == "'@SUM(1+1)"
    assert rows["3"]["source"] == "'+通报"
    for row in rows.values():
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


# --- a crawl meeting hostile pages --------------------------------------------------------


def test_crawl_records_binary_and_markup_only_pages_as_errors_and_cleans_text(
    tmp_path: Path,
) -> None:
    site = build_ccdi_site(n_articles=5)
    binary, brackets, hostile = site.articles[0], site.articles[1], site.articles[2]
    assert hostile.encoding == "utf-8"
    noise = random.Random(11).randbytes(1 << 20)
    site.pages[binary.path] = Page(noise, content_type="application/octet-stream")
    site.pages[brackets.path] = Page(b"<" * 200_000, content_type="text/html")
    page = site.pages[hostile.path]
    site.pages[hostile.path] = Page(
        page.body.replace(hostile.title.encode(), (hostile.title + OSC_TITLE + CLEAR).encode()),
        content_type=page.content_type,
        headers=page.headers,
    )
    with SiteServer(site.pages) as srv:
        config = ccdi_config(tmp_path, srv)
        result = run_cli("--config", str(config), "crawl", "local")
        assert "Traceback" not in result.stderr
        stored = articles(config)
    titles = {a.title for a in site.articles[2:]} - {hostile.title}
    assert {a["title"] for a in stored} == titles | {hostile.title + "]0;owned[2J"}
    for row in stored:
        for key in ("title", "body", "source", "author", "pretitle", "subtitle", "editor"):
            assert_clean(row[key] or "")
    with sqlite3.connect(tmp_path / "gw.db") as conn:
        errors = dict(conn.execute("SELECT url, kind FROM crawl_errors").fetchall())
    assert errors == {
        srv.url(binary.path): "not_html",
        srv.url(brackets.path): "not_article",
    }


def test_list_page_that_is_not_html_is_an_error_of_the_run(tmp_path: Path) -> None:
    site = build_ccdi_site(n_articles=3)
    site.pages["/yaowenn/"] = Page(b"%PDF-1.7\n" + bytes(range(256)) * 40, content_type="")
    with SiteServer(site.pages) as srv:
        config = ccdi_config(tmp_path, srv)
        result = run_cli("--config", str(config), "crawl", "local")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert articles(config) == []
    with sqlite3.connect(tmp_path / "gw.db") as conn:
        errors = conn.execute("SELECT url, kind, message FROM crawl_errors").fetchall()
    assert errors == [(srv.url("/yaowenn/"), "not_html", "not HTML: a PDF document")]


@pytest.mark.parametrize("mark", [b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf", b"<\x00", b"\x00<"])
@pytest.mark.parametrize("content_type", ["application/octet-stream", "text/html", None])
def test_random_bytes_behind_a_byte_order_mark_are_not_html(
    mark: bytes, content_type: str | None
) -> None:
    """A BOM (or ``<`` in UTF-16) made the sniffer skip every test: 1 MB of random bytes after
    ``\\xff\\xfe`` was extracted as an "article" of half a million random characters."""
    noise = mark + random.Random(5).randbytes(1 << 20)
    assert (not_html_reason(noise, content_type) or "").startswith("binary")
    with pytest.raises(ExtractError, match="not an HTML document"):
        extract_article(noise, "https://a.example/1.bin", content_type=content_type)


@pytest.mark.parametrize(
    ("codec", "mark"),
    [
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
        ("utf-8", b"\xef\xbb\xbf"),
        ("utf-16-le", b""),
        ("utf-16-be", b""),
        ("utf-32-le", b"\xff\xfe\x00\x00"),
        ("utf-32-be", b"\x00\x00\xfe\xff"),
    ],
)
def test_real_pages_behind_a_byte_order_mark_are_still_html(codec: str, mark: bytes) -> None:
    html = "<html><head><title>通报标题</title></head><body><p>" + "正文内容。" * 400
    body = mark + html.encode(codec)
    for content_type in ("text/html", "application/octet-stream", None):
        assert not_html_reason(body, content_type) is None, (codec, content_type)
    if mark:
        text_only = mark + ("通报：正文内容。" * 300).encode(codec)  # text, no markup
        assert not_html_reason(text_only, "text/html") is None


def test_crawl_refuses_random_bytes_behind_a_byte_order_mark(tmp_path: Path) -> None:
    site = build_ccdi_site(n_articles=4)
    octet, html = site.articles[0], site.articles[1]
    noise = random.Random(7).randbytes(1 << 20)
    site.pages[octet.path] = Page(b"\xff\xfe" + noise, content_type="application/octet-stream")
    site.pages[html.path] = Page(b"\xef\xbb\xbf" + noise, content_type="text/html")
    with SiteServer(site.pages) as srv:
        config = ccdi_config(tmp_path, srv)
        result = run_cli("--config", str(config), "crawl", "local")
        assert "Traceback" not in result.stderr
        stored = articles(config)
    assert {a["title"] for a in stored} == {a.title for a in site.articles[2:]}
    with sqlite3.connect(tmp_path / "gw.db") as conn:
        errors = dict(conn.execute("SELECT url, kind FROM crawl_errors").fetchall())
    assert errors == {srv.url(octet.path): "not_html", srv.url(html.path): "not_html"}


def test_emailed_digest_of_rows_stored_before_the_cleaner_holds_no_control_characters(
    tmp_path: Path, db: Database, database_url: str
) -> None:
    """``digest --dry-run`` cleaned what it printed, but the email itself (text and HTML
    parts) carried the ``ESC ] 0;…BEL`` of a title stored before extraction cleaned titles."""
    from tests.digest_helpers import SmtpServer

    sid = add_site(db)
    add_article(db, sid, 1, title=HOSTILE, body=f"正文{CLEAR}第一段。\n{OSC_TITLE}第二段。")
    with SmtpServer() as smtp:
        config = tmp_path / "govwatch.toml"
        config.write_text(
            CLI_CONFIG.replace(
                'type = "webhook"\nurl = "http://127.0.0.1:9/"',
                f'type = "email"\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "none"\n'
                'from = "gw@example.org"\nto = ["a@example.org"]',
            ),
            encoding="utf-8",
        )
        env = {"GOVWATCH_DATABASE_URL": database_url}
        sent = run_cli("--config", str(config), "digest", "daily", "--send", env=env)
        assert sent.returncode == 0, sent.stdout + sent.stderr
    (message,) = smtp.messages
    for kind in ("plain", "html"):
        part = message.get_body((kind,))
        assert part is not None
        content = part.get_content().replace("\r\n", "\n")  # SMTP line ends
        assert "通报" in content
        assert_clean(content)


NOISY_HEAD = (
    b"<html><head><meta charset=gbk><style>" + b".a{color:red}" * 150 + b"</style></head>"
    b"<body><div class=content><p>"
)  # 2 KB of ordinary markup: the sniffer's 1,445 bytes see HTML


@pytest.mark.parametrize("seed", range(3))
def test_random_bytes_after_an_html_head_are_not_readable_text(seed: int) -> None:
    """1 MB of random bytes after 2 KB of markup was stored as an article whose body was
    200,000 characters of GB18030 noise (hanzi count as letters, so it was "readable")."""
    noise = NOISY_HEAD + random.Random(seed).randbytes(1 << 20)
    art = extract_article(noise, "https://a.example/1.html", content_type="text/html")
    assert art.body == ""
    assert art.page_kind == "error"
    assert art.error_reason == "no title and no readable text"
    assert not is_readable(noise[len(NOISY_HEAD) :].decode("gb18030", errors="replace"))
    assert is_readable("中央纪委国家监委网站讯，据通报，某地加强作风建设。🫠\ue000")  # a little PUA


def test_crawl_does_not_store_noise_after_an_html_head(tmp_path: Path) -> None:
    site = build_ccdi_site(n_articles=3)
    noisy = site.articles[0]
    site.pages[noisy.path] = Page(
        NOISY_HEAD + random.Random(1).randbytes(1 << 20), content_type="text/html"
    )
    with SiteServer(site.pages) as srv:
        config = ccdi_config(tmp_path, srv)
        result = run_cli("--config", str(config), "crawl", "local")
        assert "Traceback" not in result.stderr
        stored = articles(config)
    assert {a["title"] for a in stored} == {a.title for a in site.articles[1:]}
    with sqlite3.connect(tmp_path / "gw.db") as conn:
        errors = dict(conn.execute("SELECT url, kind FROM crawl_errors").fetchall())
    assert errors == {srv.url(noisy.path): "not_article"}
