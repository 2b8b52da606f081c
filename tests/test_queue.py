"""Scale-out on Procrastinate (issue 16): a ``govwatch run`` leader defers, ``govwatch worker``
processes run the jobs.  Everything real: each test gets a database of its own on the
loopback PostgreSQL (``GOVWATCH_TEST_DATABASE_URL``'s server), local sites each on a port of
its own, the leader, a standby and workers as processes, ``kill -9`` and SIGTERM.

Nothing sleeps for an event: each wait polls the database or a log with a deadline.
Heartbeats and stall times are short through ``[queue]`` settings.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from scheduler.config import load_config
from scheduler.supervisor import TIME_LIMIT, Supervisor
from storage.errors import ConfigError
from tests.conftest import PG_URL, run_cli
from tests.digest_helpers import SmtpServer, add_article, add_site, digest_toml
from tests.processes import ServiceProcess, wait_until
from tests.sitesrv import SiteServer, build_ccdi_site
from tests.test_service import (
    Rows,
    assert_no_overlap,
    http_get,
    metric,
    site_toml,
    write_config,
)

pytestmark = pytest.mark.postgres

QUEUE_SETTINGS = {
    "backend": "procrastinate",
    "heartbeat_seconds": 0.5,
    "stalled_seconds": 3,
    "poll_seconds": 0.5,
    "max_attempts": 3,
}


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty database on the test server, dropped afterwards."""
    if not PG_URL:
        pytest.skip("GOVWATCH_TEST_DATABASE_URL is not set")
    base = make_url(PG_URL).set(drivername="postgresql+psycopg")
    name = f"gw_queue_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def queue_config(
    tmp_path: Path, url: str, sites: str, service: dict[str, Any] | None = None, **queue: Any
) -> Path:
    settings_ = {"standby_poll_seconds": 0.5, "kill_after_seconds": 3, **(service or {})}
    path = write_config(tmp_path, url, sites, **settings_)
    settings = {**QUEUE_SETTINGS, **queue}
    lines = "\n".join(f"{k} = {_toml(v)}" for k, v in settings.items())
    text_ = path.read_text(encoding="utf-8")
    path.write_text(text_.replace("[links]", f"[queue]\n{lines}\n\n[links]", 1), "utf-8")
    return path


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    started: list[ServiceProcess] = []

    def start(config: Path, *args: str) -> ServiceProcess:
        proc = ServiceProcess(config, tmp_path / f"{args[0]}-{len(started) + 1}.log", *args)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill_all()


class QueueRows(Rows):
    def jobs(self) -> list[Any]:
        return self(
            "SELECT id, args->>'job' AS job, status::text AS status, attempts, worker_id"
            " FROM procrastinate_jobs ORDER BY id"
        )

    def deferrals(self, job: str) -> list[Any]:
        return self(
            "SELECT e.at FROM procrastinate_jobs j JOIN procrastinate_events e"
            " ON e.job_id = j.id AND e.type = 'deferred' WHERE j.args->>'job' = :job"
            " ORDER BY e.at",
            job=job,
        )

    def article_counts(self) -> list[Any]:
        return self(
            "SELECT s.name AS site, count(*) AS n, count(DISTINCT a.url) AS distinct_urls"
            " FROM articles a JOIN sites s ON s.id = a.site_id GROUP BY s.name ORDER BY 1"
        )

    def run_hosts(self) -> set[str]:
        return {r.host for r in self("SELECT host FROM crawl_runs")}


def sites_on_own_ports(stack: ExitStack, count: int, n_articles: int = 3, **extra: Any) -> str:
    toml = ""
    for i in range(count):
        site = build_ccdi_site(n_articles=n_articles, per_page=5, start=date(2024, 1, 1 + i))
        srv = stack.enter_context(SiteServer(site.pages))
        toml += site_toml(f"s{i:02d}", srv.url("/yaowenn/"), **extra)
    return toml


# configuration


