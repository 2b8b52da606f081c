"""``govwatch run`` end to end: real service processes with real crawl children, real
signals, a real local site; plus the pure parts (first-run planning, metrics text, status
warnings) in-process.

Fast schedules: sites use ``every 1s`` with ``[service] min_schedule_seconds = 1`` (the
documented way to test against a local site).  Nothing sleeps for an event: each wait polls
the database or the service's log with a deadline.
"""

from __future__ import annotations

import itertools
import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text, update

from scheduler.config import load_config
from scheduler.health import METRICS_CONTENT_TYPE, parse_listen
from scheduler.jobs import FirstRun, plan_first_run, stable_offset
from scheduler.metrics import exposition, family, service_text
from scheduler.schedule import parse_schedule
from scheduler.status import build_status, render_text
from storage import repository
from storage.database import Database
from storage.errors import ConfigError
from storage.models import CrawlRun
from storage.records import RunTotals, SiteInfo
from tests.conftest import run_cli
from tests.processes import ServiceProcess, wait_until
from tests.sitesrv import SiteServer, build_ccdi_site

MINUTE = 60.0  # how long the soak-like test keeps the service running
SELECTORS = """
[sites.selectors]
title = "h2.tit"
publish_time = ".daty_con .e2"
source = ".daty_con .e1"
body = "div.content"
"""


# helpers


def site_toml(name: str, start_url: str, *, channel: str = "yaowenn", **extra: Any) -> str:
    values: dict[str, Any] = {"schedule": "every 1s", "delay_seconds": 0, **extra}
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in values.items())
    return f"""
[[sites]]
name = "{name}"
start_urls = ["{start_url}"]
article_url_pattern = '/{channel}/\\d{{6}}/t\\d{{8}}_\\d+\\.html$'
list_link_selector = ".list_news_dl2 li a"
{lines}
{SELECTORS}"""


