"""How precisely a publish time is known (minute | day | url), from the page to the output.

A page that shows the date only, or no date at all, must never be reported with a made-up
00:00: the extractor says how much it saw, storage keeps it (SQLite and PostgreSQL, and rows
stored before migration 0009 read back as "not recorded"), and ``govwatch articles``,
``show``, ``extract`` and digests print such a time as the date alone.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from crawler.extract.article import extract_article
from crawler.extract.pubtime import parse_time
from digest.records import DigestArticle
from digest.render import render_html, render_markdown, render_text
from storage import repository
from storage.database import Database
from storage.migrate import alembic_config, upgrade
from storage.records import ArticleQuery, NewArticle, SiteInfo
from tests.conftest import run_cli
from tests.test_digest_render import digest

BEIJING = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 26, 0, 5, tzinfo=UTC)


def _page(info: str) -> str:
    return f"""<html><head><title>关于调整办事指南的说明_某某县人民政府</title></head><body>
<div class="nav">首页 &gt; 通知公告</div>
<div class="article"><h1>关于调整办事指南的说明</h1>
<div class="info">{info}</div>
<div class="content"><p>为进一步方便群众办事，现将有关事项说明如下，请相互转告。</p>
<p>一、办理地点调整至政务服务中心二楼，办理时间不变。</p></div></div>
<div class="footer">主办单位：某某县人民政府办公室</div></body></html>"""


@pytest.mark.parametrize(
    ("written", "hour", "minute"),
    [
        ("2024年6月30日 下午3:05", 15, 5),
        ("2024-06-30 下午 3:05", 15, 5),
        ("2024-06-30 上午9:05", 9, 5),
        ("2024-06-30 上午12:30", 0, 30),  # half past midnight
        ("2024-06-30 下午12:30", 12, 30),  # half past noon
        ("2024年6月30日 晚上10点05分", 22, 5),
        ("2024-06-30 下午15:05", 15, 5),  # a 24-hour clock with a needless 下午
        ("2024-06-30 15:05", 15, 5),
    ],
)
def test_morning_and_afternoon(written: str, hour: int, minute: int) -> None:
    assert parse_time(written) == datetime(2024, 6, 30, hour, minute, tzinfo=BEIJING)


def test_twelve_in_the_evening_is_midnight_not_noon() -> None:
    # 晚上12点 ends the evening: the midnight after the date, as 晚上11:50 comes before it
    assert parse_time("2024-06-30 晚上12:10") == datetime(2024, 7, 1, 0, 10, tzinfo=BEIJING)
    assert parse_time("2024-06-30 中午12:10") == datetime(2024, 6, 30, 12, 10, tzinfo=BEIJING)


@pytest.mark.parametrize(
    ("info", "url", "value", "precision"),
    [
        (
            "来源：县政务服务中心 发布时间：2024-06-30 下午3:05",
            "https://www.example.gov.cn/zwgk/notice/42.html",
            datetime(2024, 6, 30, 15, 5, tzinfo=BEIJING),
            "minute",
        ),
        (
            "来源：县政务服务中心 发布时间：2024-06-30 00:00",  # a midnight the page states
            "https://www.example.gov.cn/zwgk/notice/42.html",
            datetime(2024, 6, 30, tzinfo=BEIJING),
            "minute",
        ),
        (
            "来源：县政务服务中心 发布日期：2024年6月30日",
            "https://www.example.gov.cn/zwgk/notice/42.html",
            datetime(2024, 6, 30, tzinfo=BEIJING),
            "day",
        ),
        (
            "来源：县政务服务中心",
            "https://www.example.gov.cn/zwgk/202406/t20240630_42.html",
            datetime(2024, 6, 30, tzinfo=BEIJING),
            "url",
        ),
        ("来源：县政务服务中心", "https://www.example.gov.cn/zwgk/notice/42.html", None, None),
    ],
)
def test_extractor_says_how_much_of_the_time_the_page_showed(
    info: str, url: str, value: datetime | None, precision: str | None
) -> None:
    art = extract_article(_page(info).encode(), url)
    assert art.publish_time == value
    assert art.publish_time_precision == precision


def test_extract_json_carries_the_precision(tmp_path: Path) -> None:
    day = tmp_path / "day.html"
    day.write_text(_page("来源：县政务服务中心 发布日期：2024年6月30日"), encoding="utf-8")
    bare = tmp_path / "bare.html"
    bare.write_text(_page("来源：县政务服务中心"), encoding="utf-8")
    result = run_cli(
        "extract",
        str(day),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert row["publish_time"] == "2024-06-30T00:00:00+08:00"
    assert row["publish_time_precision"] == "day"
    result = run_cli(
        "extract",
        str(bare),
        "--url",
        "https://www.example.gov.cn/zwgk/202406/t20240630_42.html",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert row["publish_time_precision"] == "url"
    text_out = run_cli("extract", str(bare), str(day), "--format", "text", cwd=tmp_path)
    assert "publish_time: 2024-06-30T00:00:00+08:00 (day)\n" in text_out.stdout
    assert text_out.stdout.count("publish_time:") == 1  # no date on the bare page, nor in its path


def _new(site_id: int, n: int, when: datetime | None, precision: str | None) -> NewArticle:
    return NewArticle(
        site_id=site_id,
        url=f"https://jjc.example/content_{n}.htm",
        fetched_url=f"https://jjc.example/content_{n}.htm",
        title=f"第{n}篇",
        publish_time=when,
        source="重庆日报",
        author=None,
        body=f"基层治理是国家治理的基石。\n第{n}篇第二段。",
        publish_time_precision=precision,  # type: ignore[arg-type]
    )


def test_storage_keeps_the_precision_and_an_edit_updates_it(db: Database) -> None:
    day = datetime(2024, 6, 30, tzinfo=BEIJING)
    with db.session() as s:
        sid = repository.sync_sites(s, [SiteInfo("local", "本地")])["local"]
        repository.store_articles(
            s,
            [
                _new(sid, 1, datetime(2024, 6, 30, 15, 5, tzinfo=BEIJING), "minute"),
                _new(sid, 2, day, "day"),
                _new(sid, 3, day, "url"),
                _new(sid, 4, None, None),
            ],
            run_id=None,
        )
    with db.session() as s:
        got = {a.title: a for a in repository.list_articles(s, ArticleQuery(site="local"))}
    assert {t: a.publish_time_precision for t, a in got.items()} == {
        "第1篇": "minute",
        "第2篇": "day",
        "第3篇": "url",
        "第4篇": None,
    }
    assert got["第2篇"].publish_time == day
    # the page is edited and now shows the time of day
    edited = _new(sid, 2, datetime(2024, 6, 30, 9, 30, tzinfo=BEIJING), "minute")
    edited = replace(edited, body="改过的正文。")
    with db.session() as s:
        result = repository.save_articles(s, [edited], run_id=None)
    assert len(result.changed) == 1
    with db.session() as s:
        view = repository.get_article(s, result.changed[0])
    assert view is not None and view.publish_time_precision == "minute"


def test_rows_stored_before_migration_0009_read_back_as_not_recorded(database_url: str) -> None:
    db = Database(database_url)
    with db.engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0007")
    with db.session() as s:  # the sites table is as it was at 0007
        repository.sync_sites(s, [SiteInfo("old", "旧")])
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO articles (site_id, url, fetched_url, title, publish_time, body, "
                "first_seen, last_seen, revision) SELECT id, 'https://old.example/1', "
                "'https://old.example/1', '旧文章', :t, '正文。', :t, :t, 0 FROM sites"
            ),
            {"t": datetime(2024, 6, 29, 16, 0, tzinfo=UTC)},
        )
    upgrade(db)
    with db.session() as s:
        (old,) = repository.list_articles(s, ArticleQuery(site="old"))
    assert old.title == "旧文章"
    assert old.publish_time == datetime(2024, 6, 29, 16, 0, tzinfo=UTC)
    assert old.publish_time_precision is None
    db.dispose()


def test_articles_and_show_print_a_day_only_time_without_midnight(
    tmp_path: Path, database_url: str
) -> None:
    config = tmp_path / "govwatch.toml"
    config.write_text(
        '[[sites]]\nname = "local"\ntitle = "本地"\nstart_urls = ["http://127.0.0.1:9/"]\n'
        "article_url_pattern = 'content_\\d+'\n",
        encoding="utf-8",
    )
    env = {"GOVWATCH_DATABASE_URL": database_url}
    assert run_cli("--config", str(config), "init", env=env).returncode == 0
    db = Database(database_url)
    with db.session() as s:
        sid = repository.sync_sites(s, [SiteInfo("local", "本地")])["local"]
        ids = repository.store_articles(
            s,
            [
                _new(sid, 1, datetime(2024, 6, 30, 15, 5, tzinfo=BEIJING), "minute"),
                _new(sid, 2, datetime(2024, 6, 29, tzinfo=BEIJING), "day"),
                _new(sid, 3, datetime(2024, 6, 28, tzinfo=BEIJING), "url"),
            ],
            run_id=None,
        )
    db.dispose()
    table = run_cli("--config", str(config), "articles", env=env)
    assert table.returncode == 0, table.stderr
    rows = {t: ln for ln in table.stdout.splitlines() for t in ln.split() if t.endswith("篇")}
    assert "2024-06-30 15:05" in rows["第1篇"]
    assert "2024-06-29" in rows["第2篇"] and "00:00" not in rows["第2篇"]
    assert "2024-06-28" in rows["第3篇"] and "00:00" not in rows["第3篇"]
    listed = run_cli("--config", str(config), "articles", "--format", "json", env=env)
    precision = {
        r["title"]: (r["publish_time"], r["publish_time_precision"])
        for r in map(json.loads, listed.stdout.splitlines())
    }
    assert precision["第2篇"] == ("2024-06-29T00:00:00+08:00", "day")
    assert precision["第3篇"] == ("2024-06-28T00:00:00+08:00", "url")
    shown = run_cli("--config", str(config), "show", str(ids[2]), env=env)
    assert "published:  2024-06-28 (date from the URL)\n" in shown.stdout
    shown = run_cli("--config", str(config), "show", str(ids[0]), env=env)
    assert "published:  2024-06-30 15:05 +0800\n" in shown.stdout


def _digest_article(n: int, when: datetime, precision: str | None) -> DigestArticle:
    return DigestArticle(
        id=n,
        site="ccdi",
        site_title="中央纪委国家监委网站",
        title=f"第{n}篇 审查调查通报",
        url=f"https://www.ccdi.gov.cn/scdcn/202611/t20261126_{n}.html",
        publish_time=when,
        first_seen=NOW,
        source="中央纪委国家监委网站",
        excerpt="据中央纪委国家监委消息，某某涉嫌严重违纪违法，目前正接受审查调查。",
        publish_time_precision=precision,
    )


def test_digests_print_a_day_only_time_without_midnight() -> None:
    d = digest(
        _digest_article(1, datetime(2026, 11, 26, 7, 1, tzinfo=BEIJING), "minute"),
        _digest_article(2, datetime(2026, 11, 25, tzinfo=BEIJING), "day"),
        _digest_article(3, datetime(2026, 11, 24, tzinfo=BEIJING), "url"),
        _digest_article(4, datetime(2026, 11, 23, tzinfo=BEIJING), None),  # not recorded
    )
    markdown = "\n".join(render_markdown(d, "wecom", 4000))
    for rendered in (render_text(d), markdown, render_html(d)):
        assert "2026-11-26 07:01 · 中央纪委国家监委网站" in rendered
        assert "2026-11-25 · 中央纪委国家监委网站" in rendered
        assert "2026-11-24 · 中央纪委国家监委网站" in rendered
        assert "2026-11-25 00:00" not in rendered and "2026-11-24 00:00" not in rendered
        assert "2026-11-23 00:00 · 中央纪委国家监委网站" in rendered


def test_digest_json_keeps_the_precision_and_reads_old_outbox_entries() -> None:
    a = _digest_article(2, datetime(2026, 11, 25, tzinfo=BEIJING), "day")
    data = a.to_dict()
    assert data["publish_time_precision"] == "day"
    assert DigestArticle.from_dict(data) == a
    del data["publish_time_precision"]  # stored in the outbox before this field existed
    assert DigestArticle.from_dict(data).publish_time_precision is None