def test_queue_backend_needs_postgresql(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'gw.db'}", "")
    config.write_text(
        config.read_text().replace("[links]", '[queue]\nbackend = "procrastinate"\n\n[links]')
    )
    with pytest.raises(ConfigError, match=r"queue\.backend: .*needs a PostgreSQL"):
        load_config(str(config))
    result = run_cli("--config", str(config), "run")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "an SQLite database keeps the single-machine service" in result.stderr


def test_worker_without_a_queue_is_a_config_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'gw.db'}", "")
    result = run_cli("--config", str(config), "worker")
    assert result.returncode == 2
    assert 'needs [queue] backend = "procrastinate"' in result.stderr
    result = run_cli("--config", str(config), "worker", "--queues", "crawl,bogus\x1b")
    assert result.returncode == 2 and "not a queue: 'bogus\\x1b'" in result.stderr
    result = run_cli("--config", str(config), "worker", "--concurrency", "99999999999999999999")
    assert result.returncode == 2 and "must be from 1 to 100" in result.stderr


def test_init_creates_the_queue_schema_once(tmp_path: Path, pg_url: str) -> None:
    config = queue_config(tmp_path, pg_url, "")
    first = run_cli("--config", str(config), "init")
    assert first.returncode == 0, first.stderr
    assert "created the job queue's tables" in first.stdout
    again = run_cli("--config", str(config), "init")
    assert again.returncode == 0, again.stderr
    assert "job queue" not in again.stdout
    assert QueueRows(pg_url)("SELECT count(*) AS n FROM procrastinate_jobs")[0].n == 0


# dispatch, locks, overlap


def test_leader_defers_and_workers_crawl_each_site_once_per_tick(
    tmp_path: Path, pg_url: str, procs: Callable[..., ServiceProcess]
) -> None:
    """Two workers; a site whose crawl is slower than its schedule is never crawled twice at
    once and never queued twice: the tick that would overlap is recorded ``overlap``."""
    with ExitStack() as stack:
        sites = sites_on_own_ports(stack, 3, n_articles=3, schedule="every 4s")
        slow = build_ccdi_site(n_articles=6, per_page=5, channel="scdcn")
        srv = stack.enter_context(SiteServer(slow.pages))
        sites += site_toml(
            "slow", srv.url("/scdcn/"), channel="scdcn", schedule="every 1s", delay_seconds=0.5
        )
        config = queue_config(tmp_path, pg_url, sites)
        leader = procs(config, "run", "--http", "127.0.0.1:0")
        port = int(leader.wait_for(r"/metrics on http://127\.0\.0\.1:(\d+)", timeout=90).group(1))
        leader.wait_for(r"leading \(pid", timeout=90)
        workers = [procs(config, "worker", "--concurrency", "2") for _ in range(2)]
        for worker in workers:
            worker.wait_for(
                r"worker \d+ \(.* pid \d+\) takes jobs from crawl, links, digest", timeout=90
            )
        rows = QueueRows(pg_url)
        wait_until(
            lambda: (
                all(len(rows.finished(f"s{i:02d}")) >= 2 for i in range(3))
                and len(rows.finished("slow")) >= 2
            ),
            90,
            "two finished runs of every site",
            leader,
        )
        status = run_cli("--config", str(config), "status")
        assert status.returncode == 0, status.stderr
        assert re.search(r"queue: 2 worker\(s\) alive", status.stdout), status.stdout
        assert re.search(rf"worker \d+: \S+ pid ({workers[0].pid}|{workers[1].pid})", status.stdout)
        code, body = http_get(port, "/metrics")
        assert code == 200
        assert metric(body, "govwatch_queue_workers") == 2
        assert metric(body, 'govwatch_queue_jobs{queue="crawl",status="succeeded"}') >= 8
        assert "# TYPE govwatch_queue_stalled_jobs gauge" in body
        for proc in [leader, *workers]:
            proc.proc.send_signal(signal.SIGTERM)
        for proc in [leader, *workers]:
            assert proc.proc.wait(timeout=60) == 0, proc.text()[-3000:]
    assert_no_overlap(rows.finished("slow"))
    for i in range(3):
        assert_no_overlap(rows.finished(f"s{i:02d}"))
    overlaps = rows(
        "SELECT count(*) AS n FROM missed_runs WHERE job = 'crawl:slow' AND reason = 'overlap'"
    )
    assert overlaps[0].n >= 1
    assert all(r.n == r.distinct_urls for r in rows.article_counts())
    assert {r.site: r.n for r in rows.article_counts()} == {"s00": 3, "s01": 3, "s02": 3, "slow": 6}
    jobs = rows.jobs()
    # a job waiting when the workers stopped stays waiting; none failed or ran twice
    assert {j.status for j in jobs} <= {"succeeded", "todo"}, jobs
    assert all(j.attempts <= 1 for j in jobs), jobs
    assert {r.outcome for r in rows.runs()} <= {"succeeded", "interrupted"}
    assert all("crawl started" in w.text() for w in workers)  # both workers ran jobs
    assert rows.run_hosts() == {os.uname().nodename}


