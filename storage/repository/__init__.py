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
    save_articles,
    store_articles,
)
from storage.repository.common import utcnow
from storage.repository.cookies import live_agent, live_cookies, save_agent, save_cookies
from storage.repository.dedupe import (
    get_validators,
    near_candidates,
    recent_articles,
    save_validators,
    story_copies,
)
from storage.repository.digest import (
    articles_by_id,
    ensure_subscription,
    last_window,
    list_windows,
    read_positions,
    record_window,
    schedule_reference,
    site_titles,
    subscription_start,
    window_articles,
    window_link_events,
)
from storage.repository.health import (
    delivery_counts,
    link_counts,
    metrics_snapshot,
    site_health,
)
from storage.repository.link_views import (
    count_links,
    link_events_since,
    link_history,
    list_links,
)
from storage.repository.links import (
    adopt_article_links,
    claim_due_links,
    record_link_refs,
    release_links,
    save_link_updates,
)
from storage.repository.outbox import (
    claim_delivery,
    delivery_attempts,
    due_deliveries,
    fail_delivery,
    finish_attempt,
    list_deliveries,
)
from storage.repository.passes import begin_passes, complete_pass
from storage.repository.runs import finish_run, get_run, record_crawl_error, run_errors, start_run
from storage.repository.service import (
    close_run,
    heartbeat,
    job_finished,
    job_started,
    job_states,
    last_run_started,
    latest_instance,
    missed_runs,
    ping,
    prune_service_history,
    record_missed,
    run_of_process,
    running_runs,
    set_next_runs,
    start_instance,
    stop_instance,
    sync_jobs,
)
from storage.repository.sites import site_summaries, sync_sites

__all__ = [
    "adopt_article_links",
    "articles_by_id",
    "begin_passes",
    "claim_delivery",
    "claim_due_links",
    "close_run",
    "complete_pass",
    "count_articles",
    "count_links",
    "delivery_attempts",
    "delivery_counts",
    "due_deliveries",
    "ensure_subscription",
    "fail_delivery",
    "finish_attempt",
    "finish_run",
    "get_article",
    "get_run",
    "get_validators",
    "heartbeat",
    "job_finished",
    "job_started",
    "job_states",
    "known_urls",
    "last_run_started",
    "last_window",
    "latest_instance",
    "link_counts",
    "link_events_since",
    "link_history",
    "list_articles",
    "list_deliveries",
    "list_links",
    "list_windows",
    "live_agent",
    "live_cookies",
    "metrics_snapshot",
    "missed_runs",
    "near_candidates",
    "ping",
    "prune_service_history",
    "read_positions",
    "recent_articles",
    "record_crawl_error",
    "record_link_refs",
    "record_missed",
    "record_window",
    "release_links",
    "run_errors",
    "run_of_process",
    "running_runs",
    "save_agent",
    "save_articles",
    "save_cookies",
    "save_link_updates",
    "save_validators",
    "schedule_reference",
    "set_next_runs",
    "site_health",
    "site_summaries",
    "site_titles",
    "start_instance",
    "start_run",
    "stop_instance",
    "store_articles",
    "story_copies",
    "subscription_start",
    "sync_jobs",
    "sync_sites",
    "utcnow",
    "window_articles",
    "window_link_events",
]