def write_config(
    tmp_path: Path, db_url: str, sites: str, links: dict[str, Any] | None = None, **service: Any
) -> Path:
    """A config for a service test: fast schedules allowed; link checks only when asked
    (a cron job that never ran waits for its first time: 1 January)."""
    link_settings = links or {"schedule": "0 0 1 1 *"}
    settings = {
        "min_schedule_seconds": 1,
        "jitter_seconds": 0,
        "heartbeat_seconds": 1,
        "standby_poll_seconds": 0.3,
        **service,
    }
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in settings.items())
    link_lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in link_settings.items())
    path = tmp_path / "govwatch.toml"
    path.write_text(
        f"""
[database]
url = "{db_url}"

[crawl]
retries = 0
timeout_seconds = 30

[service]
{lines}

[links]
{link_lines}
{sites}""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    started: list[ServiceProcess] = []

    def start(config: Path, env: dict[str, str] | None = None, *args: str) -> ServiceProcess:
        log = tmp_path / f"service-{len(started) + 1}.log"
        service = ServiceProcess(config, log, "run", *args, env=env)
        started.append(service)
        return service

    yield start
    for service in started:
        service.kill_all()


class Rows:
    """Plain SQL reads of the service's database (both backends)."""

    def __init__(self, url: str) -> None:
        self.db = Database(url)

    def __call__(self, sql: str, **params: Any) -> list[Any]:
        with self.db.engine.connect() as conn:
            return list(conn.execute(text(sql), params))

    def runs(self, site: str | None = None) -> list[Any]:
        where = "WHERE s.name = :site" if site else ""
        try:
            return self(
                "SELECT r.id, s.name AS site, r.outcome, r.started_at, r.finished_at, r.pid,"
                " r.articles_new, r.message FROM crawl_runs r JOIN sites s ON s.id = r.site_id"
                f" {where} ORDER BY r.id",
                site=site,
            )
        except Exception:  # the schema is not there yet
            return []

    def finished(self, site: str) -> list[Any]:
        return [r for r in self.runs(site) if r.outcome != "running"]


def as_utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def assert_no_overlap(runs: list[Any]) -> None:
    ordered = sorted(runs, key=lambda r: as_utc(r.started_at))
    for before, after in itertools.pairwise(ordered):
        assert before.finished_at is not None, f"run {before.id} never finished"
        assert as_utc(before.finished_at) <= as_utc(after.started_at), (
            f"runs {before.id} and {after.id} of {before.site} overlap"
        )


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def metric(body: str, name: str) -> float:
    """The value of sample ``name`` (``family_total{label="value",...}``), read with the
    library's parser: label order and number format are the exposition's business."""
    base, _, rest = name.partition("{")
    labels = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    for fam in text_string_to_metric_families(body):
        for sample in fam.samples:
            if sample.name == base and sample.labels == labels:
                return float(sample.value)
    raise AssertionError(f"{name} not in /metrics:\n{body}")


# end to end


def test_two_sites_run_repeatedly_for_a_minute_without_overlap(
    tmp_path: Path, services: Callable[..., ServiceProcess]
) -> None:
    news = build_ccdi_site(n_articles=6, per_page=5, channel="yaowenn")
    cases = build_ccdi_site(n_articles=4, per_page=5, channel="scdcn", start=date(2024, 5, 1))
    with SiteServer({**news.pages, **cases.pages}) as srv:
        url = f"sqlite:///{tmp_path / 'gw.db'}"
        sites = site_toml("news", srv.url("/yaowenn/")) + site_toml(
            "cases", srv.url("/scdcn/"), channel="scdcn"
        )
        links = {"schedule": "every 10s", "allow_private_addresses": True}
        config = write_config(tmp_path, url, sites, links, max_concurrent_crawls=2)
        leader = services(config, {}, "--http", "127.0.0.1:0")
        port = int(leader.wait_for(r"/metrics on http://127\.0\.0\.1:(\d+)").group(1))
        leader.wait_for(r"leading \(pid")
        standby = services(config, {}, "--http", "127.0.0.1:0")
        standby_port = int(standby.wait_for(r"/metrics on http://127\.0\.0\.1:(\d+)").group(1))
        standby.wait_for("standing by")
        begun = time.monotonic()

        status, body = http_get(port, "/healthz")
        assert status == 200, body
        assert json.loads(body)["status"] == "ok"
        status, body = http_get(standby_port, "/healthz")
        assert status == 200 and json.loads(body)["status"] == "standby", body
        assert metric(http_get(standby_port, "/metrics")[1], "govwatch_service_leader") == 0

        rows = Rows(url)
        wait_until(
            lambda: all(len(rows.finished(s)) >= 2 for s in ("news", "cases")),
            30,
            "two finished runs of each site",
            leader,
        )
        status, body = http_get(port, "/metrics")
        assert status == 200
        assert metric(body, "govwatch_service_leader") == 1
        assert metric(body, 'govwatch_articles{site="news"}') == 6
        assert metric(body, 'govwatch_articles{site="cases"}') == 4
        assert metric(body, 'govwatch_crawl_runs_total{site="news",outcome="succeeded"}') >= 2
        assert metric(body, 'govwatch_last_success_timestamp_seconds{site="cases"}') > 0
        assert metric(body, "govwatch_database_up") == 1
        assert "# TYPE govwatch_missed_runs_total counter" in body

        while time.monotonic() - begun < MINUTE:  # keep going; stay healthy all along
            assert http_get(port, "/healthz")[0] == 200
            with pytest.raises(subprocess.TimeoutExpired):
                leader.proc.wait(timeout=2)
        assert standby.proc.poll() is None
        standby.proc.send_signal(signal.SIGTERM)
        assert standby.proc.wait(timeout=10) == 0
        leader.proc.send_signal(signal.SIGTERM)
        assert leader.proc.wait(timeout=40) == 0

    assert "stopped while standing by" in standby.text()
    assert "crawl started" not in standby.text()  # the standby never fired a job
    assert "Traceback" not in leader.text() and " ERROR " not in leader.text()
    for site, count in (("news", 6), ("cases", 4)):
        runs = rows.runs(site)
        assert len(runs) >= 10, f"only {len(runs)} runs of {site} in a minute"
        assert {r.outcome for r in runs} == {"succeeded"}, runs
        assert {r.pid for r in runs} <= leader.started_pids()
        assert sum(r.articles_new for r in runs) == count
        assert_no_overlap(runs)
    titles = {r.title for r in rows("SELECT title FROM articles")}
    assert titles == {a.title for a in news.articles} | {a.title for a in cases.articles}
    # firings while a run was still going were skipped, and said so
    assert rows("SELECT count(*) AS n FROM missed_runs WHERE reason = 'overlap'")[0].n >= 1
    # the link check ran alongside, in processes of its own
    (links_job,) = rows("SELECT * FROM service_jobs WHERE name = 'check-links'")
    assert links_job.last_result == "ok", links_job
    assert rows("SELECT count(*) AS n FROM links WHERE last_checked_at IS NOT NULL")[0].n > 0


def test_hung_crawl_is_killed_at_its_limit_while_others_go_on(
    tmp_path: Path, services: Callable[..., ServiceProcess]
) -> None:
    limit = 6  # the hung page answers after 10 s; a healthy crawl takes 1-3 s (loaded host)
    site = build_ccdi_site(n_articles=3, per_page=5)
    with SiteServer(site.pages) as srv:
        url = f"sqlite:///{tmp_path / 'gw.db'}"
        sites = site_toml("hung", srv.url("/slow?ms=10000"), schedule="every 1m") + site_toml(
            "fine", srv.url("/yaowenn/")
        )
        config = write_config(
            tmp_path,
            url,
            sites,
            crawl_time_limit_seconds=limit,
            kill_after_seconds=1,
            max_concurrent_crawls=2,
        )
        service = services(config)
        rows = Rows(url)
        wait_until(lambda: rows.finished("hung"), 30, "the hung run to be stopped", service)
        (hung,) = rows.runs("hung")
        assert hung.outcome == "failed"
        assert f"stopped at the crawl time limit of {limit}s" in hung.message
        took = (as_utc(hung.finished_at) - as_utc(hung.started_at)).total_seconds()
        assert took < limit + 1 + 2, f"the hung crawl took {took:.1f}s to be stopped"
        # the other site kept being crawled while that one hung
        during = [
            r for r in rows.finished("fine") if as_utc(r.finished_at) < as_utc(hung.finished_at)
        ]
        assert during, "no other run finished while the crawl hung"
        service.proc.send_signal(signal.SIGTERM)
        assert service.proc.wait(timeout=20) == 0
    assert not [r for r in rows.runs() if r.outcome == "running"]
    assert service.children() == []


def test_sigterm_during_crawl_records_interrupted_and_keeps_articles(
    tmp_path: Path, database_url: str, services: Callable[..., ServiceProcess]
) -> None:
    site = build_ccdi_site(n_articles=23, per_page=10)
    with SiteServer(site.pages) as srv:
        sites = site_toml("local", srv.url("/yaowenn/"), schedule="every 1m", delay_seconds=0.3)
        grace, kill_after = 1.0, 10.0
        config = write_config(
            tmp_path,
            "sqlite:///unused.db",
            sites,
            shutdown_grace_seconds=grace,
            kill_after_seconds=kill_after,
        )
        service = services(config, {"GOVWATCH_DATABASE_URL": database_url})
        rows = Rows(database_url)
        # in the middle of the crawl: some articles fetched (the pipeline stores in batches)
        wait_until(lambda: srv.count("/yaowenn/2") >= 3, 30, "three article fetches", service)
        sent = time.monotonic()
        service.proc.send_signal(signal.SIGTERM)
        assert service.proc.wait(timeout=30) == 0
        took = time.monotonic() - sent
    assert took < grace + kill_after + 3, f"took {took:.1f}s to stop"
    (run,) = rows.runs("local")
    assert run.outcome == "interrupted", run
    assert run.finished_at is not None
    fakes = {a.title: a for a in site.articles}
    got = rows("SELECT title, body, run_id FROM articles")
    assert 3 <= len(got) < 23  # what was fetched before the stop was stored, whole
    assert run.articles_new == len(got)
    for article in got:  # every stored article is whole
        fake = fakes[article.title]
        assert all(p.strip() in article.body for p in fake.paragraphs)
        assert article.run_id == run.id
    assert "stopping 1 job(s) still running: crawl:local" in service.text()


def test_sigterm_while_the_heartbeat_waits_for_the_database_stops_the_leader(
    tmp_path: Path, services: Callable[..., ServiceProcess]
) -> None:
    """APScheduler 3.11's ``shutdown(wait=True)`` holds its job-store lock while it joins the
    job threads: a heartbeat that reached the scheduler (``get_jobs``) after the stop began
    hung the leader for good (issue 16: a freshly promoted leader, whose first heartbeat ran
    when SIGTERM came, never stopped).  Here the heartbeat is held on a database write (the
    test holds SQLite's write lock) while SIGTERM arrives, and let go once the stop began."""
    path = tmp_path / "gw.db"
    config = write_config(tmp_path, f"sqlite:///{path}", "", shutdown_grace_seconds=1)
    service = services(config, {}, "--http", "127.0.0.1:0")
    port = int(service.wait_for(r"/metrics on http://127\.0\.0\.1:(\d+)", 60).group(1))
    service.wait_for(r"leading \(pid", 60)
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        held_since = time.monotonic()

        def heartbeat_waits() -> bool:
            # Heartbeats start every second and never overlap: none has started for two
            # seconds while the lock is held, so one is held on it.  (Not "one started after
            # the lock was taken": one that started just before, under load, is held on the
            # same write for SQLite's 30 s busy timeout, and no other starts meanwhile.)
            age = json.loads(http_get(port, "/healthz")[1])["heartbeat_age_seconds"]
            return age is not None and age >= 2 and time.monotonic() - held_since >= 2

        wait_until(heartbeat_waits, 20, "a heartbeat waiting for the database", service)
        service.proc.send_signal(signal.SIGTERM)
        service.wait_for("SIGTERM received: stopping")
        time.sleep(0.5)  # no event to await: the main thread is inside shutdown() by now
        sent = time.monotonic()
        writer.execute("ROLLBACK")
    finally:
        writer.close()
    assert service.proc.wait(timeout=30) == 0, service.text()[-3000:]
    assert time.monotonic() - sent < 10, service.text()[-3000:]
    assert service.text().rstrip().endswith("stopped"), service.text()[-3000:]


def test_second_service_stands_by_and_takes_over_when_the_leader_dies(
    tmp_path: Path, database_url: str, services: Callable[..., ServiceProcess]
) -> None:
    site = build_ccdi_site(n_articles=3, per_page=5)
    env = {"GOVWATCH_DATABASE_URL": database_url}
    with SiteServer(site.pages) as srv:
        sites = site_toml("local", srv.url("/yaowenn/"), schedule="every 2s")
        config = write_config(tmp_path, "sqlite:///unused.db", sites)
        assert run_cli("--config", str(config), "init", env=env).returncode == 0
        # a run left `running` by a crash: its process is gone
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        db = Database(database_url)
        with db.session() as session:
            ids = repository.sync_sites(session, [SiteInfo("local", "local")])
            crashed = repository.start_run(session, ids["local"], pid=gone.pid)
        db.dispose()
        rows = Rows(database_url)

        first = services(config, env)
        first.wait_for(r"leading \(pid")
        (old,) = [r for r in rows.runs("local") if r.id == crashed]
        assert old.outcome == "interrupted" and "is gone" in old.message
        wait_until(lambda: len(rows.finished("local")) >= 2, 20, "a run of the leader", first)
        second = services(config, env)
        second.wait_for("standing by")
        # kill the leader between two runs, as a crash would
        wait_until(lambda: not first.children(), 10, "the leader to be between runs", first)
        first.proc.kill()
        first.proc.wait()
        died = datetime.now(UTC)
        second.wait_for("taking over")
        wait_until(
            lambda: any(
                r.pid in second.started_pids() and r.outcome != "running"
                for r in rows.runs("local")
            ),
            20,
            "a run of the new leader",
            second,
        )
        second.proc.send_signal(signal.SIGTERM)
        assert second.proc.wait(timeout=20) == 0
    runs = rows.runs("local")
    mine = [r for r in runs if r.pid in second.started_pids()]
    assert mine and all(as_utc(r.started_at) > died for r in mine)
    assert all(r.pid in first.started_pids() | second.started_pids() for r in runs[1:])
    assert_no_overlap(runs[1:])
    assert {r.outcome for r in runs[1:]} == {"succeeded"}


def test_misfires_past_the_grace_time_are_recorded_and_shown_by_status(
    tmp_path: Path, services: Callable[..., ServiceProcess]
) -> None:
    with SiteServer({}) as srv:
        url = f"sqlite:///{tmp_path / 'gw.db'}"
        # one crawl slot, two sites due at once, each crawl longer than the grace time
        sites = site_toml("one", srv.url("/slow?ms=5000&s=1"), schedule="every 1m")
        sites += site_toml("two", srv.url("/slow?ms=5000&s=2"), schedule="every 1m")
        config = write_config(
            tmp_path, url, sites, max_concurrent_crawls=1, misfire_grace_seconds=3
        )
        service = services(config)
        rows = Rows(url)

        def misfires() -> list[Any]:
            try:
                return rows("SELECT job, message FROM missed_runs WHERE reason = 'misfire'")
            except Exception:
                return []

        wait_until(lambda: bool(misfires()), 40, "a recorded misfire", service)
        (missed,) = misfires()
        assert missed.job in ("crawl:one", "crawl:two")
        assert "past the misfire grace time of 3s" in missed.message
        status = run_cli("--config", str(config), "status")
        assert status.returncode == 0, status.stderr
        service.proc.send_signal(signal.SIGTERM)
        assert service.proc.wait(timeout=20) == 0
    out = status.stdout
    assert out.startswith("service: running on ")
    assert re.search(r"^one\s", out, re.MULTILINE) and re.search(r"^two\s", out, re.MULTILINE)
    assert f"{missed.job.split(':')[1]}: 1 missed run(s) in the last 24h (1 misfire)" in out
    after = run_cli("--config", str(config), "status", "--format", "json")
    data = json.loads(after.stdout)
    assert data["service"]["running"] is False
    assert {s["site"] for s in data["sites"]} == {"one", "two"}


def test_run_rejects_a_bad_http_address(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'gw.db'}", "")
    result = run_cli("--config", str(config), "run", "--http", "localhost")
    assert result.returncode == 2
    assert "--http: 'localhost' is not HOST:PORT" in result.stderr
    assert "Traceback" not in result.stderr


# in-process


def test_fast_schedules_need_the_service_setting(tmp_path: Path) -> None:
    sites = site_toml("local", "http://127.0.0.1:9/yaowenn/", schedule="every 5s")
    path = tmp_path / "fast.toml"
    path.write_text(sites, encoding="utf-8")
    with pytest.raises(ConfigError, match="the shortest schedule is every 1m"):
        load_config(str(path), {})
    path.write_text("[service]\nmin_schedule_seconds = 5\n" + sites, encoding="utf-8")
    assert load_config(str(path), {}).service.min_schedule_seconds == 5
    with pytest.raises(ValueError, match="every 10s"):
        parse_schedule("every 5s", 10)


def test_first_run_picks_up_where_the_last_run_left_off() -> None:
    now = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    every = parse_schedule("every 30m")

    def plan(schedule: Any, last: datetime | None, jitter: int = 0) -> FirstRun:
        return plan_first_run(
            "crawl:x", schedule, last, now, jitter_seconds=jitter, grace_seconds=600
        )

    assert plan(every, None) == FirstRun(at=now)  # never ran: now
    assert plan(every, now - timedelta(minutes=10)) == FirstRun(at=now + timedelta(minutes=20))
    assert plan(every, now - timedelta(minutes=35)) == FirstRun(at=now)  # late, within grace
    late = plan(every, now - timedelta(hours=3))
    assert late.at == now and late.missed_since == now - timedelta(hours=2, minutes=30)
    offset = stable_offset("crawl:x", 60)
    assert 0 <= offset < 60 and offset == stable_offset("crawl:x", 60)
    assert stable_offset("crawl:x", 60) != stable_offset("crawl:y", 60)
    assert plan(every, None, jitter=60) == FirstRun(at=now + timedelta(seconds=offset))
    daily = parse_schedule("0 8 * * *")  # 08:00 Beijing = 00:00 UTC
    assert plan(daily, None) == FirstRun(at=None)  # waits for its time
    assert plan(daily, now - timedelta(hours=2)) == FirstRun(at=None)  # ran today
    missed = plan(daily, now - timedelta(days=2))
    assert missed.at == now and missed.missed_since == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)