# kill -9: a worker mid-crawl, the leader


# a tick's 20 crawls cost ~60 s of CPU (a process each): the tick leaves room for a loaded
# 2-core machine, where a tick's crawls end up to ~40 s after their deferral
SITES, TICKS, TICK_SECONDS = 20, 3, 45


def test_20_sites_3_workers_leader_and_standby_over_3_ticks_with_kill_9(
    tmp_path: Path, pg_url: str, procs: Callable[..., ServiceProcess]
) -> None:
    """Issue 16's done-when at full size: a leader, a standby and three workers; 20 local
    sites, each crawled exactly once per tick over 3 ticks.  ``kill -9`` of the leader once
    it deferred a tick: the standby takes over and defers the next ones, and no slot is
    deferred twice.  ``kill -9`` of the worker crawling a slow 21st site (deferred once)
    mid-crawl: its crawl dies with it, the job is swept back and re-run on another worker (a
    second attempt), the interrupted run is recorded, no article is stored twice.  The
    survivors stop on SIGTERM (a leader promoted by a failover included)."""
    slots = 11  # per worker: a tick's 21 jobs start at once on the two survivors too
    with ExitStack() as stack:
        sites = sites_on_own_ports(stack, SITES, n_articles=2, schedule=f"every {TICK_SECONDS}s")
        slow = build_ccdi_site(n_articles=8, per_page=5, channel="scdcn")
        srv = stack.enter_context(SiteServer(slow.pages))
        sites += site_toml(
            "slow",
            srv.url("/scdcn/"),
            channel="scdcn",
            schedule="every 1h",  # one job: its retry is what re-runs it
            delay_seconds=0.5,
        )
        config = queue_config(tmp_path, pg_url, sites, {"shutdown_grace_seconds": 2})
        assert run_cli("--config", str(config), "init").returncode == 0
        workers = [procs(config, "worker", "--concurrency", str(slots)) for _ in range(3)]
        for worker in workers:
            worker.wait_for(r"takes jobs from", timeout=90)
        # started together (they pay their start-up at once): one leads, one stands by
        pair = [procs(config, "run") for _ in range(2)]
        roles = [p.wait_for(r"leading \(pid|standing by", timeout=90)[0] for p in pair]
        leader, standby = pair if roles[0].startswith("leading") else pair[::-1]
        standby.wait_for("standing by", timeout=90)
        rows = QueueRows(pg_url)
        names = [f"s{i:02d}" for i in range(SITES)]

        # the leader dies once it deferred a tick; the standby takes over
        wait_until(
            lambda: all(rows.deferrals(f"crawl:{n}") for n in [*names, "slow"]),
            30,
            "the first tick's deferrals",
            leader,
        )
        os.kill(leader.pid, signal.SIGKILL)
        leader.proc.wait()
        standby.wait_for(r"taking over", timeout=10)

        # the worker crawling the slow site dies mid-crawl (some articles fetched)
        wait_until(lambda: srv.count("/scdcn/2") >= 3, 60, "three of the slow site's articles")
        holder = next(w for w in workers if re.search(r"site slow: crawl started", w.text()))
        crawl_pid = int(re.search(r"site slow: crawl started \(pid (\d+)\)", holder.text())[1])
        os.kill(holder.pid, signal.SIGKILL)
        holder.proc.wait()
        wait_until(
            lambda: (
                not Path(f"/proc/{crawl_pid}").exists()
                or "zombie" in Path(f"/proc/{crawl_pid}/status").read_text()
            ),
            10,
            "the dead worker's crawl to die with it",
        )
        others = [w for w in workers if w is not holder]

        def ticks_done() -> bool:
            jobs = rows.jobs()
            for name in [*names, "slow"]:
                first = [j for j in jobs if j.job == f"crawl:{name}"][
                    : 1 if name == "slow" else TICKS
                ]
                if len(first) < (1 if name == "slow" else TICKS):
                    return False
                if any(j.status in ("todo", "doing") for j in first):
                    return False
            return True

        wait_until(ticks_done, (TICKS + 3) * TICK_SECONDS, f"{TICKS} ticks of every site", standby)
        for proc in [standby, *others]:
            proc.proc.send_signal(signal.SIGTERM)
        for proc in [standby, *others]:
            assert proc.proc.wait(timeout=60) == 0, proc.text()[-3000:]

    jobs = rows.jobs()
    for name in names:
        times = [r.at for r in rows.deferrals(f"crawl:{name}")]
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
        assert all(gap >= TICK_SECONDS - 1 for gap in gaps), (name, gaps)  # no slot twice
        assert f"job crawl:{name}: deferred" in leader.text()
        assert f"job crawl:{name}: deferred" in standby.text()  # the standby's tick(s)
        # exactly once per tick: each of its first 3 jobs succeeded, one successful run each.
        # A job the dead worker was running (it ran more than the slow site's) was re-run, or,
        # when the next tick's job waited already, aborted: that job crawls for both ticks
        ticks = [j for j in jobs if j.job == f"crawl:{name}"][:TICKS]
        swept = "".join(w.text() for w in others)
        site_jobs = [j for j in jobs if j.job == f"crawl:{name}"]
        for job in ticks:
            if job.status == "aborted":  # its worker died; the sweep saw a newer one waiting
                assert any(j.id > job.id and j.status == "succeeded" for j in site_jobs), ticks
                continue
            assert job.status == "succeeded", ticks
            again = f"job crawl:{name}: attempt {job.attempts} of 3 (queue job {job.id})"
            assert job.attempts == 1 or again in swept, ticks  # re-run by a survivor
        outcomes = [r.outcome for r in rows.runs(name)]
        done = sum(j.status == "succeeded" for j in site_jobs)
        # a crawl that ended just before its worker died, its job not yet marked done, is
        # crawled again by the retry (at least once; its articles are not stored twice), or,
        # when the sweep aborted that job for a newer one waiting, its run stands succeeded
        retried = sum(j.attempts - 1 for j in site_jobs if j.status == "succeeded")
        aborted = sum(j.status == "aborted" for j in site_jobs)
        assert done <= outcomes.count("succeeded") <= done + retried + aborted, (outcomes, ticks)
        assert set(outcomes) <= {"succeeded", "interrupted"}, outcomes
        assert_no_overlap(rows.finished(name))
    missed = rows("SELECT job, reason FROM missed_runs WHERE reason <> 'shutdown'")
    assert missed == [], missed  # no tick overlapped, none was missed over the failover
    (slow_job,) = [j for j in jobs if j.job == "crawl:slow"]
    assert slow_job.status == "succeeded" and slow_job.attempts == 2, slow_job
    assert [r.outcome for r in rows.runs("slow")] == ["interrupted", "succeeded"]
    assert any(re.search(r"job crawl:slow: attempt 2 of 3", w.text()) for w in others)
    counts = {r.site: (r.n, r.distinct_urls) for r in rows.article_counts()}
    assert counts == {**{n: (2, 2) for n in names}, "slow": (8, 8)}
    assert rows.run_hosts() == {os.uname().nodename}


