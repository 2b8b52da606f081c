#!/usr/bin/env python3
"""Fault matrix: does govwatch store every article once when crawls are killed, a list page
fails, a crawl or the service is stopped, or PostgreSQL goes away?

Serves a generated ccdi-style site on 127.0.0.1 (``tests/sitesrv.py``: by default 300
articles, 20 per list page, 15 list pages) and runs whole ``govwatch`` processes against it,
each scenario on a fresh database, SQLite and PostgreSQL:

  baseline       one healthy crawl (also times the crawl, for the kill points below)
  sigkill        ``govwatch crawl`` killed with SIGKILL (its process group) at a random moment
                 of the crawling (seeded; measured from the moment its run is recorded, as a
                 fraction of the baseline's crawling time), then two healthy crawls; repeated
                 at ``--kill-points`` moments, one fresh database each
  list-502       list page 4 answers 502 through all its retries in the first run, then two
                 healthy runs
  sigterm-crawl  ``govwatch crawl`` gets SIGTERM mid-run, then one healthy run
  sigterm-service
                 ``govwatch run`` gets SIGTERM mid-crawl (``shutdown_grace_seconds`` short, so
                 the crawl is stopped, not waited for), then the service is started again
                 twice, each time until it has finished one run
  pg-outage      (PostgreSQL only, on a private cluster started for the purpose) the cluster
                 is stopped mid-crawl under ``govwatch run`` for ``--outage-seconds``, started
                 again, and the service (restarted if it exited, as systemd's
                 ``Restart=on-failure`` would) goes on until two more runs have finished;
                 the service log lines and tracebacks written during the outage are counted

Columns: articles expected; stored after the faulty run; stored at the end (distinct
expected articles); duplicates (rows beyond the first with the same canonical URL path, and
with the same title); missing; runs needed (runs, the faulty one included, until every
article was stored; ``never`` when the last run still missed some).  Exit status 0 even when
articles are lost: this is a measurement.

    .venv/bin/python bench/faults.py              # the full matrix, ~6-8 min
    .venv/bin/python bench/faults.py --quick      # 120 articles, 3 kill points, 10 s outage,
                                                  # single faults on SQLite only
    .venv/bin/python bench/faults.py --no-pg --only sigkill --kill-points 20 --seed 7
    .venv/bin/python bench/faults.py --pg postgresql://postgres@127.0.0.1:5432/test

PostgreSQL: each database is a new schema in ``--pg`` (dropped at the end); the outage runs
on a private cluster (``initdb`` into a temporary directory, as the ``postgres`` user when run
as root, on a free loopback port), stopped and deleted at the end.  ``--keep-logs DIR`` keeps
every process's log (the outage's service log shows what the operator would see).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.sitesrv import Page as _Page  # noqa: E402
from tests.sitesrv import SiteServer, build_ccdi_site, error_page  # noqa: E402

log = logging.getLogger("faults")

PATTERN = r"/yaowenn/\d{6}/t\d{8}_\d+\.html$"
SITE = "faults"
RUNNING_SQL = "SELECT count(*) FROM crawl_runs WHERE outcome = 'running'"
RESTART_SEC = 10.0  # systemd RestartSec in the unit file of README.md
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


# --------------------------------------------------------------------------- the local site


class FaultySite(SiteServer):
    """The test site server, with paths that can be switched to answer 502."""

    def __init__(self, pages: dict[str, _Page]) -> None:
        super().__init__(pages)
        self.failing: set[str] = set()

    def __enter__(self) -> FaultySite:
        self.start()
        return self

    def resolve(self, target: str):  # type: ignore[no-untyped-def]  # tests.sitesrv's _Action
        if urlsplit(target).path in self.failing:
            return error_page(502)
        return super().resolve(target)


# --------------------------------------------------------------------------- databases


@dataclass
class Counts:
    """What a database holds of the site's articles."""

    stored: int = 0  # distinct expected articles (by URL path)
    dup_url: int = 0  # rows beyond the first with the same URL path
    dup_title: int = 0  # rows beyond the first with the same title
    extra: int = 0  # rows that are not one of the site's articles


