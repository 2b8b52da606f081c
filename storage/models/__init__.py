"""SQLAlchemy 2 models: the schema of govwatch's database, one module per area.

Times are UTC (``UTCDateTime``).  A change here needs an Alembic migration in
``storage/migrations/versions``; ``tests/test_storage.py`` fails when the two disagree.
Every model module is imported here so ``Base.metadata`` knows all tables.
"""

from __future__ import annotations

from storage.models.base import Base
from storage.models.cookies import HostAgent, HostCookie
from storage.models.crawl import (
    Article,
    CrawlError,
    CrawlPass,
    CrawlRun,
    SiteArticleDay,
    SiteRow,
)
from storage.models.dedupe import DedupeBand, HttpValidator
from storage.models.digest import (
    DigestAttempt,
    DigestDelivery,
    DigestSubscription,
    DigestWindow,
)
from storage.models.links import Link, LinkCheck, LinkEvent, LinkRef
from storage.models.queue import QueueWorker
from storage.models.service import MissedRun, ServiceInstance, ServiceJob

__all__ = [
    "Article",
    "Base",
    "CrawlError",
    "CrawlPass",
    "CrawlRun",
    "DedupeBand",
    "DigestAttempt",
    "DigestDelivery",
    "DigestSubscription",
    "DigestWindow",
    "HostAgent",
    "HostCookie",
    "HttpValidator",
    "Link",
    "LinkCheck",
    "LinkEvent",
    "LinkRef",
    "MissedRun",
    "QueueWorker",
    "ServiceInstance",
    "ServiceJob",
    "SiteArticleDay",
    "SiteRow",
]