# visibility: status and /metrics


def test_status_and_metrics_show_running_and_stalled_jobs_with_their_worker(
    tmp_path: Path, pg_url: str, procs: Callable[..., ServiceProcess]
) -> None:
    """A job runs on the only worker: status shows it running on that worker's host and pid,
    the worker alive, and another site's job waiting for the worker.  The worker is killed
    with -9 mid-job: with no worker left to sweep it, the job shows as stalled (still with
    the dead worker's host and pid) in ``govwatch status`` (text and JSON) and in
    ``/metrics``; a new worker sweeps it back and re-runs it (a retry in ``/metrics``), and
    it is stalled no more."""
    host = os.uname().nodename
    with ExitStack() as stack:
        slow = build_ccdi_site(n_articles=8, per_page=5, channel="scdcn")
        srv = stack.enter_context(SiteServer(slow.pages))
        sites = site_toml(
            "slow", srv.url("/scdcn/"), channel="scdcn", schedule="every 1h", delay_seconds=0.5
        )
        quick = build_ccdi_site(n_articles=2, per_page=5)
        sites += site_toml("quick", stack.enter_context(SiteServer(quick.pages)).url("/yaowenn/"))
        config = queue_config(tmp_path, pg_url, sites)
        leader = procs(config, "run", "--http", "127.0.0.1:0")
        port = int(leader.wait_for(r"/metrics on http://127\.0\.0\.1:(\d+)", timeout=90).group(1))
        first = procs(config, "worker", "--concurrency", "1")
        first.wait_for(r"site slow: crawl started", timeout=90)

        def status() -> str:
            result = run_cli("--config", str(config), "status")
            assert result.returncode == 0, result.stderr
            return result.stdout

        waiting = r"queue: 1 worker\(s\) alive; waiting: 1 crawl; running: 1; stalled: 0"
        wait_until(lambda: re.search(waiting, status()) is not None, 30, "quick's job waiting")
        shown = status()
        assert re.search(rf"worker \d+: {re.escape(host)} pid {first.pid}, 1 job\(s\)", shown)
        running = rf"running: crawl:slow \(job (\d+), attempt 1\) on {re.escape(host)} pid "
        job_id = re.search(running + str(first.pid), shown)
        assert job_id, shown
        body = http_get(port, "/metrics")[1]
        assert metric(body, "govwatch_queue_workers") == 1
        assert (
            sum(
                s.value
                for fam in text_string_to_metric_families(body)
                for s in fam.samples
                if s.name == "govwatch_queue_running_jobs" and s.labels["host"] == host
            )
            == 1
        )

        wait_until(lambda: srv.count("/scdcn/2") >= 2, 60, "mid-crawl: two articles fetched")
        os.kill(first.pid, signal.SIGKILL)
        first.proc.wait()
        stalled = (
            rf"stalled \(its worker died\): crawl:slow \(job {job_id[1]}, attempt 1\) "
            rf"on {re.escape(host)} pid {first.pid}"
        )
        wait_until(lambda: re.search(stalled, status()) is not None, 30, "a stalled job", leader)
        shown = status()
        assert re.search(r"queue: 0 worker\(s\) alive; .*running: 0; stalled: 1", shown), shown
        record = json.loads(run_cli("--config", str(config), "status", "--format", "json").stdout)[
            "queue"
        ]
        assert [(j["job"], j["host"], j["pid"], j["attempt"]) for j in record["stalled"]] == [
            ("crawl:slow", host, first.pid, 1)
        ]
        assert record["running"] == [] and record["workers"] == []
        body = http_get(port, "/metrics")[1]
        assert metric(body, "govwatch_queue_stalled_jobs") == 1
        assert metric(body, "govwatch_queue_workers") == 0

        second = procs(config, "worker", "--concurrency", "1")
        second.wait_for(r"job crawl:slow: attempt 2 of 3", timeout=90)
        shown = status()
        assert "stalled (its worker died)" not in shown and "stalled: 0" in shown, shown
        assert re.search(
            rf"running: crawl:slow \(job {job_id[1]}, attempt 2\) on {re.escape(host)} pid "
            rf"{second.pid}",
            shown,
        ), shown
        body = http_get(port, "/metrics")[1]
        assert metric(body, "govwatch_queue_stalled_jobs") == 0
        assert metric(body, 'govwatch_queue_retried_jobs_total{queue="crawl"}') == 1
        rows = QueueRows(pg_url)
        wait_until(
            lambda: [j.status for j in rows.jobs() if j.job == "crawl:slow"] == ["succeeded"],
            90,
            "the re-run",
            second,
        )
        for proc in (leader, second):
            proc.proc.send_signal(signal.SIGTERM)
            assert proc.proc.wait(timeout=60) == 0, proc.text()[-3000:]
    assert [r.outcome for r in rows.runs("slow")] == ["interrupted", "succeeded"]
    counts = {r.site: (r.n, r.distinct_urls) for r in rows.article_counts()}
    assert counts == {"quick": (2, 2), "slow": (8, 8)}