def test_metrics_text_format() -> None:
    """Families come out as Prometheus reads them (checked with the client's own parser):
    names, types, label order, escaping."""
    fams = [
        family("govwatch_x_total", "counter", "An x.\nSecond line.", [((("site", 'a"b\\'),), 3)]),
        family("govwatch_y", "gauge", "A y.", [((), 1.5)]),
        family("govwatch_z", "gauge", "No sample yet."),
    ]

    class Fixed:
        def collect(self) -> list[Metric]:
            return fams

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fixed())  # type: ignore[arg-type]
    text = exposition(registry)
    assert 'govwatch_x_total{site="a\\"b\\\\"} 3' in text
    assert "# HELP govwatch_x_total An x.\\nSecond line.\n" in text
    parsed = {f.name: f for f in text_string_to_metric_families(text)}
    assert parsed["govwatch_x"].type == "counter"  # the parser drops _total from the family
    (sample,) = parsed["govwatch_x"].samples
    assert sample.name == "govwatch_x_total" and sample.labels == {"site": 'a"b\\'}
    assert sample.value == 3 and parsed["govwatch_x"].documentation == "An x.\nSecond line."
    assert parsed["govwatch_y"].type == "gauge" and parsed["govwatch_y"].samples[0].value == 1.5
    assert parsed["govwatch_z"].samples == []
    with pytest.raises(ValueError):
        family("bad name", "gauge", "")
    with pytest.raises(ValueError):
        family("govwatch_w", "histogram", "")
    with pytest.raises(ValueError):
        family("govwatch_w", "gauge", "", [((("a", "1"),), 1), ((("b", "1"),), 1)])
    assert METRICS_CONTENT_TYPE == CONTENT_TYPE_PLAIN_0_0_4


