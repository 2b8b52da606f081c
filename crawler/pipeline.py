"""Item pipeline: stores extracted articles through the run's recorder, in batches."""

from __future__ import annotations

import logging
import time
from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler

from crawler.items import ArticleItem
from crawler.recorder import RunRecorder
from storage.errors import StorageError
from storage.records import NewArticle

log = logging.getLogger(__name__)


class StoragePipeline:
    """Buffers articles and stores them in one transaction per batch.

    A batch is written when it holds ``GOVWATCH_STORE_BATCH`` articles, when
    ``GOVWATCH_STORE_INTERVAL`` seconds have passed since the last write, and when the spider
    closes.  A failed write is recorded as an error of the run; the crawl goes on.
    """

    def __init__(self, crawler: Crawler, batch: int, interval: float) -> None:
        self.crawler = crawler
        self.batch_size = batch
        self.interval = interval
        self.buffer: list[NewArticle] = []
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

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
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
                source=a.source,
                author=a.author,
                body=a.body,
                pretitle=a.pretitle,
                subtitle=a.subtitle,
                editor=a.editor,
                body_hash=prints.body_hash,
                bands=prints.bands,
            )
        )
        if len(self.buffer) >= self.batch_size or (
            time.monotonic() - self.last_flush >= self.interval
        ):
            self.flush(recorder)
        return item

    def close_spider(self, spider: Spider | None = None) -> None:
        self.flush(self.recorder)

    def flush(self, recorder: RunRecorder) -> None:
        batch, self.buffer = self.buffer, []
        self.last_flush = time.monotonic()
        if not batch:
            return
        try:
            recorder.store(batch)
        except StorageError as exc:
            for article in batch:
                recorder.error(article.fetched_url, kind="storage", message=str(exc))
