"""Article extraction off the reactor thread: a worker process parses while Scrapy fetches.

A crawl is one Twisted reactor on one thread, and with one request per host at a time the
reactor spends its life alternating between fetching and parsing.  Handing the parsing
(extraction and fingerprints, the CPU-heavy part of the pipeline) to a worker process lets
the next page download while the last one is parsed, on a second core.  With
``extract_workers = 0`` (or when the worker dies) the same work runs in the crawl process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import select
import signal
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed

from crawler.extract import extract_article
from crawler.fingerprint import Fingerprint, fingerprint
from crawler.records import ExtractedArticle, Selectors

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Extraction:
    """An extracted page, the fingerprints of its body and the seconds each step took."""

    article: ExtractedArticle
    prints: Fingerprint
    seconds: dict[str, float] = field(default_factory=dict)


def extract_page(
    body: bytes, url: str, content_type: str | None, selectors: Selectors | None
) -> Extraction:
    """Extract one page and fingerprint its body: pure, so it runs in any process."""
    started = time.perf_counter()
    article = extract_article(body, url, content_type=content_type, selectors=selectors)
    extracted = time.perf_counter()
    prints = fingerprint(article.body)
    return Extraction(
        article=article,
        prints=prints,
        seconds={
            "extract": extracted - started,
            "fingerprint": time.perf_counter() - extracted,
        },
    )


def _quiet_worker(crawl_pid: int | None = None) -> None:
    # Ctrl-C reaches the whole process group: the crawl process decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if crawl_pid is not None:
        threading.Thread(
            target=_exit_with, args=(crawl_pid,), name="crawl-watch", daemon=True
        ).start()


def _exit_with(pid: int) -> None:
    """End this worker when the crawl process ``pid`` ends, even by SIGKILL.

    A worker is a child of the fork server, not of the crawl: without this, a killed crawl
    (the service kills a hung one) left its worker running on, holding the crawl's
    stdout and stderr open.
    """
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # no pidfd (not Linux, old kernel): poll
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                pass
            time.sleep(1.0)
    select.select([fd], [], [])  # readable once the process has exited
    os._exit(0)


class PageExtractor:
    """Runs :func:`extract_page` in ``workers`` worker processes (0: in this process)."""

    def __init__(self, workers: int) -> None:
        self._pool: ProcessPoolExecutor | None = None
        if workers > 0:
            self._pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("forkserver"),
                initializer=_quiet_worker,
                initargs=(os.getpid(),),
            )

    def extract(
        self, body: bytes, url: str, content_type: str | None, selectors: Selectors | None
    ) -> Deferred[Extraction]:
        """A Deferred that fires with the page's :class:`Extraction` (or its error)."""
        if self._pool is not None:
            try:
                future = self._pool.submit(extract_page, body, url, content_type, selectors)
            except (BrokenProcessPool, RuntimeError) as exc:
                self._give_up(exc)
            else:
                return _deferred_from(
                    future, lambda: self._local(body, url, content_type, selectors), self._give_up
                )
        return self._local(body, url, content_type, selectors)

    def _local(
        self, body: bytes, url: str, content_type: str | None, selectors: Selectors | None
    ) -> Deferred[Extraction]:
        try:
            return succeed(extract_page(body, url, content_type, selectors))
        except Exception as exc:  # handed to the callback's errback like a worker's error
            return fail(exc)

    def _give_up(self, exc: BaseException) -> None:
        if self._pool is not None:
            log.warning("extraction worker failed (%s): extracting in the crawl process", exc)
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _deferred_from(
    future: Future[Extraction],
    fallback: Any,
    on_broken: Any,
) -> Deferred[Extraction]:
    """Fire a Deferred on the reactor thread when the worker's future completes."""
    from twisted.internet import reactor  # the running reactor

    result: Deferred[Extraction] = Deferred()

    def fire(done: Future[Extraction]) -> None:
        exc = done.exception()
        if isinstance(exc, BrokenProcessPool):
            on_broken(exc)
            fallback().chainDeferred(result)
        elif exc is not None:
            result.errback(exc)
        else:
            result.callback(done.result())

    future.add_done_callback(lambda done: reactor.callFromThread(fire, done))
    return result
