"""The service's in-process jobs without the service: the bounded runner (real threads) and
a digest job's run and next time (a real database, a real SMTP server)."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from scheduler import inprocess
from scheduler.config import Config, load_config
from scheduler.digest_jobs import LeftBehind, next_wake, run_digest
from scheduler.digests import open_window
from scheduler.inprocess import InProcessJobs, Run
from storage import repository
from storage.database import Database
from storage.errors import GovwatchError
from tests.digest_helpers import SmtpServer, add_article, add_site


def test_a_run_past_its_limit_is_left_behind_and_blocks_its_next_run_only() -> None:
    jobs = InProcessJobs()
    release = threading.Event()
    told_to_stop = threading.Event()

    def hang(run: Run) -> tuple[str, str]:
        release.wait(30)
        if not run.go_on():
            told_to_stop.set()
        return "ok", ""

    hung = jobs.run("digest:hung", hang, time_limit=0.2)
    assert hung.ended == inprocess.TIME_LIMIT and 0.2 <= hung.seconds < 5
    assert jobs.running() == []  # left behind: nobody waits for it
    with pytest.raises(inprocess.Busy):
        jobs.run("digest:hung", hang, time_limit=0.2)
    other = jobs.run("digest:other", lambda run: ("ok", "2 delivered"), time_limit=5)
    assert (other.ended, other.value) == (inprocess.DONE, ("ok", "2 delivered"))
    release.set()
    assert told_to_stop.wait(5)
    assert jobs.wait_idle(5)

    def broken(run: Run) -> tuple[str, str]:
        raise GovwatchError("database is locked")

    failed = jobs.run("digest:hung", broken, time_limit=5)  # its thread has ended: runs again
    assert failed.ended == inprocess.RAISED and str(failed.error) == "database is locked"


def test_shutdown_stops_waiting_and_refuses_new_runs() -> None:
    jobs = InProcessJobs()
    started = threading.Event()
    release = threading.Event()
    result: list[inprocess.RunResult] = []

    def hang(run: Run) -> tuple[str, str]:
        started.set()
        release.wait(30)
        return "ok", ""

    waiter = threading.Thread(target=lambda: result.append(jobs.run("d", hang, 60)))
    waiter.start()
    assert started.wait(5)
    assert jobs.running() == ["d"]
    jobs.close()
    with pytest.raises(inprocess.Closed):
        jobs.run("e", hang, 60)
    assert not jobs.wait_idle(0.1)
    jobs.abandon_all()
    waiter.join(5)
    assert result and result[0].ended == inprocess.SHUTDOWN
    release.set()
    jobs.reopen()
    assert jobs.run("e", lambda run: ("ok", ""), 5).ended == inprocess.DONE


CONFIG = """
[service]
min_schedule_seconds = 1
digest_schedule = "every 1m"

[[sites]]
name = "ccdi"
start_urls = ["http://127.0.0.1:9/"]
article_url_pattern = 'a/\\d+'

[[digests]]
name = "daily"
schedule = "0 8 * * *"
retry_backoff_seconds = 5
[[digests.channels]]
type = "email"
host = "127.0.0.1"
port = {port}
security = "none"
from = "govwatch <gw@example.org>"
to = ["a@example.org"]
"""


def _config(tmp_path: Path, database_url: str, port: int) -> Config:
    path = tmp_path / "govwatch.toml"
    path.write_text(CONFIG.format(port=port), encoding="utf-8")
    return load_config(str(path), {"GOVWATCH_DATABASE_URL": database_url})


def test_a_digest_run_records_its_failures_and_wakes_for_its_retry(
    tmp_path: Path, db: Database, database_url: str
) -> None:
    site = add_site(db, "ccdi", "中央纪委国家监委网站")
    add_article(db, site, 1)
    with SmtpServer(replies=["451 try again later", "550 no such user"]) as smtp:
        config = _config(tmp_path, database_url, smtp.port)
        subscription = config.digests[0]
        assert run_digest(db, config, "daily", lambda: True) == ("ok", "")  # first sight
        now = repository.utcnow()
        # nothing open: the one-minute look comes before the next 08:00 (Beijing)
        look = next_wake(db, config, "daily", now)
        assert look is not None and timedelta(0) < look - now <= timedelta(minutes=1)

        open_window(db, config, subscription, repository.utcnow())  # as if it were 08:00
        assert run_digest(db, config, "daily", lambda: True) == ("ok", "1 retry")
        with db.session() as session:
            (retrying,) = repository.list_deliveries(session, subscription="daily")
        assert retrying.state == "retrying" and retrying.next_attempt_at is not None
        # its retry (in 5 s) comes before the one-minute look
        assert next_wake(db, config, "daily", repository.utcnow()) == retrying.next_attempt_at

        add_article(db, site, 2)
        open_window(db, config, subscription, repository.utcnow())
        assert run_digest(db, config, "daily", lambda: True) == ("failed", "1 failed")

        add_article(db, site, 3)
        open_window(db, config, subscription, repository.utcnow())
        with pytest.raises(LeftBehind):  # told to stop: it claims nothing more
            run_digest(db, config, "daily", lambda: False)
        with db.session() as session:
            states = [d.state for d in repository.list_deliveries(session, subscription="daily")]
        assert states == ["pending", "failed", "retrying"]  # newest first
        assert smtp.messages == []