def test_service_metrics_keep_their_names_types_and_labels(db: Database) -> None:
    """Every family of the service's page, as Prometheus parses it, with the process
    collector's standard families beside them."""
    text = service_text(db, leader=True, started_at=1.5e9, running=("crawl:a", "links"))
    parsed = {f.name: f for f in text_string_to_metric_families(text)}
    expected = {
        "govwatch_service_leader": ("gauge", []),
        "govwatch_service_start_time_seconds": ("gauge", []),
        "govwatch_jobs_running": ("gauge", ["kind"]),
        "govwatch_crawl_runs": ("counter", ["site", "outcome"]),
        "govwatch_site_blocked": ("gauge", ["site", "reason"]),
        "govwatch_articles": ("gauge", ["site"]),
        "govwatch_articles_new": ("counter", ["site"]),
        "govwatch_crawl_errors": ("counter", ["site"]),
        "govwatch_last_success_timestamp_seconds": ("gauge", ["site"]),
        "govwatch_missed_runs": ("counter", ["job", "reason"]),
        "govwatch_links": ("gauge", ["status"]),
        "govwatch_digest_deliveries": ("gauge", ["state"]),
        "govwatch_database_up": ("gauge", []),
        "process_resident_memory_bytes": ("gauge", []),
        "process_cpu_seconds": ("counter", []),
    }
    for name, (kind, labels) in expected.items():
        assert name in parsed, f"{name} missing:\n{text}"
        assert parsed[name].type == kind, name
        assert all(list(s.labels) == labels for s in parsed[name].samples), name
    running = {s.labels["kind"]: s.value for s in parsed["govwatch_jobs_running"].samples}
    assert running == {"crawl": 1, "digest": 0, "other": 1}
    assert parsed["govwatch_service_start_time_seconds"].samples[0].value == 1.5e9
    assert parsed["govwatch_database_up"].samples[0].value == 1
    assert parsed["process_resident_memory_bytes"].samples[0].value > 1e6