# SIGTERM on a worker; the time limit


def test_sigterm_on_a_worker_releases_its_job_to_another(
    tmp_path: Path, pg_url: str, procs: Callable[..., ServiceProcess]
) -> None:
    with ExitStack() as stack:
        slow = build_ccdi_site(n_articles=8, per_page=5, channel="scdcn")
        srv = stack.enter_context(SiteServer(slow.pages))
        sites = site_toml(
            "slow", srv.url("/scdcn/"), channel="scdcn", schedule="every 1h", delay_seconds=1.0
        )
        config = queue_config(tmp_path, pg_url, sites, {"shutdown_grace_seconds": 1})
        leader = procs(config, "run")
        first = procs(config, "worker")
        first.wait_for(r"site slow: crawl started", timeout=60)
        second = procs(config, "worker")
        second.wait_for(r"takes jobs from", timeout=90)
        wait_until(lambda: srv.count("/scdcn/2") >= 2, 60, "mid-crawl: two articles fetched")
        began = time.monotonic()
        first.proc.send_signal(signal.SIGTERM)
        assert first.proc.wait(timeout=30) == 0, first.text()[-3000:]
        assert time.monotonic() - began < 1 + 3 + 10  # grace + kill_after + the bookkeeping
        assert "back to the queue" in first.text()
        second.wait_for(r"job crawl:slow: attempt 2 of 3", timeout=30)
        rows = QueueRows(pg_url)
        wait_until(
            lambda: [j.status for j in rows.jobs()] == ["succeeded"], 90, "the re-run", second
        )
        for proc in (leader, second):
            proc.proc.send_signal(signal.SIGTERM)
            assert proc.proc.wait(timeout=60) == 0
    runs = rows.runs("slow")
    assert [r.outcome for r in runs] == ["interrupted", "succeeded"], runs
    assert "shutdown" in runs[0].message
    assert rows.jobs()[0].attempts == 2
    assert [(r.n, r.distinct_urls) for r in rows.article_counts()] == [(8, 8)]