def count_articles(url: str, expected: dict[str, str]) -> Counts:
    """Count the ``articles`` rows against ``expected`` (URL path -> title)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT url, title FROM articles")).all()
    except Exception as exc:  # no schema yet (killed before it was made), database down
        log.info("cannot count articles (%s): counted as none", type(exc).__name__)
        return Counts()
    finally:
        engine.dispose()
    paths = Counter(urlsplit(u).path for u, _ in rows)
    titles = Counter(t for _, t in rows)
    return Counts(
        stored=sum(1 for p in paths if p in expected),
        dup_url=sum(n - 1 for n in paths.values() if n > 1),
        dup_title=sum(n - 1 for t, n in titles.items() if n > 1 and t),
        extra=sum(n for p, n in paths.items() if p not in expected),
    )


def query_int(url: str, sql: str) -> int:
    """One number from the database; -1 when it cannot be read."""
    engine = create_engine(url, poolclass=NullPool, connect_args=_connect_args(url))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one())
    except Exception:
        return -1
    finally:
        engine.dispose()


def _connect_args(url: str) -> dict[str, object]:
    return {"connect_timeout": 2} if url.startswith("postgresql") else {}


class Backend:
    """Fresh databases of one kind; ``cleanup`` removes what was made."""

    name = ""

    def fresh(self, workdir: Path) -> str:
        raise NotImplementedError

    def cleanup(self) -> None:
        pass


class SqliteBackend(Backend):
    name = "sqlite"

    def fresh(self, workdir: Path) -> str:
        return f"sqlite:///{workdir / 'govwatch.db'}"


class SchemaBackend(Backend):
    """A new schema per database in a shared PostgreSQL database (dropped at the end)."""

    name = "postgresql"

    def __init__(self, base: str) -> None:
        self.base = base
        self.schemas: list[str] = []

    def fresh(self, workdir: Path) -> str:
        import psycopg

        schema = f"gw_faults_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.base, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        self.schemas.append(schema)
        sep = "&" if "?" in self.base else "?"
        url = self.base.replace("postgresql://", "postgresql+psycopg://", 1)
        return f"{url}{sep}options=-csearch_path%3D{schema}"

    def cleanup(self) -> None:
        import psycopg

        if not self.schemas:
            return
        with psycopg.connect(self.base, autocommit=True) as conn:
            for schema in self.schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        self.schemas.clear()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PrivateCluster:
    """A throw-away PostgreSQL cluster (initdb as the ``postgres`` user when run as root)."""

    def __init__(self) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not bins:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.bin = bins[-1].parent
        self.dir = Path(tempfile.mkdtemp(prefix="govwatch-faults-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.dir, "postgres", "postgres")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/govwatch"

    def _run(self, *argv: str) -> None:
        subprocess.run(
            [*self.as_user, *argv],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=120,
        )

    def init(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        )
        self.start()
        self._run(
            str(self.bin / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "govwatch",
        )

    def start(self) -> None:
        options = f"-k {self.dir} -p {self.port} -c listen_addresses=127.0.0.1"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "server.log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop()
        except (subprocess.SubprocessError, OSError) as exc:
            log.warning("could not stop the private cluster: %s", exc)
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------- processes


def write_config(
    workdir: Path, start_url: str, db_url: str, opts: argparse.Namespace, list_pages: int
) -> Path:
    path = workdir / "govwatch.toml"
    path.write_text(
        f"""
[database]
url = "{db_url}"

[crawl]
retries = {opts.retries}
retry_backoff_seconds = 0.2
retry_backoff_max_seconds = 1
timeout_seconds = 10

[service]
min_schedule_seconds = 1
jitter_seconds = 0
heartbeat_seconds = 1
max_concurrent_crawls = 1
shutdown_grace_seconds = {opts.service_grace}
kill_after_seconds = 5
standby_poll_seconds = 1
digest_schedule = ""

[links]
schedule = "0 0 1 1 *"
allow_private_addresses = true