def test_listen_addresses() -> None:
    assert parse_listen("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_listen("[::1]:0") == ("::1", 0)
    with pytest.raises(ValueError):
        parse_listen("8080")


def test_status_warnings(tmp_path: Path, db: Database) -> None:
    config_path = tmp_path / "status.toml"
    config_path.write_text(
        "".join(
            site_toml(name, f"http://127.0.0.1:9/{name}/", schedule="every 30m")
            for name in ("broken", "quiet", "drifted", "fine")
        ),
        encoding="utf-8",
    )
    config = load_config(str(config_path), {})
    now = repository.utcnow()
    with db.session() as session:
        ids = repository.sync_sites(session, [SiteInfo(s.name, s.title) for s in config.sites])

        def run(site: str, hours_ago: float, outcome: str, **totals: Any) -> int:
            run_id = repository.start_run(session, ids[site])
            repository.finish_run(
                session, run_id, RunTotals(**totals), outcome=outcome, message=f"{outcome}!"
            )
            session.execute(
                update(CrawlRun)
                .where(CrawlRun.id == run_id)
                .values(started_at=now - timedelta(hours=hours_ago))
            )
            return run_id

        run("broken", 3, "succeeded")
        for hours in (2, 1, 0.5):
            run("broken", hours, "failed")
        run("quiet", 100, "succeeded", list_pages=1)
        run("quiet", 1, "succeeded", list_pages=1)
        run("drifted", 1, "warning", warnings=("list_link_selector matched nothing",))
        run("fine", 1, "succeeded")
        repository.record_missed(
            session, "crawl:fine", reason="overlap", message="still running", scheduled_at=now
        )
    status = build_status(config, db)
    warnings = {s.name: s.warnings for s in status.sites}
    assert warnings["broken"] == ("failing: the last 3 runs failed: failed!",)
    assert len(warnings["quiet"]) == 1 and warnings["quiet"][0].startswith(
        "no article ever for 100h"
    )
    assert warnings["drifted"] == ("last run: list_link_selector matched nothing",)
    assert warnings["fine"] == (
        "1 missed run(s) in the last 24h (1 overlap); latest: still running",
    )
    assert status.warnings == ("govwatch run has never run on this database",)
    out = render_text(status)
    assert "service: never ran on this database" in out
    assert re.search(r"^broken\s+\S+ \S+\s+failed\s", out, re.MULTILINE), out


def test_sighup_reloads_the_sites(tmp_path: Path, services: Callable[..., ServiceProcess]) -> None:
    site = build_ccdi_site(n_articles=3, per_page=5)
    with SiteServer(site.pages) as srv:
        url = f"sqlite:///{tmp_path / 'gw.db'}"
        one = site_toml("one", srv.url("/yaowenn/"), schedule="every 1m")
        config = write_config(tmp_path, url, one)
        service = services(config)
        rows = Rows(url)
        wait_until(lambda: bool(rows.finished("one")), 20, "a run of the first site", service)
        good = config.read_text(encoding="utf-8")
        config.write_text(good + "\n[crawl]\nbroken = 1\n", encoding="utf-8")
        service.proc.send_signal(signal.SIGHUP)
        service.wait_for("reload failed, the configuration in use stays")
        config.write_text(
            good + site_toml("two", srv.url("/yaowenn/"), schedule="every 1m"), encoding="utf-8"
        )
        service.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: bool(rows.finished("two")), 20, "a run of the added site", service)
        service.proc.send_signal(signal.SIGTERM)
        assert service.proc.wait(timeout=20) == 0
    assert "job crawl:one: removed" not in service.text()
    assert len(rows.runs("one")) == 1  # the unchanged site kept its schedule