def test_sigterm_on_a_worker_while_its_crawl_starts_releases_the_job(
    tmp_path: Path, pg_url: str, procs: Callable[..., ServiceProcess]
) -> None:
    """No grace: SIGTERM as the crawl's process starts stops it (most often before it
    recorded its run).  The job goes back to the queue, never ``succeeded`` without a crawl,
    and the tick is recorded missed for the shutdown, not as an error."""
    site = build_ccdi_site(n_articles=3, per_page=5)
    with SiteServer(site.pages) as srv:
        sites = site_toml("local", srv.url("/yaowenn/"), schedule="every 1h")
        config = queue_config(tmp_path, pg_url, sites, {"shutdown_grace_seconds": 0})
        leader = procs(config, "run")
        worker = procs(config, "worker")
        worker.wait_for(r"site local: crawl started", timeout=90)
        worker.proc.send_signal(signal.SIGTERM)
        assert worker.proc.wait(timeout=30) == 0, worker.text()[-3000:]
        leader.proc.send_signal(signal.SIGTERM)
        assert leader.proc.wait(timeout=60) == 0, leader.text()[-3000:]
    rows = QueueRows(pg_url)
    (job,) = rows.jobs()
    assert (job.status, job.attempts) == ("todo", 1), worker.text()[-3000:]
    assert "back to the queue" in worker.text()
    assert {r.outcome for r in rows.runs("local")} <= {"interrupted"}
    missed = rows("SELECT reason FROM missed_runs WHERE job = 'crawl:local'")
    assert {m.reason for m in missed} <= {"shutdown"}, missed


