"""The crawl's database calls made by a forked child (crawler.store.child): what a call
answers, how errors come back, and that nothing is lost when the child dies."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
from pathlib import Path

import pytest

from crawler.store.child import ChildStore, fork_store
from storage import migrate
from storage.database import Database
from storage.errors import SchemaError, StorageError
from storage.records import SiteInfo
from tests.conftest import run_cli, run_code
from tests.sitesrv import SiteServer, build_ccdi_site
from tests.test_crawl import ccdi_config
from tests.test_storage import article
from tests.test_writer import children, crawl_killing


def opened(path: Path) -> Database:
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    return db


@pytest.fixture
def store(tmp_path: Path) -> ChildStore:
    store = fork_store(lambda: opened(tmp_path / "gw.db"))
    yield store
    store.close()


def test_calls_are_made_by_the_child_and_answer_as_in_process(
    store: ChildStore, tmp_path: Path
) -> None:
    begun = store.begin_run(SiteInfo("local", "本地"), ["https://example.gov.cn/"], pid=1, host="h")
    result = store.save_articles([article(begun.site_id, n) for n in range(3)], run_id=begun.run_id)
    assert len(result.new) == 3
    assert store.known_urls(["https://example.gov.cn/a/1.html", "x"]) == {
        "https://example.gov.cn/a/1.html"
    }
    assert store.spent() > 0  # the child's CPU for this thread's calls, reported back
    # written by another process: this one never opened the database
    with sqlite3.connect(tmp_path / "gw.db") as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (3,)
    (child,) = children(os.getpid(), "govwatch-db")
    assert child != os.getpid()


def test_two_threads_call_at_once_each_on_its_own_channel(
    store: ChildStore, tmp_path: Path
) -> None:
    begun = store.begin_run(SiteInfo("local", "本地"), ["https://example.gov.cn/"], pid=1, host="h")
    store.save_articles([article(begun.site_id, 0)], run_id=begun.run_id)
    urls = [article(0, n).url for n in range(11)]
    # another process holds the database's write lock: the batch below waits for it in the
    # child, and a lookup made meanwhile on the other channel must not wait behind it
    lock = sqlite3.connect(tmp_path / "gw.db", isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    channel = store._channels[1]  # type: ignore[index]  # the writers' channel
    send = channel.send
    sent = threading.Event()

    def send_and_tell(message: object) -> None:
        send(message)
        sent.set()

    channel.send = send_and_tell  # type: ignore[method-assign]
    errors: list[BaseException] = []

    def write() -> None:
        try:
            store.save_articles(
                [article(begun.site_id, n) for n in range(1, 11)], run_id=begun.run_id
            )
        except BaseException as exc:  # reported below
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert sent.wait(10)  # the batch is on its way to the child, which will wait
        assert store.known_urls(urls) == {urls[0]}
        assert writer.is_alive()  # the batch still waits for the lock: the lookup did not
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    writer.join(30)
    assert not writer.is_alive()
    assert errors == []
    assert store.known_urls(urls) == set(urls)


def test_a_database_error_comes_back_as_itself_and_a_defect_as_one_line(
    store: ChildStore, tmp_path: Path
) -> None:
    store.begin_run(SiteInfo("local", "本地"), ["https://example.gov.cn/"], pid=1, host="h")
    with sqlite3.connect(tmp_path / "gw.db") as conn:
        conn.execute("DROP TABLE article_search")
    with pytest.raises(StorageError, match="article_search"):
        store.save_articles([article(1, 1)], run_id=1)
    with pytest.raises(RuntimeError, match=r"in the database child: AttributeError"):
        store.save_articles(["not an article"], run_id=1)  # type: ignore[list-item]
    assert store.known_urls([]) == set()  # the child serves on


def test_the_childs_error_opening_the_database_is_raised_here(tmp_path: Path) -> None:
    db = opened(tmp_path / "gw.db")
    with db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    db.dispose()
    store = fork_store(lambda: opened(tmp_path / "gw.db"))
    try:
        with pytest.raises(SchemaError, match="newer than this govwatch knows"):
            store.ready()
    finally:
        store.close()


def test_a_child_that_dies_leaves_its_calls_to_this_process(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # killed while opening: this process opens the database itself
    here = os.getpid()

    def die() -> Database:
        if os.getpid() != here:  # the child
            os.kill(os.getpid(), signal.SIGKILL)
        return opened(tmp_path / "gw.db")

    dead = fork_store(die)
    try:
        begun = dead.begin_run(SiteInfo("local", "本地"), [], pid=1, host="h")  # falls back
        assert begun.run_id == 1
    finally:
        dead.close()
    # killed after it opened it: the call that finds it gone is made here, and every later one
    store = fork_store(lambda: opened(tmp_path / "other.db"))
    try:
        begun = store.begin_run(SiteInfo("local", "本地"), [], pid=1, host="h")
        (child,) = children(os.getpid(), "govwatch-db")
        os.kill(child, signal.SIGKILL)
        result = store.save_articles([article(begun.site_id, 1)], run_id=begun.run_id)
        assert len(result.new) == 1
        assert children(os.getpid(), "govwatch-db") == []  # reaped
    finally:
        store.close()
    assert "the database child is gone" in caplog.text


def test_a_crawl_whose_database_child_is_killed_stores_every_article_once(tmp_path: Path) -> None:
    site = build_ccdi_site(n_articles=120, per_page=20)
    with SiteServer(site.pages) as srv:
        config = ccdi_config(tmp_path, srv, max_list_pages="10")
        crawl, out, err = crawl_killing(config, srv, "govwatch-db", after=60)
    assert crawl.returncode == 0, err[-3000:]
    assert "the database child is gone" in err
    assert "120 new, 0 errors" in out, out
    with sqlite3.connect(tmp_path / "gw.db") as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT url) FROM articles").fetchone() == (
            120,
            120,
        )
        assert conn.execute("SELECT outcome FROM crawl_runs").fetchall() == [("succeeded",)]


_DEFECT_PROBE = """
import sys
from crawler.store.local import LocalStore
from scheduler.cli import main

real = LocalStore.known_urls
calls = []
def known_urls(self, urls):  # the third list page's lookup fails with a defect
    calls.append(1)
    if len(calls) == 3:
        raise KeyError("a bug")
    return real(self, urls)
LocalStore.known_urls = known_urls
sys.exit(main(sys.argv[1:]))
"""


def test_a_defect_in_a_page_callback_is_an_error_of_the_run_not_a_quiet_success(
    tmp_path: Path,
) -> None:
    # The third list page's links were lost to a bug: the run must say so (partial, an
    # error of kind "defect") and leave its pass incomplete, so that the next run walks on
    # past the stored articles to the ones this run never fetched.
    site = build_ccdi_site(n_articles=120, per_page=20)
    with SiteServer(site.pages) as srv:
        config = ccdi_config(tmp_path, srv, max_list_pages="10")
        result = run_code(_DEFECT_PROBE, "--config", str(config), "crawl", "local")
        assert result.returncode == 1, result.stderr[-3000:]
        assert "local: partial" in result.stdout, result.stdout
        with sqlite3.connect(tmp_path / "gw.db") as conn:
            ((kind, message),) = conn.execute("SELECT kind, message FROM crawl_errors").fetchall()
            assert kind == "defect"
            assert "KeyError" in message and "in the database child" in message
            assert conn.execute("SELECT count(*) FROM articles").fetchone() == (40,)
        again = run_cli("--config", str(config), "crawl", "local")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "80 new, 0 errors" in again.stdout, again.stdout
