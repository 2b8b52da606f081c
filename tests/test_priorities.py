"""The crawl process and its database child yield the cores to the extraction workers
(``[crawl] defer_to_workers``): read off a real crawl's processes, held mid-crawl."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from tests.sitesrv import Page, SiteServer, build_ccdi_site
from tests.test_crawl import ccdi_config
from tests.test_writer import ARTICLE, children, start_crawl


def nice_values(pid: int) -> set[int]:
    """The nice values of every thread of process ``pid``."""
    values = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = (task / "stat").read_bytes().rsplit(b")", 1)[1].split()
        values.add(int(fields[16]))  # field 19 of stat: after pid, comm and state
    return values


def worker_threads_once_numpy_is_loaded(pid: int) -> int:
    """How many threads worker ``pid`` runs once it has loaded numpy (its warm-up, at the
    crawl's start), steady for 0.3 s."""
    deadline = time.monotonic() + 30
    while "_multiarray_umath" not in Path(f"/proc/{pid}/maps").read_text():
        assert time.monotonic() < deadline, "the worker never loaded numpy"
        time.sleep(0.02)
    counts = [-1]
    while len(counts) < 15 or len(set(counts[-15:])) > 1:
        counts.append(len(list(Path(f"/proc/{pid}/task").iterdir())))
        time.sleep(0.02)
    return counts[-1]


@pytest.mark.parametrize(("workers", "defer"), [(1, 7), (1, 0), (0, 7)])
def test_the_workers_keep_the_commands_priority_and_the_rest_defer(
    tmp_path: Path, workers: int, defer: int
) -> None:
    site = build_ccdi_site(n_articles=12, per_page=10)
    asked, release = threading.Event(), threading.Event()

    def hold(path: str, _headers: dict[str, str]) -> Page | None:
        if ARTICLE.search(path):
            asked.set()
            release.wait(60)  # the crawl waits on its first article meanwhile
        return None

    base = os.getpriority(os.PRIO_PROCESS, 0)
    with SiteServer(site.pages, guard=hold) as srv:
        extra = f"extract_workers = {workers}\ndefer_to_workers = {defer}"
        crawl = start_crawl(ccdi_config(tmp_path, srv, extra=extra))
        try:
            assert asked.wait(60), "the crawl never asked for an article"
            (db_child,) = children(crawl.pid, "govwatch-db")
            seen = {"crawl": nice_values(crawl.pid), "db": nice_values(db_child)}
            if workers:
                (worker,) = children(crawl.pid, "govwatch-worker")
                seen["worker"] = nice_values(worker)
                threads = worker_threads_once_numpy_is_loaded(worker)
        finally:
            release.set()
        out, err = crawl.communicate(timeout=120)
    assert crawl.returncode == 0, err[-3000:]
    assert "12 new, 0 errors" in out, out
    lowered = min(19, base + defer) if workers else base
    assert seen["crawl"] == seen["db"] == {lowered}, seen  # every thread of both
    if workers:
        assert seen["worker"] == {base}, seen
        # its own and the one that ends it with the crawl: no OpenBLAS thread per core
        assert threads == 2
