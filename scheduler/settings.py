"""Every configuration key in one place: its type, default, bounds and a line of help.

One :class:`Setting` row per key, datasette-style; ``scheduler.config`` and
``scheduler.digest_config`` read the file against these tables, and a test checks the
README's configuration reference against them (every key listed, with this default).

A key's default is declared once.  Where the value ends up in a dataclass of ``crawler`` or
``digest`` (which may not import ``scheduler``), the dataclass field holds the default and
its row reads it with :func:`default_of`; every other row holds its default itself and the
``scheduler`` dataclasses (``ServiceConfig``, ``DatabaseConfig``) read theirs from the row.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from crawler.linkcheck.records import LinkSettings
from crawler.net.cookierules import rule_problem
from crawler.site import AUTO_WORKERS, CrawlSettings, Site
from digest.subscription import (
    CHANNEL_TYPES,
    EmailChannel,
    Retry,
    Subscription,
    WebhookChannel,
)
from scheduler.setting_checks import (
    Range,
    RangeOrWord,
    Setting,
    between,
    challenge_mode,
    check_selector,
    env_name,
    header_value,
    listen,
    log_level,
    networks,
    public_url,
    queue_backend,
    queue_names,
    read_table,
    request_headers,
    toml_value,
    url_problem,
)

__all__ = [
    "CHANNEL_KEYS",
    "DAY",
    "DIGEST_KEYS",
    "EMAIL_PORTS",
    "HOUR",
    "SECTIONS",
    "SELECTOR_KEYS",
    "SITE_KEYS",
    "Range",
    "RangeOrWord",
    "Setting",
    "between",
    "check_selector",  # this and the helpers below live in scheduler.setting_checks
    "default_of",
    "header_value",
    "read_table",
    "toml_value",
    "url_problem",
]

HOUR = 3600
DAY = 24 * HOUR
_GiB = 1024 * 1024 * 1024


def default_of(cls: type, name: str) -> Any:
    """The default of field ``name`` of dataclass ``cls``: the one declaration of a key whose
    value lands in a ``crawler`` or ``digest`` dataclass (tuples read as TOML lists)."""
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        raise TypeError(f"{cls.__name__}.{name} has no default")
    return list(value) if isinstance(value, tuple) else value


SECTIONS: dict[str, dict[str, Setting]] = {
    "database": {
        "url": Setting(
            str,
            "sqlite:///data/govwatch.db",
            "SQLAlchemy URL: sqlite:///PATH (relative to the working directory) or "
            "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB",
            env="GOVWATCH_DATABASE_URL",
            secret=True,
        ),
    },
    "crawl": {
        "user_agent": Setting(
            str,
            default_of(CrawlSettings, "user_agent"),
            "User-Agent sent with every request",
            check=header_value,
        ),
        "obey_robots_txt": Setting(
            bool, default_of(CrawlSettings, "obey_robots_txt"), "fetch robots.txt and obey it"
        ),
        "concurrent_requests": Setting(
            int,
            default_of(CrawlSettings, "concurrent_requests"),
            "requests in flight at once per crawl, over all hosts",
            check=between(1, 1000),
        ),
        "concurrent_requests_per_host": Setting(
            int,
            default_of(CrawlSettings, "concurrent_requests_per_host"),
            "requests in flight at once to one host",
            check=between(1, 100),
        ),
        "timeout_seconds": Setting(
            (int, float),
            default_of(CrawlSettings, "timeout_seconds"),
            "give up on a request after this many seconds",
            check=between(0, HOUR, above=True),
        ),
        "retries": Setting(
            int,
            default_of(CrawlSettings, "retries"),
            "retries of a page after a 5xx, 403/412/420/429 or timeout",
            check=between(0, 100),
        ),
        "retry_backoff_seconds": Setting(
            (int, float),
            default_of(CrawlSettings, "retry_backoff_seconds"),
            "wait before the first retry; doubles with each retry",
            check=between(0, DAY),
        ),
        "retry_backoff_max_seconds": Setting(
            (int, float),
            default_of(CrawlSettings, "retry_backoff_max_seconds"),
            "longest wait between retries; also the most a throttled host's delay grows to",
            check=between(0, DAY),
        ),
        "retry_after_max_seconds": Setting(
            (int, float),
            default_of(CrawlSettings, "retry_after_max_seconds"),
            "a server's Retry-After pauses its host for as long as it says, up to this",
            check=between(0, DAY),
        ),
        "max_page_bytes": Setting(
            int,
            default_of(CrawlSettings, "max_page_bytes"),
            "pages larger than this are not downloaded",
            check=between(1, 2 * _GiB),
        ),
        "log_level": Setting(
            str,
            default_of(CrawlSettings, "log_level"),
            "level of Scrapy's own log messages",
            check=log_level,
        ),
        "extract_workers": Setting(
            (int, str),
            default_of(CrawlSettings, "extract_workers"),
            "worker processes that extract articles while the crawl fetches; 0: none; "
            '"auto": one per core but one, at least one',
            check=RangeOrWord(0, 64, word=AUTO_WORKERS),
        ),
        "defer_to_workers": Setting(
            int,
            default_of(CrawlSettings, "defer_to_workers"),
            "nice levels by which the crawl process and its database process yield the cores "
            "to the extraction workers, the crawl's bottleneck when cores are few; 0: equal",
            check=between(0, 19),
        ),
        "allowed_networks": Setting(
            list,
            default_of(CrawlSettings, "allowed_networks"),
            "networks crawls and extract URL may fetch although private or loopback, e.g. "
            '["10.8.0.0/16"] (a site\'s own start-URL origins are always allowed)',
            check=networks,
        ),
        "challenge_timeout_seconds": Setting(
            (int, float),
            default_of(CrawlSettings, "challenge_timeout_seconds"),
            "longest wait for the browser to pass a site's JavaScript challenge",
            check=between(0, HOUR, above=True),
        ),
    },
    "service": {
        "max_concurrent_crawls": Setting(
            int, 2, "crawl processes running at once in govwatch run", check=between(1, 100)
        ),
        "crawl_time_limit_seconds": Setting(
            (int, float),
            1800.0,
            "a crawl still running after this long is stopped and its run recorded failed",
            check=between(0, 7 * DAY, above=True),
        ),
        "kill_after_seconds": Setting(
            (int, float),
            10.0,
            "wait between asking a crawl process to stop (SIGTERM) and killing it (SIGKILL)",
            check=between(0, HOUR),
        ),
        "misfire_grace_seconds": Setting(
            int,
            600,
            "a run late by up to this long still runs (once, however many were due); "
            "later ones are recorded as missed",
            check=between(1, 7 * DAY),
        ),
        "jitter_seconds": Setting(
            int, 60, "sites' start times are spread over this many seconds", check=between(0, DAY)
        ),
        "shutdown_grace_seconds": Setting(
            (int, float),
            30.0,
            "on SIGTERM/SIGINT, time running crawls get to finish before they are stopped",
            check=between(0, HOUR),
        ),
        "http_listen": Setting(
            str,
            "",
            "HOST:PORT serving /healthz, /metrics and the web view; empty: off",
            check=listen,
        ),
        "standby_poll_seconds": Setting(
            (int, float),
            5.0,
            "how often a standby govwatch run tries to take over from the leader",
            check=between(0, HOUR, above=True),
        ),
        "heartbeat_seconds": Setting(
            (int, float),
            10.0,
            "how often the service records that it is alive",
            check=between(0, HOUR, above=True),
        ),
        "min_schedule_seconds": Setting(
            int,
            60,
            "shortest 'every' schedule accepted; lower it only to test against a local site",
            check=between(1, DAY),
        ),
        "failing_runs_warning": Setting(
            int,
            3,
            "govwatch status warns after this many failed runs in a row",
            check=between(1, 1000),
        ),
        "zero_articles_warning_hours": Setting(
            (int, float),
            72.0,
            "govwatch status warns when a site's runs stored no new article for this long",
            check=between(0, 24 * 3650, above=True),
        ),
        "history_days": Setting(
            int,
            90,
            "missed runs and service heartbeats older than this are deleted",
            check=between(1, 36500),
        ),
        "digest_schedule": Setting(
            str,
            "every 1m",
            "how often at most the service's job of each enabled [[digests]] looks for "
            "deliveries left due by other processes (it runs in the service's process at the "
            "digest's own schedule and at its retries' times anyway); empty: the service "
            "sends no digests",
        ),
        "digest_time_limit_seconds": Setting(
            (int, float),
            300.0,
            "a digest job of the service still running after this long is left to end on "
            "its own, sending nothing more, and recorded failed; the service goes on",
            check=between(0, DAY, above=True),
        ),
    },
    # issue 16: scale-out on Procrastinate (scheduler.queue, scheduler.worker)
    "queue": {
        "backend": Setting(
            str,
            "",
            'empty: govwatch run starts every job on its own host; "procrastinate": it defers '
            "them as jobs in the PostgreSQL database, run by govwatch worker processes",
            check=queue_backend,
        ),
        "concurrency": Setting(
            int,
            2,
            "jobs one govwatch worker runs at once (each crawl in a process of its own); "
            "--concurrency overrides it",
            check=between(1, 100),
        ),
        "queues": Setting(
            list,
            ["crawl", "links", "digest"],
            "queues a govwatch worker takes jobs from; --queues overrides it",
            check=queue_names,
        ),
        "heartbeat_seconds": Setting(
            (int, float),
            10.0,
            "how often a worker records that it is alive (and looks for stalled jobs)",
            check=between(0, HOUR, above=True),
        ),
        "stalled_seconds": Setting(
            (int, float),
            60.0,
            "a running job whose worker has not recorded a heartbeat for this long is stalled "
            "(its worker died) and is retried on another worker",
            check=between(0, DAY, above=True),
        ),
        "max_attempts": Setting(
            int,
            3,
            "attempts of a job (a stalled or failed one is retried) before it is failed",
            check=between(1, 100),
        ),
        "poll_seconds": Setting(
            (int, float),
            5.0,
            "longest wait of an idle worker before it looks for jobs again (it is also "
            "notified of new jobs at once)",
            check=between(0, HOUR, above=True),
        ),
    },
    "web": {
        "bind": Setting(
            str,
            "127.0.0.1:8080",
            "HOST:PORT govwatch serve listens on (a non-loopback address needs token_env)",
            check=listen,
        ),
        "token_env": Setting(
            str,
            None,
            "environment variable holding the web view's access token (Authorization: Bearer "
            "or ?token=); unset: no token asked, loopback binds only",
            check=env_name,
        ),
        "public_url": Setting(
            str,
            "",
            "scheme://host[:port] the web view is reached at, for feeds' absolute links; "
            "empty: the request's own",
            check=public_url,
        ),
        "page_size": Setting(
            int, 50, "articles or links per page by default", check=between(1, 500)
        ),
        "max_page_size": Setting(
            int, 200, "the most a page's ?limit= may ask for", check=between(1, 1000)
        ),
        "feed_entries": Setting(int, 50, "entries per Atom feed by default", check=between(1, 500)),
        "max_feed_entries": Setting(
            int, 200, "the most a feed's ?limit= may ask for", check=between(1, 1000)
        ),
        "query_timeout_seconds": Setting(
            (int, float),
            10.0,
            "a web view's database query running longer is cancelled (the page answers 503)",
            check=between(0, 600, above=True),
        ),
        "query_workers": Setting(
            int, 4, "database queries of the web view running at once", check=between(1, 64)
        ),
    },
    "links": {
        "allow_private_addresses": Setting(
            bool,
            default_of(LinkSettings, "allow_private_addresses"),
            "check links to private, loopback, link-local or multicast addresses (refused "
            "otherwise: SSRF protection)",
        ),
        "allowed_networks": Setting(
            list,
            default_of(LinkSettings, "allowed_networks"),
            'networks checked even though private, e.g. ["10.8.0.0/16"] for an intranet site',
            check=networks,
        ),
        "timeout_seconds": Setting(
            (int, float),
            default_of(LinkSettings, "timeout_seconds"),
            "give up on a link after this long (all its requests and bodies together)",
            check=between(0, HOUR, above=True),
        ),
        "concurrent_requests": Setting(
            int,
            default_of(LinkSettings, "concurrent_requests"),
            "link requests in flight at once, over all hosts",
            check=between(1, 1000),
        ),
        "concurrent_requests_per_host": Setting(
            int,
            default_of(LinkSettings, "concurrent_requests_per_host"),
            "link requests in flight at once to one host",
            check=between(1, 100),
        ),
        "delay_seconds": Setting(
            (int, float),
            default_of(LinkSettings, "delay_seconds"),
            "least time between the starts of two requests to one host",
            check=between(0, HOUR),
        ),
        "retries": Setting(
            int,
            default_of(LinkSettings, "retries"),
            "asks again after a 5xx or a dropped connection",
            check=between(0, 10),
        ),
        "retry_delay_seconds": Setting(
            (int, float),
            default_of(LinkSettings, "retry_delay_seconds"),
            "wait before asking again",
            check=between(0, HOUR),
        ),
        "max_redirects": Setting(
            int,
            default_of(LinkSettings, "max_redirects"),
            "redirects followed per link",
            check=between(1, 100),
        ),
        "max_body_bytes": Setting(
            int,
            default_of(LinkSettings, "max_body_bytes"),
            "read at most this much of a page (enough to recognise an error page)",
            check=between(1, _GiB),
        ),
        "recheck_ok_hours": Setting(
            (int, float),
            default_of(LinkSettings, "recheck_ok_hours"),
            "a healthy link is checked again after this long, doubling while it stays healthy",
            check=between(0, 24 * 365, above=True),
        ),
        "recheck_suspect_hours": Setting(
            (int, float),
            default_of(LinkSettings, "recheck_suspect_hours"),
            "a failing link (error) is checked again after this long, doubling per failure",
            check=between(0, 24 * 365, above=True),
        ),
        "recheck_blocked_hours": Setting(
            (int, float),
            default_of(LinkSettings, "recheck_blocked_hours"),
            "a blocked link is checked again after this long, doubling",
            check=between(0, 24 * 365, above=True),
        ),
        "recheck_dead_hours": Setting(
            (int, float),
            default_of(LinkSettings, "recheck_dead_hours"),
            "a dead or soft-404 link is checked again after this long, doubling",
            check=between(0, 24 * 365, above=True),
        ),
        "recheck_max_hours": Setting(
            (int, float),
            default_of(LinkSettings, "recheck_max_hours"),
            "longest wait between two checks of a link",
            check=between(0, 24 * 365, above=True),
        ),
        "dead_after_failures": Setting(
            int,
            default_of(LinkSettings, "dead_after_failures"),
            "failing checks in a row (5xx, timeout, reset) before a link counts as dead",
            check=between(1, 1000),
        ),
        "dead_after_hours": Setting(
            (int, float),
            default_of(LinkSettings, "dead_after_hours"),
            "and the first and last of those checks at least this far apart",
            check=between(0, 24 * 365),
        ),
        "history_per_link": Setting(
            int,
            default_of(LinkSettings, "history_per_link"),
            "checks kept per link in link_checks (older ones are deleted)",
            check=between(1, 10000),
        ),
        "schedule": Setting(
            str,
            default_of(LinkSettings, "schedule"),
            "how often govwatch run checks the links that are due",
        ),
    },
}

SITE_KEYS: dict[str, Setting] = {
    "name": Setting(str, None, "unique short name, [a-z0-9_-]+ (required)"),
    "title": Setting(str, None, "display name (default: the name)"),
    "start_urls": Setting(list, None, "list pages to start from (required)"),
    "article_url_pattern": Setting(
        str, None, "regex matched against absolute URLs to pick article links (required)"
    ),
    "max_list_pages": Setting(
        int,
        default_of(Site, "max_list_pages"),
        "list pages followed per start URL and run",
        check=between(1, 10000),
    ),
    "delay_seconds": Setting(
        (int, float),
        default_of(Site, "delay_seconds"),
        "pause between requests to the site; 0 allowed",
        check=between(0, HOUR),
    ),
    "schedule": Setting(
        str, default_of(Site, "schedule"), "'every 30m' / 'every 2h' / a 5-field cron expression"
    ),
    "list_link_selector": Setting(
        str, None, "CSS or XPath of article links on list pages (default: every link)"
    ),
    "pagination_selector": Setting(
        str, None, "CSS or XPath of the pager on list pages (default: found automatically)"
    ),
    "enabled": Setting(
        bool, default_of(Site, "enabled"), "crawl this site with --all and in the service"
    ),
    "stop_at_known_page": Setting(
        bool,
        default_of(Site, "stop_at_known_page"),
        "stop following list pages at one whose articles are all stored already",
    ),
    "recheck_days": Setting(
        int,
        default_of(Site, "recheck_days"),
        "re-fetch stored articles published within this many days, to record edits; 0: never",
        check=between(0, 36500),
    ),
    "conditional_requests": Setting(
        bool,
        default_of(Site, "conditional_requests"),
        "ask for list pages with If-None-Match / If-Modified-Since (304: no change)",
    ),
    "challenge": Setting(
        str,
        default_of(Site, "challenge"),
        "JavaScript challenges: auto, replay (cookies only), browser (headless Chromium), off",
        check=challenge_mode,
    ),
    "cookie_rule": Setting(
        str,
        None,
        "rewrite of the site's cookies before each request, as its scripts do in a browser: "
        '"ccdi" (www.ccdi.gov.cn\'s HOY_TR); default: none',
        check=rule_problem,
    ),
    "user_agent": Setting(
        str,
        None,
        "User-Agent sent to this site (default: [crawl] user_agent, govwatch's own)",
        check=header_value,
    ),
    "headers": Setting(
        dict,
        None,
        "extra request headers for this site (table [sites.headers], name = value)",
        check=request_headers,
    ),
    "selectors": Setting(dict, None, "per-field selectors (table [sites.selectors])"),
    "cookie_env": Setting(
        str,
        None,
        "environment variable holding a Cookie: header copied from a browser (after a "
        "captcha), sent to the site's hosts",
        check=env_name,
    ),
}

SELECTOR_KEYS: dict[str, Setting] = {
    name: Setting(str, None, f"CSS or XPath of the article's {name.replace('_', ' ')}")
    for name in ("title", "publish_time", "source", "author", "body")
}

# an email channel's ``security`` and the port each implies when ``port`` is not given
EMAIL_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
_EMAIL_SECURITY = tuple(EMAIL_PORTS)


def _security(value: Any) -> str | None:
    return None if value in _EMAIL_SECURITY else f"must be one of {', '.join(_EMAIL_SECURITY)}"


def _channel_type(value: Any) -> str | None:
    return None if value in CHANNEL_TYPES else f"must be one of {', '.join(CHANNEL_TYPES)}"


DIGEST_KEYS: dict[str, Setting] = {
    "name": Setting(str, None, "unique short name, [a-z0-9_-]+ (required)"),
    "schedule": Setting(
        str,
        default_of(Subscription, "schedule"),
        "when to send it: a 5-field cron expression (Beijing time) or 'every 6h'",
    ),
    "enabled": Setting(
        bool,
        default_of(Subscription, "enabled"),
        "send it from the service (govwatch digest works either way)",
    ),
    "sites": Setting(
        list,
        default_of(Subscription, "sites"),
        "only articles of these sites (names); empty: every site",
    ),
    "keywords": Setting(
        list,
        default_of(Subscription, "keywords"),
        "only articles with one of these words in the title or body; empty: all",
    ),
    "include_dead_links": Setting(
        bool,
        default_of(Subscription, "include_dead_links"),
        "report links that became dead or recovered, with the pages they are on",
    ),
    "skip_empty": Setting(
        bool, default_of(Subscription, "skip_empty"), "send nothing when there is nothing to report"
    ),
    "excerpt_chars": Setting(
        int,
        default_of(Subscription, "excerpt_chars"),
        "characters of each article's excerpt",
        check=between(1, 10000),
    ),
    "backfill_hours": Setting(
        (int, float),
        default_of(Subscription, "backfill_hours"),
        "the first digest also covers articles first seen this many hours before it",
        check=between(0, 24 * 3650),
    ),
    "retry_backoff_seconds": Setting(
        (int, float),
        default_of(Retry, "first_seconds"),
        "wait before retrying a failed send; doubles with each attempt",
        check=between(0, DAY, above=True),
    ),
    "retry_backoff_max_seconds": Setting(
        (int, float),
        default_of(Retry, "max_seconds"),
        "longest wait between two attempts",
        check=between(0, 7 * DAY, above=True),
    ),
    "max_attempts": Setting(
        int,
        default_of(Retry, "max_attempts"),
        "attempts before a send that keeps failing is given up",
        check=between(1, 100),
    ),
    "channels": Setting(list, None, "where it goes: [[digests.channels]] tables (at least one)"),
}

CHANNEL_KEYS: dict[str, Setting] = {
    "type": Setting(
        str,
        None,
        "email, webhook, dingtalk, wecom, feishu or slack (required)",
        check=_channel_type,
    ),
    "name": Setting(str, None, "name within the digest, [a-z0-9_-]+ (default: the type; unique)"),
    "timeout_seconds": Setting(
        (int, float),
        None,
        "give up on one send after this long (email "
        f"{default_of(EmailChannel, 'timeout_seconds'):g}, others "
        f"{default_of(WebhookChannel, 'timeout_seconds'):g})",
        check=between(0, HOUR, above=True),
    ),
    # email
    "host": Setting(str, None, "email: SMTP server (required)"),
    "port": Setting(
        int,
        None,
        "email: SMTP port (default: "
        + ", ".join(f"{port} with {security}" for security, port in EMAIL_PORTS.items())
        + ")",
        check=between(1, 65535),
    ),
    "security": Setting(
        str,
        default_of(EmailChannel, "security"),
        "email: starttls, ssl (implicit TLS) or none",
        check=_security,
    ),
    "username": Setting(str, None, "email: SMTP login (needs password_env)"),
    "password_env": Setting(str, None, "email: environment variable holding the SMTP password"),
    "from": Setting(
        str, None, "email: sender address, e.g. 'govwatch <gw@example.org>' (required)"
    ),
    "to": Setting(list, None, "email: recipient addresses (required, one or more)"),
    "ca_file": Setting(str, None, "email: PEM file of CA certificates to trust for the server"),
    # webhook and chat robots
    "url": Setting(str, None, "webhook, robots: the URL to POST to (or url_env)"),
    "url_env": Setting(
        str, None, "webhook, robots: environment variable holding the URL (it holds a token)"
    ),
    "secret_env": Setting(
        str,
        None,
        "webhook, dingtalk, feishu: environment variable holding the signing secret",
    ),
}
