"""Repository functions: the only place in govwatch that queries the database.

Each function takes an open :class:`~sqlalchemy.orm.Session` (from ``Database.session()``),
so a caller decides what one transaction holds.  Values in and out are the frozen records
of ``storage.records``; ORM rows never leave the repository.  One module per area; this
package re-exports them so callers write ``repository.store_articles(...)``.
"""

from __future__ import annotations

from storage.repository.articles import (
    count_articles,
    get_article,
    known_urls,
    list_articles,
    store_articles,
)
from storage.repository.common import utcnow
from storage.repository.runs import finish_run, get_run, record_crawl_error, run_errors, start_run
from storage.repository.sites import site_summaries, sync_sites

__all__ = [
    "count_articles",
    "finish_run",
    "get_article",
    "get_run",
    "known_urls",
    "list_articles",
    "record_crawl_error",
    "run_errors",
    "site_summaries",
    "start_run",
    "store_articles",
    "sync_sites",
    "utcnow",
]