def test_healthz_says_503_unless_the_scheduler_ticks_and_the_database_answers(
    tmp_path: Path,
) -> None:
    from scheduler.service import Service

    config = load_config(str(write_config(tmp_path, f"sqlite:///{tmp_path / 'gw.db'}", "")), {})

    def service(url: str) -> Service:
        return Service(
            config, Database(url), child_argv=["true"], reload_config=lambda: config, listen=""
        )

    standby = service(f"sqlite:///{tmp_path / 'gw.db'}")
    health = standby.health()
    assert health.ok and health.details["status"] == "standby"
    standby._leader = True  # leading, but no scheduler ticks
    health = standby.health()
    assert not health.ok and health.details["status"] == "scheduler not running"
    unreachable = service("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    health = unreachable.health()
    assert not health.ok and health.details["status"] == "database unreachable"
    assert "govwatch_database_up 0" in unreachable.metrics_text()


def test_the_services_sqlite_connections_cache_few_pages(tmp_path: Path) -> None:
    # with SQLite's default (2,000 KiB each) the service's RSS grew with its database
    # (bench/service_rss.py)
    from scheduler.commands import SERVICE_SQLITE_CACHE_KIB, open_service_database
    from storage.migrate import current_revision, head_revision

    config = load_config(str(write_config(tmp_path, f"sqlite:///{tmp_path / 'gw.db'}", "")), {})
    db = open_service_database(config)
    try:
        assert current_revision(db) == head_revision()  # upgraded first
        with db.connect() as first, db.connect() as second:
            sizes = [c.execute(text("PRAGMA cache_size")).scalar() for c in (first, second)]
        assert sizes == [-SERVICE_SQLITE_CACHE_KIB] * 2
    finally:
        db.dispose()
