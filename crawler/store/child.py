"""The crawl's database in a forked child: :func:`fork_store` and :class:`ChildStore`.

Before its first request a crawl process opened the database: SQLAlchemy's, the ORM's and the
driver's import (~0.2 s of CPU, a third of its start-up and 20 MB), and on a database not at
the newest schema Alembic's and every migration's.  The crawl command forks a child first,
while its process holds one thread and no connection: the child opens the database (creates
or upgrades the schema, writes the sites' rows, closes the runs of dead crawls) while the
parent imports Scrapy, then serves the crawl's database calls (:class:`CrawlStore`) until the
parent says goodbye.  The crawl process never imports the database layer; its batches are
written by the child, on the other core, while the next pages are fetched.

Two channels (``multiprocessing.connection`` pipes, pickled calls and answers): one for the
reactor's thread, one for every other thread (the writers of the runs' batches), each served
by a thread of the child, so a lookup never waits behind a batch being written.  A call is
answered with its result, its :class:`GovwatchError` (raised again in the caller: a
database outage reads as without the child), or, for a defect, a one-line description
(logged with its traceback by the child).

Nothing is lost when the child dies (killed, crashed): the call that found it gone is made
again in the crawl process, which opens the database itself from then on
(:class:`~crawler.store.local.LocalStore`).  A write the child was doing when it died was
rolled back with its connection, so making it again stores each article once (one it had
committed just before its death is found stored: counted as seen, not stored twice).  The child
ignores Ctrl-C and SIGTERM (the crawl process decides how to stop, and still needs its
database to record that) and ends with the crawl process, even a SIGKILLed one.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from multiprocessing.connection import Connection, Pipe
from typing import TYPE_CHECKING, Any

from crawler.store.calls import BegunRun, CrawlStore
from storage.errors import GovwatchError
from storage.link_records import NewLinkRef
from storage.records import (
    NewArticle,
    RunTotals,
    SiteInfo,
    StoredCookie,
    StoreResult,
    Validators,
)

if TYPE_CHECKING:
    from crawler.store.local import LocalStore
    from storage.database import Database

log = logging.getLogger(__name__)

_BYE: tuple[str, tuple[()], dict[str, Any]] = ("bye", (), {})


class ChildStore:
    """The crawl process's side: :class:`CrawlStore` calls sent to the database child."""

    def __init__(
        self,
        open_database: Callable[[], Database],
        channels: tuple[Connection, Connection] | None = None,
        pid: int | None = None,
    ) -> None:
        self._open = open_database
        self._channels = channels  # (the reactor's thread's, the other threads')
        self._locks = (threading.Lock(), threading.Lock())
        self._pid = pid
        self._main = threading.get_ident()
        self._local: LocalStore | None = None  # calls made in this process, from then on
        self._spent = threading.local()
        self._unready = True  # the child's "ready" (or its error) not read yet

    # the child's life
    def ready(self) -> None:
        """Wait until the child has opened the database; raise its :class:`GovwatchError`.
        A child that died meanwhile leaves the opening to this process.  The first call
        waits for it, if nothing did before: the crawl sets Scrapy up meanwhile."""
        if not self._unready:
            return
        self._unready = False
        if self._channels is None:
            self._fall_back("no database child")
            return
        try:
            answer = self._channels[0].recv()
        except (EOFError, OSError) as exc:
            self._fall_back(f"the database child ended before it opened the database ({exc})")
            return
        if answer[0] == "error":
            self._reap()
            raise answer[1]
        if answer[0] != "ready":
            self._fall_back(f"the database child could not open the database: {answer[1]}")

    def close(self) -> None:
        """Let the child go (after its last call) and wait for it to end."""
        if self._channels is not None:
            for channel, lock in zip(self._channels, self._locks, strict=True):
                with lock:
                    with contextlib.suppress(OSError):
                        channel.send(_BYE)
                    channel.close()
            self._channels = None
        self._reap()
        if self._local is not None:
            self._local.db.dispose()

    def _reap(self) -> None:
        if self._pid is not None:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._pid, 0)
            self._pid = None

    def _fall_back(self, why: str) -> None:
        from crawler.store.local import LocalStore

        if self._pid is not None:
            log.warning("%s: opening the database in the crawl process", why)
        self._local = LocalStore(self._open())

    # the calls
    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self._unready:
            self.ready()
        if self._local is None:
            which = 0 if threading.get_ident() == self._main else 1
            lost: BaseException = EOFError("the child's channels are closed")
            with self._locks[which]:
                channel = self._channels[which] if self._channels is not None else None
                if channel is not None:
                    try:
                        channel.send((name, args, kwargs))
                        kind, value, cpu = channel.recv()
                    except (EOFError, OSError) as exc:
                        lost = exc
                    else:
                        self._spent.cpu = getattr(self._spent, "cpu", 0.0) + cpu
                        if kind == "ok":
                            return value
                        if kind == "error":
                            raise value
                        raise RuntimeError(f"in the database child: {value}")
            self._lose(lost)  # (or another thread is losing it: waits until it has)
        assert self._local is not None
        return getattr(self._local, name)(*args, **kwargs)

    def _lose(self, exc: BaseException) -> None:
        """The child is gone: from now on this process makes the calls itself."""
        with self._locks[0], self._locks[1]:
            if self._local is not None:
                return
            log.warning("the database child is gone (%s): writing from the crawl process", exc)
            channels, self._channels = self._channels, None
            for channel in channels or ():
                channel.close()
            self._reap()
            self._fall_back("the database child is gone")

    def spent(self) -> float:
        return float(getattr(self._spent, "cpu", 0.0))

    def begin_run(
        self, site: SiteInfo, start_urls: Sequence[str], *, pid: int, host: str
    ) -> BegunRun:
        run: BegunRun = self._call("begin_run", site, list(start_urls), pid=pid, host=host)
        return run

    def known_urls(self, urls: Collection[str]) -> set[str]:
        known: set[str] = self._call("known_urls", list(urls))
        return known

    def recent_articles(self, site_id: int, since: datetime) -> list[tuple[str, str]]:
        recent: list[tuple[str, str]] = self._call("recent_articles", site_id, since)
        return recent

    def get_validators(self, urls: Collection[str]) -> dict[str, Validators]:
        found: dict[str, Validators] = self._call("get_validators", list(urls))
        return found

    def save_articles(self, articles: Sequence[NewArticle], *, run_id: int) -> StoreResult:
        result: StoreResult = self._call("save_articles", list(articles), run_id=run_id)
        return result

    def save_validators(self, validators: Sequence[Validators]) -> None:
        self._call("save_validators", list(validators))

    def record_link_refs(self, refs: Sequence[NewLinkRef]) -> int:
        new: int = self._call("record_link_refs", list(refs))
        return new

    def record_crawl_error(
        self, run_id: int, *, url: str, status: int | None, kind: str, message: str
    ) -> None:
        self._call("record_crawl_error", run_id, url=url, status=status, kind=kind, message=message)

    def complete_passes(self, site_id: int, passes: Sequence[tuple[str, int]], run_id: int) -> None:
        self._call("complete_passes", site_id, list(passes), run_id)

    def finish_run(self, run_id: int, totals: RunTotals, *, outcome: str, message: str) -> None:
        self._call("finish_run", run_id, totals, outcome=outcome, message=message)

    def live_cookies(self, domains: Collection[str]) -> list[StoredCookie]:
        cookies: list[StoredCookie] = self._call("live_cookies", list(domains))
        return cookies

    def live_agent(self, host: str) -> str | None:
        agent: str | None = self._call("live_agent", host)
        return agent

    def save_agent(self, host: str, user_agent: str, expires_at: datetime) -> None:
        self._call("save_agent", host, user_agent, expires_at)

    def save_cookies(self, cookies: Sequence[StoredCookie], replace: Collection[str]) -> int:
        written: int = self._call("save_cookies", list(cookies), list(replace))
        return written