[[sites]]
name = "{SITE}"
start_urls = ["{start_url}"]
article_url_pattern = '{PATTERN}'
list_link_selector = ".list_news_dl2 li a"
max_list_pages = {list_pages + 5}
delay_seconds = {opts.delay}
stop_at_known_page = true
schedule = "every {opts.service_every}s"
[sites.selectors]
title = "h2.tit"
publish_time = ".daty_con .e2"
source = ".daty_con .e1"
body = "div.content"
""",
        encoding="utf-8",
    )
    return path


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVWATCH_")}
    env["PYTHONPATH"] = str(REPO)
    return env


@dataclass
class Proc:
    """A govwatch process in a session (process group) of its own, logging to a file."""

    popen: subprocess.Popen[bytes]
    logfile: Path

    @classmethod
    def start(cls, config: Path, args: list[str], logfile: Path) -> Proc:
        with logfile.open("ab") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", "scheduler", "--config", str(config), *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env=child_env(),
                cwd=config.parent,
                start_new_session=True,
            )
        return cls(popen, logfile)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def signal(self, sig: signal.Signals, group: bool = False) -> None:
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(self.popen.pid, sig)
            else:
                self.popen.send_signal(sig)

    def reap(self) -> None:
        """Leave nothing behind: SIGKILL the whole group if anything of it still runs."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)


@contextlib.contextmanager
def running(proc: Proc) -> Iterator[Proc]:
    try:
        yield proc
    finally:
        proc.reap()


def crawl(config: Path, logfile: Path, timeout: float = 300) -> int:
    """One healthy ``govwatch crawl`` to its end; its exit status."""
    with running(Proc.start(config, ["crawl", SITE], logfile)) as proc:
        rc = proc.wait(timeout)
        return -1 if rc is None else rc


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds; whether it became true."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


# --------------------------------------------------------------------------- results


@dataclass
class Row:
    scenario: str
    db: str
    expected: int = 0
    after_fault: int = 0
    stored: int = 0
    dup_url: int = 0
    dup_title: int = 0
    extra: int = 0  # rows that are none of the site's articles
    runs: list[str] = field(default_factory=list)  # per trial: "2", "never"
    note: str = ""

    @property
    def missing(self) -> int:
        return self.expected - self.stored

    def add(self, expected: int, after_fault: int, final: Counts, runs_needed: str) -> None:
        self.expected += expected
        self.after_fault += after_fault
        self.stored += final.stored
        self.dup_url += final.dup_url
        self.dup_title += final.dup_title
        self.extra += final.extra
        self.runs.append(runs_needed)

    def runs_text(self) -> str:
        """``2`` for one trial; for several, how many needed each count: ``1:2 2:5 never:3``."""
        if len(self.runs) == 1:
            return self.runs[0]
        tally = Counter(self.runs)
        order = sorted(tally, key=lambda r: (r == "never", int(r) if r.isdigit() else 0))
        return " ".join(f"{r}:{tally[r]}" for r in order)


HEADER = (
    f"{'scenario':<17} {'db':<10} {'expected':>8} {'after fault':>11} {'stored':>7} "
    f"{'dup URL':>7} {'dup title':>9} {'missing':>7}  runs needed"
)


def format_row(row: Row) -> str:
    line = (
        f"{row.scenario:<17} {row.db:<10} {row.expected:>8} {row.after_fault:>11} "
        f"{row.stored:>7} {row.dup_url:>7} {row.dup_title:>9} {row.missing:>7}  "
        f"{row.runs_text()}"
    )
    note = row.note + (
        f"; {row.extra} stored rows are none of the site's articles" if row.extra else ""
    )
    return line + (f"\n    {note}" if note else "")


def runs_needed(history: list[int], expected: int) -> str:
    """Index (1-based) of the first run after which every article was stored."""
    for i, stored in enumerate(history, 1):
        if stored >= expected:
            return str(i)
    return "never"


# --------------------------------------------------------------------------- scenarios


