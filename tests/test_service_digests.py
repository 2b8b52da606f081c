"""Digests sent by ``govwatch run`` itself, in its own process (issue 14, item 4): a real
service process, a real SMTP server (aiosmtpd), real signals, SQLite and PostgreSQL.

No site is enabled and the link check waits for 1 January, so the service has no reason to
start a child process at all: any child it starts is a digest that did not run in-process.
"""

from __future__ import annotations

import itertools
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.conftest import run_cli
from tests.digest_helpers import SmtpServer, add_article, add_site, digest_toml
from tests.test_deadlines import StallingSmtp
from tests.test_service import (
    Rows,
    ServiceProcess,
    as_utc,
    services,
    site_toml,
    wait_until,
    write_config,
)

__all__ = ["services"]  # the fixture, imported for this module's tests


def setup(tmp_path: Path, database_url: str, digests: str, **service: Any) -> Path:
    """A config whose only jobs are digests (the one site is disabled), and its database
    with two articles for the first digest."""
    sites = site_toml("ccdi", "http://127.0.0.1:9/yaowenn/", enabled=False) + digests
    config = write_config(tmp_path, "sqlite:///unused.db", sites, **service)
    env = {"GOVWATCH_DATABASE_URL": database_url}
    assert run_cli("--config", str(config), "init", env=env).returncode == 0
    rows = Rows(database_url)
    site = add_site(rows.db, "ccdi", "中央纪委国家监委网站")
    add_article(rows.db, site, 1)
    add_article(rows.db, site, 2)
    return config


def deliveries(rows: Rows, subscription: str) -> list[Any]:
    return rows(
        "SELECT w.seq, w.built_at, w.article_count, d.state, d.attempts, d.idempotency_key"
        " FROM digest_deliveries d JOIN digest_windows w ON w.id = d.window_id"
        " JOIN digest_subscriptions s ON s.id = w.subscription_id WHERE s.name = :name"
        " ORDER BY w.seq",
        name=subscription,
    )


def job(rows: Rows, name: str) -> Any:
    (row,) = rows("SELECT * FROM service_jobs WHERE name = :name", name=name)
    return row


def test_the_service_sends_each_digest_on_its_own_schedule_without_a_child_process(
    tmp_path: Path, database_url: str, services: Callable[..., ServiceProcess]
) -> None:
    with SmtpServer() as smtp:
        config = setup(tmp_path, database_url, digest_toml("daily", smtp, "every 2s"))
        env = {"GOVWATCH_DATABASE_URL": database_url}
        service = services(config, env)
        service.wait_for(r"leading \(pid")
        children: list[int] = []

        def three_sent() -> bool:
            children.extend(service.children())
            return len(smtp.messages) >= 3

        wait_until(three_sent, 30, "three digests by email", service)
        service.proc.send_signal(signal.SIGTERM)
        assert service.proc.wait(timeout=20) == 0
    rows = Rows(database_url)
    sent = deliveries(rows, "daily")
    assert children == [], "the service started a process for a digest"
    assert "(in-process)" in service.text() and "started (pid" not in service.text()
    assert len(sent) >= 3 and all(d.state == "delivered" and d.attempts == 1 for d in sent[:3])
    assert sent[0].article_count == 2  # the backfill of a new subscription
    # its own schedule (every 2 s), not the service's one-minute look
    built = [as_utc(d.built_at) for d in sent]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(built)]
    assert all(2 <= gap < 4 for gap in gaps), gaps
    # never repeated: one message per window, each its own key
    ids = [m["Message-ID"] for m in smtp.messages]
    assert len(ids) == len(set(ids)) == len(smtp.messages) == len(sent)
    assert job(rows, "digest:daily").last_result == "ok"


