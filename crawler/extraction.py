"""One page's extraction and fingerprints, timed: the work an extraction worker does.

Light to import (no Twisted, no Scrapy; the extractor and numpy's fingerprints load on the
first page, or on :func:`warm_up`), so a worker process started by :mod:`crawler.offload`
loads only this module: :func:`extract_page` (pure; the crawl process runs it itself when it
has no worker) and the worker's start-up, :func:`quiet_worker`.  A crawl process with a
worker never imports the extractor or numpy for it.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import select
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from storage.search_terms import TermText, document_terms_text
from storage.tuple_pickle import tuple_pickled

if TYPE_CHECKING:
    from crawler.extract.records import ExtractedArticle, Fingerprint, Selectors

log = logging.getLogger(__name__)


@tuple_pickled
@dataclass(frozen=True, slots=True)
class Extraction:
    """An extracted page, the fingerprints of its body, its search terms and the seconds each
    step took."""

    article: ExtractedArticle
    prints: Fingerprint
    terms: TermText
    seconds: dict[str, float] = field(default_factory=dict)  # wall-clock, per step
    cpu: dict[str, float] = field(default_factory=dict)  # CPU time of the thread, per step


def extract_page(
    body: bytes, url: str, content_type: str | None, selectors: Selectors | None
) -> Extraction:
    """Extract one page, fingerprint its body and compute its search terms (off the crawl
    process's critical path, where they cost the store stage ~1.4 ms a page): pure, so it
    runs in any process."""
    from crawler.extract.article import extract_article
    from crawler.extract.fingerprint import fingerprint

    started, started_cpu = time.perf_counter(), time.thread_time()
    article = extract_article(body, url, content_type=content_type, selectors=selectors)
    extracted, extracted_cpu = time.perf_counter(), time.thread_time()
    prints = fingerprint(article.body)
    printed, printed_cpu = time.perf_counter(), time.thread_time()
    terms = TermText(document_terms_text(article.title or ""), document_terms_text(article.body))
    return Extraction(
        article=article,
        prints=prints,
        terms=terms,
        seconds={
            "extract": extracted - started,
            "fingerprint": printed - extracted,
            "terms": time.perf_counter() - printed,
        },
        cpu={
            "extract": extracted_cpu - started_cpu,
            "fingerprint": printed_cpu - extracted_cpu,
            "terms": time.thread_time() - printed_cpu,
        },
    )


def warm_up() -> None:
    """Import what :func:`extract_page` needs (a worker's first task, while Scrapy starts)."""
    import crawler.extract.article
    import crawler.extract.fingerprint  # noqa: F401


def name_process(name: str) -> None:
    """Show this process as ``name`` (at most 15 characters) in ``ps`` and ``top``, where
    the crawl's children otherwise all read ``python``; only on Linux."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{os.getpid()}/comm").write_text(name, encoding="ascii")


def lower_priority(levels: int) -> None:
    """Raise this thread's nice value by ``levels`` (at most to 19), for it and the threads it
    starts: the crawl process and its database child defer to the extraction workers
    (``[crawl] defer_to_workers``).  Called while the process has one thread: Linux keeps a
    nice value per thread."""
    if levels <= 0:
        return
    try:
        os.nice(levels)  # Linux stops at 19 by itself
    except (AttributeError, OSError) as exc:  # not on this system: the same priority
        log.debug("priority not lowered: %s", exc)


def quiet_worker(crawl_pid: int | None = None, name: str = "govwatch-worker") -> None:
    """A worker's start: it ignores Ctrl-C, ends with the crawl process, and collects its
    garbage (forked during the crawl command's start-up, which runs without the collector)."""
    gc.enable()
    name_process(name)
    # Ctrl-C reaches the whole process group: the crawl process decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if crawl_pid is not None:
        threading.Thread(
            target=_exit_with, args=(crawl_pid,), name="crawl-watch", daemon=True
        ).start()


def _exit_with(pid: int) -> None:
    """End this worker when the crawl process ``pid`` ends, even by SIGKILL.

    A process does not end with its parent (a worker forked by the crawl) nor with its
    grandparent (one started by a fork server): without this, a killed crawl (the service
    kills a hung one) left its worker running on, holding the crawl's stdout and stderr open.
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
