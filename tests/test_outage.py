"""Quiet outages (issue 11, item 9): ``govwatch run`` against a private PostgreSQL cluster
that is stopped for a few seconds and started again.  The service must stay up, log a
bounded number of lines without a traceback, and carry on once the database is back.

The cluster is our own (``initdb`` into a temporary directory, a free port), never the
shared server; it is skipped where PostgreSQL's binaries or the ``postgres`` user are absent.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.sitesrv import SiteServer, build_ccdi_site
from tests.test_service import Rows, ServiceProcess, services, site_toml, wait_until, write_config

__all__ = ["services"]  # the fixture, imported for this module's tests

_BIN = sorted(str(p) for p in Path("/usr/lib/postgresql").glob("*/bin"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """A throw-away PostgreSQL cluster run as the ``postgres`` user."""

    def __init__(self, bindir: str) -> None:
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="gw-outage-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        user = pwd.getpwnam("postgres")
        os.chown(self.dir, user.pw_uid, user.pw_gid)

    def _as_postgres(self, *argv: str) -> None:
        command = ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._as_postgres(
            f"{self.bindir}/initdb", "-D", str(self.data), "-U", "postgres", "-E", "UTF8",
            "--auth=trust", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            f"{self.bindir}/pg_ctl", "-D", str(self.data), "-o", options,
            "-l", str(self.dir / "server.log"), "-w", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._as_postgres(f"{self.bindir}/pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if not _BIN or shutil.which("runuser") is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres user to run a private cluster as")
    pg = Cluster(_BIN[-1])
    try:
        pg.init()
        pg.start()
        yield pg
    finally:
        pg.remove()


def _log_lines(service: ServiceProcess) -> list[str]:
    return [line for line in service.text().splitlines() if line.strip()]


def test_postgres_outage_is_quiet_and_the_service_recovers(
    tmp_path: Path, cluster: Cluster, services: Callable[..., ServiceProcess]
) -> None:
    site = build_ccdi_site(n_articles=40, per_page=10)
    with SiteServer(site.pages) as srv:
        config = write_config(
            tmp_path,
            cluster.url,
            site_toml("news", srv.url("/yaowenn/"), delay_seconds=0.1),
            heartbeat_seconds=0.5,
            digest_schedule="",
        )
        service = services(config)
        service.wait_for(r"leading \(pid")
        rows = Rows(cluster.url)

        def mid_crawl() -> bool:  # stop the database while a crawl stores articles
            running = [r for r in rows.runs("news") if r.outcome == "running"]
            return bool(running) and srv.count("/yaowenn/2") >= 8

        wait_until(mid_crawl, 60, "a crawl under way", service)
        (last,) = rows("SELECT max(heartbeat_at) AS at FROM service_instances")
        last_run = max(r.id for r in rows.runs("news"))
        rows.db.dispose()
        before = len(_log_lines(service))

        cluster.stop()
        outage = time.monotonic()
        # let the service meet the outage: heartbeats, crawls and the leader lock all fail
        while time.monotonic() - outage < 6:
            assert service.proc.poll() is None, service.text()[-3000:]
            time.sleep(0.2)
        cluster.start()
        back = time.monotonic()

        rows = Rows(cluster.url)

        def heartbeat_after_restart() -> bool:
            try:
                (row,) = rows("SELECT max(heartbeat_at) AS at FROM service_instances")
                runs = [r for r in rows.finished("news") if r.id > last_run]
            except Exception:
                return False
            alive = service.proc.poll() is None
            return alive and str(row.at) > str(last.at) and bool(runs)

        wait_until(heartbeat_after_restart, 90, "a heartbeat and a run after the restart", service)
        recovered_in = time.monotonic() - back
        service.proc.send_signal(signal.SIGTERM)
        service.proc.wait(timeout=40)

    lines = _log_lines(service)
    during = lines[before:]
    text = "\n".join(during)
    assert "Traceback" not in text, text[-4000:]
    assert len(during) < 50, f"{len(during)} log lines during and after the outage:\n{text}"
    print(f"outage: {len(during)} log lines; recovered {recovered_in:.1f}s after the restart")


def test_a_locked_sqlite_database_is_quiet_and_the_service_recovers(
    tmp_path: Path, services: Callable[..., ServiceProcess]
) -> None:
    """SQLite's outage: another process (a backup, say) holds the write lock for longer
    than the busy timeout (30 s): every write fails with "database is locked"."""
    site = build_ccdi_site(n_articles=3, per_page=5)
    with SiteServer(site.pages) as srv:
        path = tmp_path / "gw.db"
        url = f"sqlite:///{path}"
        config = write_config(
            tmp_path, url, site_toml("news", srv.url("/yaowenn/")), heartbeat_seconds=0.5
        )
        service = services(config)
        service.wait_for(r"leading \(pid")
        rows = Rows(url)
        wait_until(lambda: len(rows.finished("news")) >= 1, 30, "a first crawl run", service)
        rows.db.dispose()
        before = len(_log_lines(service))

        holder = sqlite3.connect(path, timeout=60, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        wait_until(lambda: "database is locked" in service.text(), 60, "a locked write", service)
        (last_run,) = holder.execute("SELECT max(id) FROM crawl_runs").fetchone()
        holder.execute("COMMIT")
        holder.close()

        rows = Rows(url)

        def recovered() -> bool:
            later = [r for r in rows.finished("news") if r.id > last_run]
            return bool(later) and service.proc.poll() is None

        wait_until(recovered, 60, "a run after the lock was released", service)
        service.proc.send_signal(signal.SIGTERM)
        service.proc.wait(timeout=40)

    during = _log_lines(service)[before:]
    text = "\n".join(during)
    assert "Traceback" not in text, text[-4000:]
    assert len(during) < 120, f"{len(during)} log lines:\n{text}"  # info lines: 1 s crawls
    print(f"sqlite lock: {len(during)} log lines")
