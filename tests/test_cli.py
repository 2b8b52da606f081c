"""The command line as users run it: a real subprocess on a real database."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from scheduler.commands import parse_since
from storage import repository
from storage.database import Database
from storage.errors import UsageError
from storage.records import NewArticle, SiteInfo
from tests.conftest import run_cli

BEIJING = timezone(timedelta(hours=8))
CONFIG = """
[[sites]]
name = "local"
title = "本地纪委"
start_urls = ["http://127.0.0.1:9/"]
article_url_pattern = 'content_\\d+'
"""


@pytest.fixture
def filled(tmp_path: Path, database_url: str) -> tuple[Path, dict[str, str]]:
    config = tmp_path / "govwatch.toml"
    config.write_text(CONFIG, encoding="utf-8")
    env = {"GOVWATCH_DATABASE_URL": database_url}
    assert run_cli("--config", str(config), "init", env=env).returncode == 0
    db = Database(database_url)
    with db.session() as s:
        sid = repository.sync_sites(s, [SiteInfo("local", "本地纪委")])["local"]
        repository.store_articles(
            s,
            [
                NewArticle(
                    site_id=sid,
                    url=f"https://jjc.example/content_{n}.htm",
                    fetched_url=f"https://jjc.example/content_{n}.htm",
                    title=f'找准“问题眼” 第{n}篇, "引号"',
                    publish_time=datetime(2024, 6, 28 + n, 10, 6, tzinfo=BEIJING),
                    source="重庆日报",
                    author="张三" if n == 1 else None,
                    body=f"基层治理是国家治理的基石。\n第{n}篇第二段。",
                )
                for n in (1, 2)
            ],
            run_id=None,
        )
    db.dispose()
    return config, env


def test_init_is_idempotent(tmp_path: Path, database_url: str) -> None:
    env = {"GOVWATCH_DATABASE_URL": database_url}
    first = run_cli("init", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "created database" in first.stdout
    again = run_cli("init", env=env, cwd=tmp_path)
    assert again.returncode == 0 and "up to date" in again.stdout


def test_articles_json_csv_and_table(filled: tuple[Path, dict[str, str]]) -> None:
    config, env = filled
    out = run_cli("--config", str(config), "articles", "--format", "json", env=env)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["title"] for r in rows] == [
        '找准“问题眼” 第2篇, "引号"',
        '找准“问题眼” 第1篇, "引号"',
    ]
    first = rows[1]
    assert {
        "id",
        "site",
        "url",
        "title",
        "publish_time",
        "source",
        "author",
        "body",
        "first_seen",
    } <= set(first)
    assert first["publish_time"] == "2024-06-29T10:06:00+08:00"
    assert first["author"] == "张三" and first["site"] == "local"
    assert datetime.fromisoformat(first["first_seen"]).utcoffset() == timedelta(0)

    out = run_cli("--config", str(config), "articles", "--format", "csv", env=env)
    parsed = list(csv.DictReader(io.StringIO(out.stdout)))
    assert parsed[0]["body"] == "基层治理是国家治理的基石。\n第2篇第二段。"

    out = run_cli("--config", str(config), "articles", "--search", "第1篇", env=env)
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and "2024-06-29 10:06" in lines[1] and "重庆日报" in lines[1]

    out = run_cli("--config", str(config), "articles", "--since", "2024-06-30", env=env)
    assert len(out.stdout.splitlines()) == 2  # header + the 30 June article


def test_show_and_sites(filled: tuple[Path, dict[str, str]]) -> None:
    config, env = filled
    listed = run_cli("--config", str(config), "articles", "--format", "json", env=env)
    article_id = json.loads(listed.stdout.splitlines()[0])["id"]
    out = run_cli("--config", str(config), "show", str(article_id), env=env)
    assert out.returncode == 0, out.stderr
    assert "source:     重庆日报" in out.stdout
    assert out.stdout.rstrip().endswith("第2篇第二段。")
    missing = run_cli("--config", str(config), "show", "999999", env=env)
    assert missing.returncode == 2 and "no article with id 999999" in missing.stderr
    sites = run_cli("--config", str(config), "sites", env=env)
    assert sites.returncode == 0
    assert "local" in sites.stdout and "本地纪委" in sites.stdout and "never" in sites.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["articles", "--limit", "0"], "must be from 1 to"),
        (["articles", "--format", "xml"], "invalid choice: 'xml'"),
        (["articles", "--site", "nope"], "unknown site 'nope' (configured: local)"),
        (["articles", "--since", "yesterday"], "--since: 'yesterday' is not a date"),
        (["crawl"], "name the sites to crawl, or use --all"),
        (["crawl", "nope"], "unknown site 'nope'"),
        (["crawl", "local", "--all"], "give site names or --all, not both"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["show", "abc"], "not a whole number: 'abc'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], expected: str) -> None:
    config = tmp_path / "govwatch.toml"
    config.write_text(CONFIG, encoding="utf-8")
    env = {"GOVWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'gw.db'}"}
    result = run_cli("--config", str(config), *args, env=env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]


def test_unreachable_database_is_one_line_and_exit_1(tmp_path: Path) -> None:
    env = {"GOVWATCH_DATABASE_URL": "postgresql+psycopg://u@127.0.0.1:1/x?connect_timeout=2"}
    result = run_cli("articles", env=env, cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "127.0.0.1" in lines[0] and "***" not in lines[0]


def test_parse_since() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("2024-06-30") == datetime(2024, 6, 30, tzinfo=BEIJING)
    assert parse_since("2024-06-30T10:00:00+00:00") == datetime(2024, 6, 30, 10, tzinfo=UTC)
    with pytest.raises(UsageError):
        parse_since("last week")