def test_a_hung_digest_is_left_behind_and_the_service_goes_on(
    tmp_path: Path, database_url: str, services: Callable[..., ServiceProcess]
) -> None:
    """One digest's SMTP server never answers the end of DATA (its channel deadline is 30 s):
    its job is left behind at the 1 s time limit; the heartbeat and the other digest go on;
    SIGTERM stops the service at once although that thread still hangs."""
    stalling = StallingSmtp()
    stalling.stalls = 1000
    with stalling, SmtpServer() as smtp:
        digests = digest_toml("hung", stalling, "every 1s", timeout=30) + digest_toml(
            "fine", smtp, "every 1s"
        )
        config = setup(tmp_path, database_url, digests, digest_time_limit_seconds=1)
        env = {"GOVWATCH_DATABASE_URL": database_url}
        rows = Rows(database_url)
        service = services(config, env)
        service.wait_for(r"job digest:hung: still running after .* left to end on its own")
        hung_at = datetime.now(UTC)
        count = len(smtp.messages)
        smtp.wait_for(count + 2)

        def beats_after_the_hang() -> bool:
            (row,) = rows("SELECT max(heartbeat_at) AS at FROM service_instances")
            return as_utc(row.at) > hung_at

        wait_until(beats_after_the_hang, 10, "a heartbeat after the hang", service)
        wait_until(lambda: "job digest:hung: not started" in service.text(), 10, "an overlap")
        hung = job(rows, "digest:hung")
        assert hung.last_result == "failed" and "time limit of 1s" in hung.last_message
        (overlap, *_) = rows("SELECT * FROM missed_runs WHERE job = 'digest:hung'")
        assert overlap.reason == "overlap"
        began = datetime.now(UTC)
        service.proc.send_signal(signal.SIGTERM)
        assert service.proc.wait(timeout=20) == 0
        assert (datetime.now(UTC) - began).total_seconds() < 10
        stalling.release.set()
    (claimed,) = deliveries(rows, "hung")
    assert claimed.state == "sending"  # claimed with a lease: sent again later, same key
    assert all(d.state == "delivered" for d in deliveries(rows, "fine"))
    assert "Traceback" not in service.text()


def test_sigterm_during_a_digest_send_stops_the_service_within_its_grace(
    tmp_path: Path, database_url: str, services: Callable[..., ServiceProcess]
) -> None:
    stalling = StallingSmtp()
    with stalling:
        config = setup(
            tmp_path,
            database_url,
            digest_toml("daily", stalling, "every 1s", timeout=30),
            shutdown_grace_seconds=1,
        )
        env = {"GOVWATCH_DATABASE_URL": database_url}
        rows = Rows(database_url)
        service = services(config, env)
        wait_until(lambda: getattr(stalling, "data_seen", None) is not None, 20, "a stalled send")
        began = datetime.now(UTC)
        service.proc.send_signal(signal.SIGTERM)
        assert service.proc.wait(timeout=20) == 0
        took = (datetime.now(UTC) - began).total_seconds()
        stalling.release.set()
    assert took < 6, f"stopping took {took:.1f}s with a grace of 1s"
    text = service.text()
    assert "waiting up to 1s for 1 running job(s) to finish: digest:daily" in text
    assert job(rows, "digest:daily").last_result == "interrupted"
    (claimed,) = deliveries(rows, "daily")
    assert claimed.state == "sending"  # not lost: its lease runs out and it is sent again


def test_only_the_leader_sends_digests_and_the_standby_takes_over(
    tmp_path: Path, database_url: str, services: Callable[..., ServiceProcess]
) -> None:
    with SmtpServer() as smtp:
        config = setup(tmp_path, database_url, digest_toml("daily", smtp, "every 1s"))
        env = {"GOVWATCH_DATABASE_URL": database_url}
        rows = Rows(database_url)
        first = services(config, env)
        first.wait_for(r"leading \(pid")
        smtp.wait_for(2)
        second = services(config, env)
        second.wait_for("standing by")
        smtp.wait_for(len(smtp.messages) + 2)
        assert "job digest" not in second.text()  # the standby sends nothing
        first.proc.kill()
        first.proc.wait()
        second.wait_for("taking over")
        second.wait_for(r"job digest:daily: ok in .*\(in-process\)")
        count = len(smtp.messages)
        smtp.wait_for(count + 2)
        second.proc.send_signal(signal.SIGTERM)
        assert second.proc.wait(timeout=20) == 0
    sent = deliveries(rows, "daily")
    assert [d.seq for d in sent] == list(range(1, len(sent) + 1))  # each window built once
    keys = [m["Message-ID"] for m in smtp.messages]
    # a leader killed mid-send may leave one delivery to be sent again, with its key
    assert len(keys) - len(set(keys)) <= 1
    assert {d.state for d in sent} <= {"delivered", "sending"}
