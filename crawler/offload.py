"""Article extraction off the reactor thread: a worker process parses while Scrapy fetches.

A crawl is one Twisted reactor on one thread, and with one request per host at a time the
reactor spends its life alternating between fetching and parsing.  Handing the parsing
(extraction and fingerprints, the CPU-heavy part of the pipeline) to a worker process lets
the next page download while the last one is parsed, on a second core.  With
``extract_workers = 0`` (or when the worker dies) the same work runs in the crawl process.
The work itself is :func:`crawler.extraction.extract_page`: a worker imports only that.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, cast

from crawler.extract.records import Selectors
from crawler.extraction import Extraction, extract_page, quiet_worker, warm_up

if TYPE_CHECKING:  # Twisted is imported on the first page: the worker is forked without it
    from twisted.internet.defer import Deferred
    from twisted.python.failure import Failure

log = logging.getLogger(__name__)


def _start_method() -> str:
    """``fork`` while this process has one thread (no lock can be held by another thread at
    the fork), else ``forkserver``.

    A forked worker shares the crawl process's pages (the interpreter, Twisted, SQLAlchemy)
    instead of starting an interpreter of its own beside a fork server: 20-30 MB and a
    Python start-up less per crawl.  The crawl command creates its extractor first, before
    Scrapy is imported and before any thread starts, for that.
    """
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return "fork"
    return "forkserver"


class PageExtractor:
    """Runs :func:`extract_page` in ``workers`` worker processes (0: in this process)."""

    def __init__(self, workers: int) -> None:
        self._pool: ProcessPoolExecutor | None = None
        if workers > 0:
            method = _start_method()
            if method == "fork":
                # nothing buffered is written twice (a worker flushes its streams as it
                # ends), and the collector never touches (so copies) the shared objects
                sys.stdout.flush()
                sys.stderr.flush()
                gc.freeze()
            self._pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context(method),
                initializer=quiet_worker,
                initargs=(os.getpid(),),
            )
            # start a worker now (with fork, every worker is forked here, before the pool's
            # own threads start); it imports the extractor when told to (warm_up)
            self._pool.submit(int)

    def warm_up(self) -> None:
        """Have the worker import the extractor now: called once the database is open, so
        that this import does not compete with the crawl's and the database's start-up for
        the cores, and is done as the first article page comes."""
        if self._pool is not None:
            self._pool.submit(warm_up)

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
                from crawler.writer import deferred_from  # Twisted: not before the fork

                extracted = deferred_from(future)

                def broken(failure: Failure) -> Deferred[Extraction]:
                    failure.trap(BrokenProcessPool)
                    self._give_up(cast(BaseException, failure.value))
                    return self._local(body, url, content_type, selectors)

                return extracted.addErrback(broken)
        return self._local(body, url, content_type, selectors)

    def _local(
        self, body: bytes, url: str, content_type: str | None, selectors: Selectors | None
    ) -> Deferred[Extraction]:
        from twisted.internet.defer import fail, succeed

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