@dataclass
class Bench:
    opts: argparse.Namespace
    srv: FaultySite
    start_url: str
    expected: dict[str, str]  # URL path -> title
    list_paths: list[str]
    tmp: Path
    crawl_seconds: dict[str, float] = field(default_factory=dict)  # whole process
    fetch_seconds: dict[str, float] = field(default_factory=dict)  # from its run's start
    rows: list[Row] = field(default_factory=list)
    out: TextIO = sys.stdout

    @property
    def n(self) -> int:
        return len(self.expected)

    def emit(self, row: Row) -> None:
        self.rows.append(row)
        print(format_row(row), file=self.out, flush=True)

    def workdir(self, label: str) -> Path:
        path = self.tmp / f"{label}-{uuid.uuid4().hex[:6]}"
        path.mkdir()
        return path

    def setup(self, backend: Backend, label: str) -> tuple[Path, str, Path]:
        workdir = self.workdir(f"{backend.name}-{label}")
        url = backend.fresh(workdir)
        config = write_config(workdir, self.start_url, url, self.opts, len(self.list_paths))
        return workdir, url, config

    def count(self, url: str) -> Counts:
        return count_articles(url, self.expected)

    def healthy_runs(self, config: Path, url: str, workdir: Path, runs: int) -> list[int]:
        history = []
        for i in range(runs):
            rc = crawl(config, workdir / f"crawl-after-{i + 1}.log")
            history.append(self.count(url).stored)
            log.info("  healthy run %d: exit %d, %d stored", i + 1, rc, history[-1])
        return history

    # baseline ------------------------------------------------------------------
    def baseline(self, backend: Backend) -> None:
        workdir, url, config = self.setup(backend, "baseline")
        started = time.monotonic()
        with running(Proc.start(config, ["crawl", SITE], workdir / "crawl.log")) as proc:
            wait_for(lambda: proc.popen.poll() is not None or self.run_started(url), 120, 0.05)
            run_started = time.monotonic()
            rc = proc.wait(300)
        ended = time.monotonic()
        self.crawl_seconds[backend.name] = ended - started
        self.fetch_seconds[backend.name] = max(0.5, ended - run_started)
        counts = self.count(url)
        row = Row("baseline", backend.name)
        row.add(self.n, counts.stored, counts, runs_needed([counts.stored], self.n))
        row.note = (
            f"one crawl: {ended - started:.1f} s, of which {run_started - started:.1f} s before "
            f"its run began (process start, schema); exit {rc}"
        )
        self.emit(row)

    def run_started(self, url: str) -> bool:
        return query_int(url, "SELECT count(*) FROM crawl_runs") > 0

    def fault_delay(self, backend: str, rng: random.Random, low: float, high: float) -> float:
        """A random moment within the crawling part of a normal run (after its run began)."""
        return rng.uniform(low, high) * self.fetch_seconds.get(backend, 4.0)

    def start_crawl_and_wait(self, config: Path, logfile: Path, url: str) -> Proc:
        """``govwatch crawl`` started, returned once its run has begun (or it has exited)."""
        proc = Proc.start(config, ["crawl", SITE], logfile)
        wait_for(lambda: proc.popen.poll() is not None or self.run_started(url), 120, 0.05)
        return proc

    # sigkill -------------------------------------------------------------------
    def sigkill(self, backend: Backend, rng: random.Random) -> None:
        row = Row(f"sigkill ×{self.opts.kill_points}", backend.name)
        detail = []
        left_running = 0
        too_late = 0
        for k in range(self.opts.kill_points):
            delay = self.fault_delay(backend.name, rng, 0.02, 0.9)
            workdir, url, config = self.setup(backend, f"kill{k}")
            proc = self.start_crawl_and_wait(config, workdir / "killed.log", url)
            with running(proc):
                exited = proc.wait(delay)
                proc.signal(signal.SIGKILL, group=True)
            too_late += exited is not None
            after = self.count(url).stored
            history = [after, *self.healthy_runs(config, url, workdir, 2)]
            final = self.count(url)
            row.add(self.n, after, final, runs_needed(history, self.n))
            left_running += max(0, query_int(url, RUNNING_SQL))
            detail.append(f"{delay:.1f}s:{'/'.join(map(str, history))}")
            log.info(
                "%s kill %d at %.2fs%s: stored %s",
                backend.name,
                k + 1,
                delay,
                " (had exited)" if exited is not None else "",
                history,
            )
        row.note = (
            f"SIGKILL (process group) N s after the run began: stored after the kill/run 2/"
            f"run 3 = {' '.join(detail)}; runs left 'running': {left_running}"
            + (f"; {too_late} crawl(s) had ended before the kill" if too_late else "")
        )
        self.emit(row)

    # list page 502 ---------------------------------------------------------------
    def list_502(self, backend: Backend) -> None:
        workdir, url, config = self.setup(backend, "l502")
        failing = self.list_paths[min(3, len(self.list_paths) - 1)]
        self.srv.failing = {failing}
        try:
            rc = crawl(config, workdir / "crawl-502.log")
        finally:
            self.srv.failing = set()
        after = self.count(url).stored
        history = [after, *self.healthy_runs(config, url, workdir, 2)]
        row = Row("list-502", backend.name)
        row.add(self.n, after, self.count(url), runs_needed(history, self.n))
        outcomes = self.outcomes(url)
        row.note = f"{failing} 502; first run exit {rc}; runs (outcome:new) {outcomes}"
        self.emit(row)

    def outcomes(self, url: str) -> str:
        engine = create_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    text("SELECT outcome, articles_new FROM crawl_runs ORDER BY id")
                ).all()
        except Exception as exc:
            return f"? ({type(exc).__name__})"
        finally:
            engine.dispose()
        return ",".join(f"{o}:{n}" for o, n in rows)

    # SIGTERM of a crawl ------------------------------------------------------------
    def sigterm_crawl(self, backend: Backend, rng: random.Random) -> None:
        workdir, url, config = self.setup(backend, "term")
        delay = self.fault_delay(backend.name, rng, 0.3, 0.7)
        with running(self.start_crawl_and_wait(config, workdir / "term.log", url)) as proc:
            proc.wait(delay)
            proc.signal(signal.SIGTERM)
            rc = proc.wait(60)
        after = self.count(url).stored
        history = [after, *self.healthy_runs(config, url, workdir, 1)]
        row = Row("sigterm-crawl", backend.name)
        row.add(self.n, after, self.count(url), runs_needed(history, self.n))
        row.note = (
            f"SIGTERM {delay:.1f}s after the run began, exit {rc}; "
            f"runs (outcome:new) {self.outcomes(url)}"
        )
        self.emit(row)

    # the service ---------------------------------------------------------------------
    def last_run_id(self, url: str) -> int:
        return max(0, query_int(url, "SELECT coalesce(max(id), 0) FROM crawl_runs"))

    def finished_since(self, url: str, after_id: int) -> int:
        """Crawl runs started after run ``after_id`` that have ended (by the crawl itself:
        runs a service start closes as ``interrupted`` are older)."""
        return query_int(
            url,
            f"SELECT count(*) FROM crawl_runs WHERE id > {after_id} AND outcome != 'running'",
        )

    def run_service_until(self, config: Path, url: str, logfile: Path, runs: int) -> int | None:
        """Start ``govwatch run``, let it finish ``runs`` more crawl runs, stop it."""
        before = self.last_run_id(url)
        with running(Proc.start(config, ["run"], logfile)) as svc:
            ok = wait_for(
                lambda: svc.popen.poll() is not None or self.finished_since(url, before) >= runs,
                timeout=self.opts.service_timeout,
                interval=0.3,
            )
            if not ok:
                log.warning("the service did not finish %d runs in time", runs)
            svc.signal(signal.SIGTERM)
            return svc.wait(60)

    def running_crawl(self, url: str) -> bool:
        return query_int(url, RUNNING_SQL) > 0

    def sigterm_service(self, backend: Backend, rng: random.Random) -> None:
        workdir, url, config = self.setup(backend, "svc")
        delay = self.fault_delay(backend.name, rng, 0.1, 0.6)
        with running(Proc.start(config, ["run"], workdir / "service-1.log")) as svc:
            started = wait_for(lambda: self.running_crawl(url), self.opts.service_timeout, 0.05)
            svc.wait(delay)
            svc.signal(signal.SIGTERM)
            rc = svc.wait(60)
        after = self.count(url).stored
        history = [after]
        # the service again: one healthy run at a time, counting after each
        for i in range(2):
            self.run_service_until(config, url, workdir / f"service-{i + 2}.log", 1)
            history.append(self.count(url).stored)
        row = Row("sigterm-service", backend.name)
        row.add(self.n, after, self.count(url), runs_needed(history, self.n))
        row.note = (
            f"SIGTERM to the service {delay:.1f}s after the crawl's run began"
            f"{'' if started else ' (no crawl seen)'}, shutdown_grace_seconds "
            f"{self.opts.service_grace:g}, exit {rc}; restarted twice until one run each; "
            f"runs (outcome:new) {self.outcomes(url)}"
        )
        self.emit(row)

    # PostgreSQL outage -----------------------------------------------------------------
    def pg_outage(self, rng: random.Random) -> None:
        cluster = PrivateCluster()
        row = Row(f"pg-outage {self.opts.outage_seconds:g}s", "pg-private")
        try:
            cluster.init()
            url = cluster.url
            workdir = self.workdir("outage")
            config = write_config(workdir, self.start_url, url, self.opts, len(self.list_paths))
            logfile = workdir / "service.log"
            # late enough that the first batch of articles is stored: a stop before it
            # loses nothing, whatever the code does
            delay = self.fault_delay("postgresql", rng, 0.4, 0.8)
            svc = Proc.start(config, ["run"], logfile)
            started = [svc]  # every service process, all reaped at the end
            try:
                wait_for(lambda: self.running_crawl(url), self.opts.service_timeout, 0.05)
                svc.wait(delay)
                before_stop = self.count(url).stored
                offset = logfile.stat().st_size
                cluster.stop()
                log.info("cluster stopped %.1fs into the crawl", delay)
                alive, exits = self.supervise(
                    svc, config, logfile, self.opts.outage_seconds, started
                )
                cluster.start()
                data = logfile.read_bytes()[offset:]
                lines = data.count(b"\n")
                tracebacks = data.count(b"Traceback (most recent call last)")
                log.info("cluster started again; %d log lines, %d tracebacks", lines, tracebacks)
                if alive is not None and alive.popen.poll() is not None:
                    exits.append(alive.popen.returncode)
                    alive = None
                svc = alive or Proc.start(config, ["run"], logfile)
                started.append(svc)
                base = self.last_run_id(url)
                history = [before_stop]
                for target in (1, 2):
                    wait_for(
                        lambda t=target: (
                            svc.popen.poll() is not None  # type: ignore[misc]
                            or self.finished_since(url, base) >= t
                        ),
                        self.opts.service_timeout,
                        interval=0.3,
                    )
                    history.append(self.count(url).stored)
                svc.signal(signal.SIGTERM)
                svc.wait(60)
            finally:
                for proc in started:
                    proc.reap()
            row.add(self.n, before_stop, self.count(url), runs_needed(history, self.n))
            row.note = (
                f"cluster stopped {delay:.1f}s after the crawl's run began; during the outage "
                f"{lines} log lines, {tracebacks} tracebacks; service exits {exits or 'none'} "
                f"(restarted after {RESTART_SEC:g} s as systemd would); "
                f"runs (outcome:new) {self.outcomes(url)}"
            )
        finally:
            cluster.destroy()
        self.emit(row)

    @staticmethod
    def supervise(
        svc: Proc, config: Path, logfile: Path, seconds: float, started: list[Proc]
    ) -> tuple[Proc | None, list[int]]:
        """For ``seconds``, restart the service ``RESTART_SEC`` after it exits, as systemd's
        ``Restart=on-failure`` would: the service still running (None: none) and the exit
        statuses seen."""
        exits: list[int] = []
        current: Proc | None = svc
        deadline = time.monotonic() + seconds
        while current is not None and (remaining := deadline - time.monotonic()) > 0:
            rc = current.wait(remaining)
            if rc is None:
                break
            exits.append(rc)
            current.reap()
            current = None
            log.info("the service exited with status %d during the outage", rc)
            pause = min(RESTART_SEC, deadline - time.monotonic())
            if pause > 0:
                time.sleep(pause)  # systemd's RestartSec: a fixed wait, no event to await
            if time.monotonic() < deadline:
                current = Proc.start(config, ["run"], logfile)
                started.append(current)
        if current is None and (left := deadline - time.monotonic()) > 0:
            time.sleep(left)
        return current, exits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="120 articles (10 per page), no delay, 3 kill points, 10 s outage; list-502 and "
        "the SIGTERMs on SQLite only; the service stops its crawl at once (grace 0)",
    )
    parser.add_argument("--articles", type=int, help="articles on the site (300; quick 120)")
    parser.add_argument("--per-page", type=int, help="articles per list page (20; quick 10)")
    parser.add_argument("--kill-points", type=int, help="SIGKILL moments per database (10)")
    parser.add_argument("--outage-seconds", type=float, help="PostgreSQL outage (60; quick 10)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--delay", type=float, help="the site's delay_seconds (0.01; quick 0)")
    parser.add_argument("--retries", type=int, default=2, help="crawl.retries")
    parser.add_argument(
        "--service-grace", type=float, help="the service's shutdown_grace_seconds (1; quick 0)"
    )
    parser.add_argument("--service-every", type=int, default=2, help="site schedule, seconds")
    parser.add_argument("--service-timeout", type=float, default=120.0)
    parser.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL URL for the matrix")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only, no outage")
    parser.add_argument(
        "--keep-logs", type=Path, help="copy every process's log into this directory"
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated subset: baseline,sigkill,list-502,sigterm-crawl,sigterm-service,"
        "pg-outage",
    )
    opts = parser.parse_args()
    if opts.service_grace is None:
        opts.service_grace = 0.0 if opts.quick else 1.0
    if opts.delay is None:
        opts.delay = 0.0 if opts.quick else 0.01
    if opts.articles is None:
        opts.articles = 120 if opts.quick else 300
    if opts.per_page is None:
        opts.per_page = 10 if opts.quick else 20
    if opts.kill_points is None:
        opts.kill_points = 3 if opts.quick else 10
    if opts.outage_seconds is None:
        opts.outage_seconds = 10.0 if opts.quick else 60.0
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr
    )
    only = {s.strip() for s in opts.only.split(",") if s.strip()}
    # Ctrl-C and SIGTERM unwind through every ``finally``: processes, schemas, the cluster.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop)

    def wanted(name: str) -> bool:
        return not only or name in only

    site = build_ccdi_site(
        n_articles=opts.articles, per_page=opts.per_page, body_kb=4, start=date(2012, 1, 1)
    )
    expected = {a.path: a.title for a in site.articles}
    backends: list[Backend] = [SqliteBackend()]
    if not opts.no_pg:
        backends.append(SchemaBackend(opts.pg))
    rng = random.Random(opts.seed)
    began = time.monotonic()
    with (
        FaultySite(site.pages) as srv,
        tempfile.TemporaryDirectory(prefix="govwatch-faults-") as tmp,
    ):
        bench = Bench(
            opts=opts,
            srv=srv,
            start_url=srv.url(site.start_path),
            expected=expected,
            list_paths=site.list_paths,
            tmp=Path(tmp),
        )
        print(
            f"site: {len(expected)} articles, {len(site.list_paths)} list pages of "
            f"{opts.per_page}; seed {opts.seed}; {opts.kill_points} kill points; outage "
            f"{opts.outage_seconds:g} s; govwatch code at {git_head()}"
        )
        print(HEADER)
        try:
            for backend in backends:
                bench.baseline(backend)  # always: it times the crawl for the kill points
                if wanted("sigkill"):
                    bench.sigkill(backend, rng)
                if opts.quick and backend.name != "sqlite" and not only:
                    continue  # quick: the single-fault scenarios on SQLite only
                if wanted("list-502"):
                    bench.list_502(backend)
                if wanted("sigterm-crawl"):
                    bench.sigterm_crawl(backend, rng)
                if wanted("sigterm-service"):
                    bench.sigterm_service(backend, rng)
            if not opts.no_pg and wanted("pg-outage"):
                bench.pg_outage(rng)
        finally:
            if opts.keep_logs:
                shutil.copytree(
                    tmp,
                    opts.keep_logs,
                    ignore=shutil.ignore_patterns("*.db", "*.db-*"),
                    dirs_exist_ok=True,
                )
            for backend in backends:
                try:
                    backend.cleanup()
                except Exception as exc:
                    log.warning("cleanup of %s failed: %s", backend.name, exc)
        faulty = [r for r in bench.rows if r.scenario != "baseline"]
        lost = sum(r.missing for r in faulty)
        dups = sum(r.dup_url + r.dup_title for r in faulty)
        total = sum(r.expected for r in faulty)
        print(
            f"summary: {len(faulty)} fault scenarios, {total} articles expected, "
            f"{lost} missing at the end ({lost / total:.1%}), {dups} duplicated; "
            f"{time.monotonic() - began:.0f} s"
            if total
            else "summary: no fault scenario ran"
        )
    return 0


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def git_head() -> str:
    """The commit of the code measured: the last one outside ``bench/``, and HEAD."""

    def git(*args: str) -> str:
        try:
            out = subprocess.run(
                ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return out.stdout.strip()

    code = git("log", "-1", "--format=%h", "--", ".", ":(exclude)bench")
    head = git("rev-parse", "--short", "HEAD")
    dirty = " + uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else ""
    return f"{code or '?'} (HEAD {head or '?'}){dirty}"


if __name__ == "__main__":
    sys.exit(main())
