"""``govwatch digest`` as users run it (a real subprocess), and the service's tick."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scheduler.config import Config, load_config
from scheduler.digests import deliver_due, is_due
from storage import repository
from storage.database import Database
from tests.conftest import run_cli
from tests.digest_helpers import Answer, Receiver, add_article, add_site

CONFIG = """
[[sites]]
name = "ccdi"
title = "中央纪委国家监委网站"
start_urls = ["http://127.0.0.1:9/"]
article_url_pattern = 'a/\\d+'

[[digests]]
name = "daily"
schedule = "{schedule}"
[[digests.channels]]
type = "webhook"
url = "{url}"
"""


def setup(
    tmp_path: Path, db: Database, database_url: str, url: str, schedule: str = "0 8 * * *"
) -> tuple[Path, dict[str, str], list[int]]:
    path = tmp_path / "govwatch.toml"
    path.write_text(CONFIG.format(url=url, schedule=schedule), encoding="utf-8")
    sid = add_site(db, "ccdi", "中央纪委国家监委网站")
    ids = [add_article(db, sid, 1, title="<script>x</script>通报"), add_article(db, sid, 2)]
    return path, {"GOVWATCH_DATABASE_URL": database_url}, ids


def windows(db: Database) -> int:
    with db.session() as s:
        return len(repository.list_windows(s, "daily"))


def test_dry_run_prints_without_recording(tmp_path: Path, db: Database, database_url: str) -> None:
    path, env, ids = setup(tmp_path, db, database_url, "http://127.0.0.1:9/")
    text = run_cli("--config", str(path), "digest", "daily", "--dry-run", env=env)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("govwatch: 2 new articles — ")
    assert "<script>x</script>通报" in text.stdout
    as_json = run_cli(
        "--config", str(path), "digest", "daily", "--dry-run", "--format", "json", env=env
    )
    body = json.loads(as_json.stdout)
    assert body["idempotency_key"] is None
    assert sorted(a["id"] for a in body["articles"]) == sorted(ids)
    html = run_cli(
        "--config", str(path), "digest", "daily", "--dry-run", "--format", "html", env=env
    )
    assert "&lt;script&gt;x&lt;/script&gt;通报" in html.stdout and "<script>" not in html.stdout
    preview = tmp_path / "digest.html"
    result = run_cli("--config", str(path), "digest", "daily", "--preview", str(preview), env=env)
    assert result.returncode == 0
    assert "&lt;script&gt;" in preview.read_text(encoding="utf-8")
    assert windows(db) == 0  # nothing recorded: the next real digest still has both


def test_send_then_status(tmp_path: Path, db: Database, database_url: str) -> None:
    with Receiver() as receiver:
        path, env, ids = setup(tmp_path, db, database_url, receiver.url())
        result = run_cli("--config", str(path), "digest", "daily", "--send", env=env)
        assert result.returncode == 0, result.stderr
        assert "webhook: delivered" in result.stdout
        (request,) = receiver.requests
    assert sorted(a["id"] for a in request.json()["articles"]) == sorted(ids)
    status = run_cli("--config", str(path), "digest", "daily", "--status", env=env)
    assert status.returncode == 0
    assert "delivered" in status.stdout
    assert request.headers["idempotency-key"] in status.stdout


def test_send_refused_exits_1_and_says_why(tmp_path: Path, db: Database, database_url: str) -> None:
    with Receiver(default=Answer(403, "forbidden")) as receiver:
        path, env, _ = setup(tmp_path, db, database_url, receiver.url())
        result = run_cli("--config", str(path), "digest", "daily", "--send", env=env)
    assert result.returncode == 1
    assert "webhook: failed: HTTP 403: forbidden" in result.stdout


def test_bad_digest_commands_are_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "govwatch.toml"
    path.write_text(CONFIG.format(url="http://127.0.0.1:9/", schedule="every 1h"), "utf-8")
    env = {"GOVWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    for args in (
        ["digest", "nope", "--dry-run"],
        ["digest", "daily"],
        ["digest", "daily", "--send", "--dry-run"],
    ):
        result = run_cli("--config", str(path), *args, env=env)
        assert result.returncode == 2, args
        assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("schedule", "reference", "now", "due"),
    [
        ("0 8 * * *", "2026-11-25T08:00:05+08:00", "2026-11-26T07:59:59+08:00", False),
        ("0 8 * * *", "2026-11-25T08:00:05+08:00", "2026-11-26T08:00:00+08:00", True),
        ("0 8 * * *", "2026-11-25T08:00:05+08:00", "2026-11-28T19:00:00+08:00", True),  # late
        ("0 8 * * *", "2026-11-26T07:59:00+08:00", "2026-11-26T08:00:30+08:00", True),
        ("every 1h", "2026-11-26T08:00:00+08:00", "2026-11-26T08:59:00+08:00", False),
        ("every 1h", "2026-11-26T08:00:00+08:00", "2026-11-26T09:00:00+08:00", True),
    ],
)
def test_schedule_is_due(schedule: str, reference: str, now: str, due: bool) -> None:
    assert is_due(schedule, datetime.fromisoformat(reference), datetime.fromisoformat(now)) is due


def _config(tmp_path: Path, database_url: str, url: str) -> Config:
    path = tmp_path / "govwatch.toml"
    path.write_text(CONFIG.format(url=url, schedule="every 1h"), encoding="utf-8")
    return load_config(str(path), {"GOVWATCH_DATABASE_URL": database_url})


def test_service_tick_builds_once_per_due_time_and_retries_on_later_ticks(
    tmp_path: Path, db: Database, database_url: str
) -> None:
    sid = add_site(db, "ccdi", "中央纪委国家监委网站")
    first = add_article(db, sid, 1)
    with Receiver([Answer(502, "bad gateway")]) as receiver:
        config = _config(tmp_path, database_url, receiver.url())
        t0 = datetime.now(UTC)
        assert deliver_due(db, config, now=t0) == []  # first sight: recorded, not yet due
        assert deliver_due(db, config, now=t0 + timedelta(minutes=30)) == []
        (failed,) = deliver_due(db, config, now=t0 + timedelta(minutes=61))
        assert failed.outcome == "retry"
        second = add_article(db, sid, 2)
        # another digest's tick does not send this one's retry
        assert deliver_due(db, config, now=t0 + timedelta(minutes=63), only="weekly") == []
        (retried,) = deliver_due(db, config, now=t0 + timedelta(minutes=63))
        assert retried.outcome == "delivered" and retried.key == failed.key
        assert deliver_due(db, config, now=t0 + timedelta(minutes=64)) == []
        (next_one,) = deliver_due(db, config, now=t0 + timedelta(minutes=125))
        assert next_one.outcome == "delivered" and next_one.seq == 2
    bodies = [r.json() for r in receiver.requests]
    assert [[a["id"] for a in b["articles"]] for b in bodies] == [[first], [first], [second]]
    assert windows(db) == 2


def test_service_tick_from_the_command_line(
    tmp_path: Path, db: Database, database_url: str
) -> None:
    with Receiver() as receiver:
        path, env, _ = setup(tmp_path, db, database_url, receiver.url(), schedule="every 1h")
        result = run_cli("--config", str(path), "digest", "--due", env=env)
        assert result.returncode == 0, result.stderr
        assert receiver.requests == []  # the subscription is new: its first digest in an hour
    with db.session() as s:
        assert repository.schedule_reference(s, "daily") is not None
