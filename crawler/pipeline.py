"""Item pipeline: stores extracted articles through the run's recorder, in batches."""

from __future__ import annotations

import logging
import time
from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler
from twisted.python.failure import Failure

from crawler.items import ArticleItem
from crawler.recorder import RunRecorder
from storage.errors import StorageError
from storage.records import NewArticle

log = logging.getLogger(__name__)


class StoragePipeline:
    """Buffers articles and stores them in one transaction per batch.

    A batch is written when it holds ``GOVWATCH_STORE_BATCH`` articles, when
    ``GOVWATCH_STORE_INTERVAL`` seconds have passed since the last write, and when the spider
    closes (also on SIGTERM/SIGINT).  Batches are written on the run's writer thread
    (:mod:`crawler.writer`) while the crawl goes on, at most two at a time; the spider closes
    only when they are written.  A failed write is recorded as an error of the run; the crawl
    goes on.  A SIGKILL loses at most the unwritten batches: the run never marks its pass
    complete, so the next run walks on and fetches those articles again.
    """

    def __init__(self, crawler: Crawler, batch: int, interval: float) -> None:
        self.crawler = crawler
        self.batch_size = batch
        self.interval = interval
        self.buffer: list[NewArticle] = []
        self.batches = 0  # written (or tried) so far
        self.last_flush = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoragePipeline:
        return cls(
            crawler,
            crawler.settings.getint("GOVWATCH_STORE_BATCH", 50),
            crawler.settings.getfloat("GOVWATCH_STORE_INTERVAL", 5.0),
        )

    @property
    def recorder(self) -> RunRecorder:
        recorder: RunRecorder = self.crawler.spider.recorder  # type: ignore[union-attr]
        return recorder

    async def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        recorder = self.recorder
        a = item.article
        prints = item.prints
        self.buffer.append(
            NewArticle(
                site_id=recorder.site_id,
                url=item.canonical_url,
                fetched_url=a.url,
                title=a.title or "",
                publish_time=a.publish_time,
                publish_time_precision=a.publish_time_precision,
                source=a.source,
                author=a.author,
                body=a.body,
                pretitle=a.pretitle,
                subtitle=a.subtitle,
                editor=a.editor,
                body_hash=prints.body_hash,
                bands=prints.bands,
                terms=item.terms,
            )
        )
        if len(self.buffer) >= self.batch_size or (
            time.monotonic() - self.last_flush >= self.interval
        ):
            self.flush(recorder)
            # a database slower than the crawl: Scrapy waits for the item, so the crawl slows
            # to the database's pace instead of holding every batch in memory
            room = recorder.writer.room() if recorder.writer is not None else None
            if room is not None:
                await room
        return item

    async def close_spider(self, spider: Spider | None = None) -> None:
        """Store what is buffered: Scrapy calls this when the crawl ends, and on SIGTERM or
        SIGINT (its graceful shutdown), after the responses being processed are done and
        before the run is finished (so a pass is marked complete only once stored); it returns
        when every batch has been written."""
        recorder = self.recorder
        log.info(
            "site %s run %d: spider closing: storing %d buffered article(s) (%d batch(es) so far)",
            recorder.site.name,
            recorder.run_id,
            len(self.buffer),
            self.batches,
        )
        self.flush(recorder)
        if recorder.writer is not None:
            await recorder.writer.drain()

    def flush(self, recorder: RunRecorder) -> None:
        """Write the buffered articles: on the run's writer thread when it has one (their
        bookkeeping comes back to this thread), else at once."""
        batch, self.buffer = self.buffer, []
        self.last_flush = time.monotonic()
        if not batch:
            return
        self.batches += 1
        if recorder.writer is None:
            try:
                recorder.store(batch)
            except StorageError as exc:
                self._not_stored(recorder, batch, exc)
            return
        validators = recorder.take_article_validators(batch)
        written = recorder.writer.submit(lambda: recorder.write_articles(batch, validators))
        written.addCallback(lambda result: recorder.stored_articles(batch, result))
        written.addErrback(self._failed, recorder, batch)

    def _failed(self, failure: Failure, recorder: RunRecorder, batch: list[NewArticle]) -> None:
        error = failure.value
        if not isinstance(error, StorageError):  # a defect: said, and the run carries on
            log.error(
                "site %s run %d: storing %d article(s) failed",
                recorder.site.name,
                recorder.run_id,
                len(batch),
                exc_info=failure.value,
            )
            error = StorageError(f"{type(error).__name__}: {error}")
        self._not_stored(recorder, batch, error)

    @staticmethod
    def _not_stored(recorder: RunRecorder, batch: list[NewArticle], exc: Exception) -> None:
        # not stored: the pass is incomplete, so the next run fetches them again
        for article in batch:
            recorder.error(
                article.fetched_url,
                kind="storage",
                message=str(exc),
                start=recorder.passes.start_of(article.url),
            )
