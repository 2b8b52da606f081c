"""Meta refreshes are followed whatever the page's encoding, though most pages are not decoded
to look for one (crawler.net.metarefresh)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from crawler.net.metarefresh import may_refresh
from tests.conftest import run_cli
from tests.sitesrv import Page, SiteServer, build_ccdi_site
from tests.test_crawl import ccdi_config

REFRESH = '<meta http-equiv="refresh" content="0;url={url}">'


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html><head><title>t</title></head><body>" + b"x" * 50_000, False),
        (f"<html><head>{REFRESH}</head>".encode(), True),
        (b'<META HTTP-EQUIV="Refresh" CONTENT="5">', True),
        # a numeric reference spells it once decoded: left to Scrapy to decide
        (b'<meta http-equiv="&#82;efresh" content="0;url=/a">', True),
        # UTF-16 and UTF-32 write ASCII with NUL bytes; a byte order mark
        ("<html><head><meta http-equiv='refresh'>".encode("utf-16-le"), True),
        (b"\xef\xbb\xbf<html>", False),
        (b"\xff\xfe<\x00h\x00", True),
        # beyond what Scrapy reads (4,096 characters, at most 4 bytes each): never declared
        (b"<html>" + b"x" * 20_000 + b'<meta http-equiv="refresh" content="0">', False),
    ],
)
def test_what_may_hold_a_refresh(body: bytes, expected: bool) -> None:
    assert may_refresh(body) is expected


def _moved(path: str) -> str:
    """Another article URL (the site's pattern) for the page at ``path``."""
    return re.sub(r"_(\d+)\.html$", r"_9\1.html", path)


def test_refreshes_are_followed_in_every_encoding(tmp_path: Path) -> None:
    site = build_ccdi_site(n_articles=5, per_page=10)
    cjk_head = "<meta name='description' content='" + "纪检监察" * 400 + "'>"  # 4,800 bytes
    wrappers = [
        # UTF-8, the refresh past byte 4,096 (but within 4,096 characters)
        lambda url: Page(f"<html><head>{cjk_head}{REFRESH.format(url=url)}</head></html>".encode()),
        # UTF-16 with its byte order mark
        lambda url: Page(
            f"<html><head>{REFRESH.format(url=url)}</head></html>".encode("utf-16"),
            content_type="text/html; charset=utf-16",
        ),
        # GBK, upper case
        lambda url: Page(
            f'<HTML><HEAD><TITLE>跳转</TITLE><META HTTP-EQUIV="Refresh" CONTENT="0; URL={url}">'
            "</HEAD></HTML>".encode("gbk"),
            content_type="text/html; charset=gbk",
        ),
    ]
    with SiteServer(site.pages) as srv:
        moved = []
        for art, wrap in zip(site.articles, wrappers, strict=False):
            target = _moved(art.path)
            site.pages[target] = site.pages[art.path]
            site.pages[art.path] = wrap(srv.url(target))
            moved.append(srv.url(target))
        config = ccdi_config(tmp_path, srv)
        result = run_cli("--config", str(config), "crawl", "local")
        assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "gw.db") as conn:
        stored = dict(conn.execute("SELECT fetched_url, title FROM articles").fetchall())
    assert sorted(stored.values()) == sorted(a.title for a in site.articles)
    assert set(moved) <= set(stored)