def test_time_limit_kills_the_whole_process_group(tmp_path: Path) -> None:
    """A job's child and what it started (a browser, here a shell's background sleep) are
    stopped together at the time limit."""
    pidfile = tmp_path / "grandchild"
    supervisor = Supervisor(["sh", "-c"], kill_after=1, die_with_parent=True)
    script = f"trap '' TERM; sleep 300 & echo $! > {pidfile}; wait"
    result = supervisor.run("job", [script], time_limit=1.0)
    assert result.stopped == TIME_LIMIT and result.killed
    grandchild = int(pidfile.read_text())
    status = Path(f"/proc/{grandchild}/status")
    wait_until(
        lambda: not status.exists() or "zombie" in status.read_text(),
        5,
        "the grandchild to be killed with its group",
    )


# digests


def test_digests_stay_exactly_once_with_several_workers(
    tmp_path: Path, pg_url: str, procs: Callable[..., ServiceProcess]
) -> None:
    """Three workers run the digest's jobs (deferred every second): each window is built
    once and each delivery sent once; the outbox decides, not the queue."""
    with SmtpServer() as smtp:
        digest = digest_toml("daily", smtp, "every 2s")
        sites = site_toml("ccdi", "http://127.0.0.1:9/yaowenn/", enabled=False) + digest
        config = queue_config(tmp_path, pg_url, sites, {"digest_schedule": "every 1s"})
        assert run_cli("--config", str(config), "init").returncode == 0
        rows = QueueRows(pg_url)
        site = add_site(rows.db, "ccdi", "中央纪委国家监委网站")
        add_article(rows.db, site, 1)
        workers = [procs(config, "worker", "--queues", "digest") for _ in range(3)]
        for worker in workers:
            worker.wait_for("takes jobs from digest", timeout=90)
        leader = procs(config, "run")
        wait_until(lambda: len(smtp.messages) >= 4, 60, "four digests by email")
        for proc in [leader, *workers]:
            proc.proc.send_signal(signal.SIGTERM)
        for proc in [leader, *workers]:
            assert proc.proc.wait(timeout=30) == 0, proc.text()[-2000:]
    sent = rows("SELECT d.state, d.attempts FROM digest_deliveries d ORDER BY d.id")
    ids = [m["Message-ID"] for m in smtp.messages]
    assert len(ids) == len(set(ids)) == len(smtp.messages)
    assert len([d for d in sent if d.state == "delivered"]) == len(smtp.messages)
    assert all(d.attempts == 1 for d in sent if d.state == "delivered")
    ran = [w for w in workers if "job digest:daily: ok" in w.text()]
    assert len(ran) >= 2, "the digest's jobs ran on one worker only"
