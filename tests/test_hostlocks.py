"""The service's crawls of sites on one host take turns (scheduler.hostlocks, scheduler.jobs)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from scheduler.config import load_config
from scheduler.hostlocks import HostLocks
from scheduler.jobs import build_jobs


def test_jobs_sharing_a_host_never_overlap_and_others_do() -> None:
    locks = HostLocks()
    inside = threading.Event()
    leave = threading.Event()
    order: list[str] = []

    def first() -> None:
        with locks.hold(["www.ccdi.gov.cn"]):
            order.append("first in")
            inside.set()
            leave.wait(10)
            order.append("first out")

    def second() -> None:
        with locks.hold(["www.ccdi.gov.cn", "example.org"]):
            order.append("second in")

    one = threading.Thread(target=first)
    one.start()
    assert inside.wait(10)
    two = threading.Thread(target=second)
    two.start()
    # a job on another host goes at once while the shared host is held
    other_done = threading.Event()

    def other() -> None:
        with locks.hold(["example.net"]):
            other_done.set()

    three = threading.Thread(target=other)
    three.start()
    assert other_done.wait(10)
    three.join(10)
    two.join(0.2)
    assert two.is_alive() and order == ["first in"]
    leave.set()
    one.join(10)
    two.join(10)
    assert order == ["first in", "first out", "second in"]


def test_crawl_jobs_carry_their_hosts_and_the_link_check_the_guarded_ones(
    tmp_path: Path,
) -> None:
    path = tmp_path / "govwatch.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "gw.db"}"\n', encoding="utf-8")
    jobs = {job.name: job for job in build_jobs(load_config(path))}
    assert jobs["crawl:ccdi"].hosts == ("www.ccdi.gov.cn",)
    assert jobs["crawl:ccdi-scdc"].hosts == ("www.ccdi.gov.cn",)
    assert "www.ccdi.gov.cn" in jobs["check-links"].hosts


@pytest.mark.xfail(
    strict=True,
    reason="open: a job waiting for a host takes a crawl-pool thread (up to the holder's "
    "time limit); retrying later instead starved a site on a busy host (reverted bc8c5ed)",
)
def test_a_job_waiting_for_its_host_does_not_take_a_crawl_thread(tmp_path: Path) -> None:
    # ccdi's crawl stuck on a host that never answers holds www.ccdi.gov.cn up to its time
    # limit; ccdi-scdc's job then sits in one of max_concurrent_crawls' (default 2) threads,
    # and every other site's crawl queues behind the two
    from scheduler.service import Service
    from storage.database import Database

    config = load_config(None, {})
    db = Database(f"sqlite:///{tmp_path / 'gw.db'}")
    service = Service(config, db, child_argv=["true"], reload_config=lambda: config)
    spec = next(j for j in build_jobs(config) if j.name == "crawl:ccdi-scdc")
    service.jobs[spec.name] = spec
    service.runner.run = lambda s: None  # type: ignore[method-assign]
    service._wake_at = lambda name, at: None  # type: ignore[method-assign]
    try:
        with service.host_locks.hold(spec.hosts):  # the other site's crawl runs
            job = threading.Thread(target=service._run_job, args=[spec.name], daemon=True)
            job.start()
            job.join(1)
            assert not job.is_alive()
    finally:
        db.dispose()