def fork_store(open_database: Callable[[], Database], defer: int = 0) -> ChildStore:
    """Fork the database child, which runs ``open_database`` and serves the crawl's calls;
    call :meth:`ChildStore.ready` before the first.  The child runs ``defer`` nice levels
    below this process (``[crawl] defer_to_workers``).  Without ``os.fork`` (or when the fork
    fails), the calls are made in this process, ``open_database`` run by ``ready``."""
    if not hasattr(os, "fork"):
        return ChildStore(open_database)
    reactor_end, reactor_child = Pipe()
    writers_end, writers_child = Pipe()
    sys.stdout.flush()  # nothing buffered is written by both processes
    sys.stderr.flush()
    crawl_pid = os.getpid()
    try:
        pid = os.fork()
    except OSError as exc:
        log.warning("no database child (%s)", exc)
        for end in (reactor_end, reactor_child, writers_end, writers_child):
            end.close()
        return ChildStore(open_database)
    if pid == 0:  # the child: never returns
        reactor_end.close()
        writers_end.close()
        _serve(open_database, (reactor_child, writers_child), crawl_pid, defer)
    reactor_child.close()
    writers_child.close()
    return ChildStore(open_database, (reactor_end, writers_end), pid)


def _serve(
    open_database: Callable[[], Database],
    channels: tuple[Connection, Connection],
    crawl_pid: int,
    defer: int,
) -> None:
    from crawler.extraction import lower_priority, quiet_worker

    code = 1
    try:
        lower_priority(defer)  # before any thread starts: each keeps its own nice value
        quiet_worker(crawl_pid, "govwatch-db")  # Ctrl-C is the crawl process's; ends with it
        gc.disable()  # on again once the database is open: its imports' objects live on
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the crawl process still needs it
        try:
            db = open_database()
        except GovwatchError as exc:  # said once, by the crawl process
            channels[0].send(("error", exc, 0.0))
            return
        except BaseException as exc:  # the crawl process opens it and reports
            log.debug("database child: opening failed", exc_info=True)
            channels[0].send(("defect", f"{type(exc).__name__}: {exc}", 0.0))
            return
        from crawler.store.local import LocalStore

        gc.freeze()
        gc.enable()
        store = LocalStore(db)
        channels[0].send(("ready", None, 0.0))
        writers = threading.Thread(
            target=_answer, args=(store, channels[1]), name="store-writers", daemon=True
        )
        writers.start()
        _answer(store, channels[0])
        writers.join()
        db.dispose()
        code = 0
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _answer(store: CrawlStore, channel: Connection) -> None:
    """Answer the calls on ``channel`` until the crawl process says goodbye (or is gone)."""
    while True:
        try:
            name, args, kwargs = channel.recv()
        except (EOFError, OSError):
            return
        if name == _BYE[0]:
            return
        started = time.thread_time()
        try:
            answer: tuple[str, Any, float] = ("ok", getattr(store, name)(*args, **kwargs), 0.0)
        except GovwatchError as exc:
            answer = ("error", exc, 0.0)
        except Exception as exc:
            log.exception("database child: %s failed", name)
            answer = ("defect", f"{type(exc).__name__}: {exc}", 0.0)
        answer = (answer[0], answer[1], time.thread_time() - started)
        try:
            channel.send(answer)
        except (OSError, ValueError):
            return
        except Exception as exc:  # an answer that does not pickle: a defect
            channel.send(("defect", f"{name}: unpicklable answer: {exc}", 0.0))
