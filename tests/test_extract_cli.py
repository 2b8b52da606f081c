"""``govwatch extract``: offline extraction of saved files and single URLs."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from tests.conftest import run_cli
from tests.sitesrv import SiteServer, build_ccdi_site, soft404_page


def test_extract_saved_files_and_url(tmp_path: Path) -> None:
    site = build_ccdi_site(n_articles=6, gbk_every=2)
    utf8, gbk = site.articles[0], next(a for a in site.articles if a.encoding == "gbk")
    saved = tmp_path / "a.html"
    saved.write_bytes(site.pages[utf8.path].body)
    saved_gbk = tmp_path / "b.html"
    saved_gbk.write_bytes(site.pages[gbk.path].body)
    broken = tmp_path / "empty.html"
    broken.write_bytes(b"")
    with SiteServer(site.pages) as srv:
        srv.pages["/gone.html"] = soft404_page()
        result = run_cli(
            "extract",
            str(saved),
            str(saved_gbk),
            str(broken),
            str(tmp_path / "missing.html"),
            srv.url(utf8.path),
            srv.url("/gone.html"),
            cwd=tmp_path,
        )
    assert result.returncode == 1  # some inputs failed; the batch went on
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["file"] for r in rows] == [
        str(saved),
        str(saved_gbk),
        str(broken),
        str(tmp_path / "missing.html"),
        srv.url(utf8.path),
        srv.url("/gone.html"),
    ]
    for row, fake in ((rows[0], utf8), (rows[1], gbk), (rows[4], utf8)):
        assert "error" not in row, row
        assert row["title"] == fake.title
        assert datetime.fromisoformat(row["publish_time"]) == fake.publish_time
        assert row["source"] == fake.source
        assert row["body"].split("\n")[0] == fake.paragraphs[0]
        assert any(link["kind"] == "a" for link in row["links"])
    assert rows[2]["error"] and rows[3]["error"].startswith("cannot read")
    assert rows[5]["error"].startswith("not an article: error page")
    assert "Traceback" not in result.stderr


def test_extract_with_site_selectors_and_url(tmp_path: Path) -> None:
    site = build_ccdi_site(n_articles=2)
    fake = site.articles[0]
    saved = tmp_path / "page.html"
    saved.write_bytes(site.pages[fake.path].body)
    config = tmp_path / "govwatch.toml"
    config.write_text(
        """
[[sites]]
name = "drifted"
start_urls = ["https://www.ccdi.gov.cn/yaowenn/"]
article_url_pattern = 't\\d+'
[sites.selectors]
title = "h1.gone"
""",
        encoding="utf-8",
    )
    url = "https://www.ccdi.gov.cn" + fake.path
    result = run_cli(
        "--config", str(config), "extract", str(saved), "--url", url, "--site", "drifted"
    )
    assert result.returncode == 0, result.stderr
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert row["url"] == url
    assert row["title"] == fake.title  # fell back to the generic extractor
    assert any("h1.gone" in w for w in row["warnings"])
