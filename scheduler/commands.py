"""What each ``govwatch`` command does, given parsed arguments and the configuration.

This is the composition root: it builds the database, the crawler and (later) the digest
objects from the configuration and hands them to each other.  Each command imports what it
uses when it runs (the database layer, Scrapy, the digest's templates), so a command pays
only for its own imports; type hints of heavy modules are imported for the type checker only.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler.linkcheck.records import BROKEN, CheckProgress
from crawler.site import Site, site_hosts
from scheduler.config import BUILTIN, Config, load_config, render_config
from scheduler.output import (
    BEIJING,
    article_record,
    article_text,
    articles_csv,
    articles_json,
    articles_table,
    beijing,
    iso,
    published,
    table,
)
from storage.errors import ConfigError, GovwatchError, UsageError
from storage.records import ArticleQuery, SiteInfo

if TYPE_CHECKING:
    from crawler.recorder import RunReport
    from storage.database import Database

_RELATIVE = re.compile(r"^(\d+)\s*([dhm])$")
# run outcomes ``govwatch crawl`` exits 0 for: a warning run worked (status shows why it warns)
CRAWL_OK = frozenset({"succeeded", "warning"})


# databases the command opened, closed when it ends (the process skips its teardown)
_opened: list[Database] = []


def run(args: argparse.Namespace, config: Config) -> int:
    handler: Callable[[argparse.Namespace, Config], int] = COMMANDS[args.command]
    if args.command != "crawl":  # a crawl does once Scrapy is set up (crawler.runner)
        collect_from_here()
    try:
        return handler(args, config)
    finally:
        while _opened:
            _opened.pop().dispose()


def collect_from_here() -> None:
    """Turn the garbage collector back on after a start-up without it (scheduler.cli.run),
    the start-up's objects frozen: kept for the process's life, the collector's full passes
    need not look at them.  A no-op with the collector on (tests calling main())."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def open_database(config: Config, *, sync_sites: bool = True) -> Database:
    """The configured database, with its schema created or upgraded as needed, and the runs
    of dead crawl processes closed.  ``sync_sites=False`` (``status``, which reads sites by
    name and takes titles from the configuration) leaves the site rows alone: no ORM."""
    from scheduler.dead_runs import close_dead_runs
    from storage import migrate
    from storage.database import Database

    db = Database(config.database.url)
    _opened.append(db)
    migrate.upgrade(db)
    if sync_sites:
        from storage import repository

        with db.session() as session:
            repository.sync_sites(session, [SiteInfo(s.name, s.title) for s in config.sites])
    close_dead_runs(db, [s.name for s in config.sites])
    return db


def ensure_queue_schema(config: Config, db: Database) -> bool:
    """Procrastinate's tables, with ``[queue] backend = "procrastinate"``; True if created."""
    if not config.queue.enabled:
        return False
    from scheduler.queue import ensure_schema

    return ensure_schema(db)


def cmd_init(args: argparse.Namespace, config: Config) -> int:
    from storage import migrate, repository
    from storage.database import Database

    db = Database(config.database.url)
    _opened.append(db)
    before, after = migrate.upgrade(db)
    with db.session() as session:
        repository.sync_sites(session, [SiteInfo(s.name, s.title) for s in config.sites])
    if ensure_queue_schema(config, db):
        print(f"created the job queue's tables in {db.display_url}")
    if before == after:
        print(f"database {db.display_url} is up to date (schema {after})")
    elif before is None:
        print(f"created database {db.display_url} (schema {after})")
    else:
        print(f"upgraded database {db.display_url} from schema {before} to {after}")
    return 0


def cmd_check_config(args: argparse.Namespace, config: Config) -> int:
    if config.missing_env and args.strict:
        more = f" (and {len(config.missing_env) - 1} more)" if len(config.missing_env) > 1 else ""
        raise ConfigError(f"{config.missing_env[0]}{more} (--strict)")
    for line in config.missing_env:
        print(f"govwatch: warning: {line}", file=sys.stderr)
    sys.stdout.write(render_config(config))
    print(f"# OK: {len(config.sites)} site(s)", file=sys.stderr)
    return 0


def cmd_crawl(args: argparse.Namespace, config: Config) -> int:
    sites = select_sites(config, args.sites, args.all)
    from crawler.offload import PageExtractor
    from crawler.store.child import fork_store

    # Forked while this process has one thread and no database connection: the database
    # child, which opens the database and then makes the crawl's database calls
    # (crawler.store.child), and the extraction workers (crawler.offload), which share this
    # process's pages.  Both start beside Scrapy's import; this process imports no database
    # layer.
    workers = config.crawl.extraction_workers()
    defer = config.crawl.defer_to_workers if workers else 0
    store = fork_store(lambda: open_database(config), defer)
    try:
        extractor = PageExtractor(workers, defer)
        try:
            from crawler.runner import run_crawls  # Scrapy is imported only when crawling
        except BaseException:
            extractor.close()  # (run_crawls closes it)
            raise
        # the first database call waits for the child to be ready: Scrapy is set up meanwhile
        reports = run_crawls(
            store, sites, config.crawl, on_start=_started, on_finish=_finished, extractor=extractor
        )
    finally:
        store.close()
    if len(reports) > 1:
        print(
            f"total: {len(reports)} site(s), "
            f"{sum(r.totals.list_pages + r.totals.article_pages for r in reports)} pages, "
            f"{sum(r.totals.articles_new for r in reports)} new articles, "
            f"{sum(r.totals.error_count for r in reports)} errors, "
            f"{sum(r.outcome != 'succeeded' for r in reports)} run(s) not succeeded"
        )
    ok = len(reports) == len(sites) and all(r.outcome in CRAWL_OK for r in reports)
    return 0 if ok else 1


def _started(site: Site, run_id: int) -> None:
    print(f"{site.name}: crawling {len(site.start_urls)} start URL(s) (run {run_id})")
    sys.stdout.flush()


def _finished(report: RunReport) -> None:
    print(describe_run(report))
    sys.stdout.flush()


def describe_run(report: RunReport) -> str:
    t = report.totals
    unchanged = f", {t.lists_not_modified} not modified" if t.lists_not_modified else ""
    edited = f", {t.articles_changed} edited" if t.articles_changed else ""
    line = (
        f"{report.site}: {report.outcome} in {report.seconds:.1f}s: "
        f"{t.list_pages + t.article_pages} pages ({t.list_pages} list{unchanged}), "
        f"{t.articles_found} articles found, {t.articles_new} new{edited}, "
        f"{t.error_count} errors"
    )
    return f"{line}: {report.message}" if report.message else line


def select_sites(config: Config, names: list[str], all_sites: bool) -> list[Site]:
    if all_sites and names:
        raise UsageError("give site names or --all, not both")
    if all_sites:
        sites = [s for s in config.sites if s.enabled]
        if not sites:
            raise UsageError(f"no enabled sites in {config.source}")
        return sites
    if not names:
        raise UsageError("name the sites to crawl, or use --all")
    chosen = []
    for name in dict.fromkeys(names):
        site = config.site(name)
        if site is None:
            known = ", ".join(s.name for s in config.sites) or "none"
            raise UsageError(f"unknown site {name!r} (configured: {known})")
        chosen.append(site)
    return chosen


_MAX_SINCE = timedelta(days=100 * 366)  # --since goes back a century at most
_SINCE_HELP = "a date (YYYY-MM-DD), an ISO time, or 7d / 12h / 30m"


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``YYYY-MM-DD`` (Beijing midnight), an ISO date-time, or ``7d``/``12h``/``30m`` ago;
    within a century of now."""
    text = text.strip()
    now = now or datetime.now(UTC)
    shown = text[:40]
    match = _RELATIVE.match(text)
    if match:
        amount, unit = match.group(1), match.group(2)
        per_unit = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}
        if len(amount) > 9 or per_unit[unit] * int(amount) > _MAX_SINCE:
            raise UsageError(f"--since: {shown!r} goes back more than 100 years")
        return now - per_unit[unit] * int(amount)
    try:
        value = datetime.fromisoformat(text)
        value = value if value.tzinfo else value.replace(tzinfo=BEIJING)
        in_utc = value.astimezone(UTC)
    except (ValueError, OverflowError):
        raise UsageError(f"--since: {shown!r} is not {_SINCE_HELP}") from None
    if abs(in_utc - now) > _MAX_SINCE:
        raise UsageError(f"--since: {shown!r} is more than 100 years away")
    return value


def cmd_articles(args: argparse.Namespace, config: Config) -> int:
    from storage import repository

    if args.site is not None and config.site(args.site) is None:
        known = ", ".join(s.name for s in config.sites) or "none"
        raise UsageError(f"unknown site {args.site!r} (configured: {known})")
    if args.search is not None:
        from storage.search_terms import query_words

        try:
            query_words(args.search)
        except ValueError as exc:
            raise UsageError(f"--search: {exc}") from exc
    query = ArticleQuery(
        site=args.site,
        since=parse_since(args.since) if args.since is not None else None,
        search=args.search,
        limit=args.limit,
        duplicates=args.duplicates,
    )
    db = open_database(config)
    with db.session() as session:
        articles = repository.list_articles(session, query)
    if args.format == "json":
        sys.stdout.write(articles_json(articles))
    elif args.format == "csv":
        sys.stdout.write(articles_csv(articles))
    else:
        print(articles_table(articles) if articles else "no articles")
    return 0


def cmd_show(args: argparse.Namespace, config: Config) -> int:
    from storage import repository

    db = open_database(config)
    with db.session() as session:
        article = repository.get_article(session, args.id)
        copies = repository.story_copies(session, args.id) if article else []
    if article is None:
        raise UsageError(f"no article with id {args.id}")
    if args.format == "json":
        record = article_record(article)
        record["also_published_by"] = [
            {
                "id": c.id,
                "site": c.site,
                "url": c.url,
                "title": c.title,
                "publish_time": iso(c.publish_time, zone=BEIJING),
                "publish_time_precision": c.publish_time_precision,
            }
            for c in copies
        ]
        print(json.dumps(record, ensure_ascii=False, indent=2))
    else:
        text = article_text(article)
        if copies:  # "also published by", after the header lines, before the body
            head, sep, body = text.partition("\n\n")
            also = "".join(
                f"{'also in:':<12}{c.site} {published(c.publish_time, c.publish_time_precision)} "
                f"{c.url} (id {c.id})\n"
                for c in copies
            )
            text = f"{head}\n{also.rstrip()}{sep}{body}"
        sys.stdout.write(text)
    return 0


# Each SQLite connection of the service caches at most this many KiB of database pages
# (SQLite's default: 2,000).  Its queries each read a few pages; with the default, the
# pooled connections' caches kept filling as the database grew, fragmenting the allocator's
# arenas: the RSS grew +1.1 to +1.6 MB over 270 digest cycles, +0.3 MB with 64 KiB, and
# not at all after 600 cycles (bench/service_rss.py; bench/README.md, branch i14-rss2).
SERVICE_SQLITE_CACHE_KIB = 64


def open_service_database(config: Config) -> Database:
    """:func:`open_database` for ``govwatch run``: its SQLite connections cache few pages
    (:data:`SERVICE_SQLITE_CACHE_KIB`), once the schema is upgraded."""
    db = open_database(config)
    db.limit_sqlite_cache(SERVICE_SQLITE_CACHE_KIB)
    return db


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    """``govwatch run``: the background service, until SIGTERM/SIGINT."""
    from scheduler.health import parse_listen
    from scheduler.serve import service_web_app
    from scheduler.service import Service  # APScheduler is imported only by the service

    listen = args.http if args.http is not None else config.service.http_listen
    if listen:
        try:
            parse_listen(listen)
        except ValueError as exc:
            raise UsageError(f"--http: {exc}") from None
    db = open_service_database(config)
    ensure_queue_schema(config, db)
    web_app, web_db, web_reload = service_web_app(config, listen) if listen else (None, None, None)
    service = Service(
        config,
        db,
        child_argv=child_command(args, config),
        reload_config=lambda: load_config(args.config),
        listen=listen,
        web_app=web_app,
        on_reload=web_reload,
    )
    try:
        return service.run()
    finally:
        db.dispose()
        if web_db is not None:
            web_db.dispose()


def child_command(args: argparse.Namespace, config: Config) -> list[str]:
    """``govwatch`` with this process's configuration, for the service's job processes.

    Children log at WARNING (the service logs each job's start and end), or DEBUG when the
    service does; they read the same config file and environment.
    """
    level = logging.getLogger().getEffectiveLevel()
    child_level = (
        "DEBUG" if level <= logging.DEBUG else logging.getLevelName(max(level, logging.WARNING))
    )
    argv = [sys.executable, "-m", "scheduler", "--log-level", child_level]
    argv += ["--log-format", args.log_format]
    if config.source != BUILTIN:
        argv += ["--config", str(Path(config.source).resolve())]
    return argv


def cmd_worker(args: argparse.Namespace, config: Config) -> int:
    """``govwatch worker``: run the jobs the leader defers, until SIGTERM/SIGINT."""
    if not config.queue.enabled:
        raise ConfigError(
            f'{config.source}: govwatch worker needs [queue] backend = "procrastinate" '
            "(and a PostgreSQL database.url)"
        )
    from scheduler.worker import run_worker  # Procrastinate is imported only by queue users

    db = open_database(config)
    return run_worker(
        config,
        db,
        child_command(args, config),
        concurrency=args.concurrency or config.queue.concurrency,
        queues=args.queues or config.queue.queues,
    )


def cmd_status(args: argparse.Namespace, config: Config) -> int:
    from scheduler.status import build_status, render_json, render_text

    db = open_database(config, sync_sites=False)
    status = build_status(config, db)
    sys.stdout.write(render_json(status) if args.format == "json" else render_text(status))
    return 0


def cmd_check_links(args: argparse.Namespace, config: Config) -> int:
    """``govwatch check-links``: check the due links now; exit 1 only if the run failed."""
    from crawler.linkcheck.checker import run_link_checks  # aiohttp is imported only when checking
    from scheduler.links_output import describe_check

    _known_site(config, args.site)
    db = open_database(config)
    report = run_link_checks(
        db,
        config.links,
        site=args.site,
        limit=args.limit,
        progress=_check_progress(),
        hosts=site_hosts(config.sites),
    )
    print(describe_check(report))
    return 1 if report.message else 0


def _check_progress(every_seconds: float = 5.0) -> Callable[[CheckProgress], None]:
    """Print a progress line at the start, then at most every ``every_seconds``."""
    last = [0.0]

    def show(p: CheckProgress) -> None:
        now = time.monotonic()
        if p.checked == 1:
            print(f"checking {p.total} links")
        elif now - last[0] >= every_seconds and p.checked < p.total:
            print(f"{p.checked}/{p.total} links checked: {p.broken} broken, {p.errors} errors")
        else:
            return
        last[0] = now
        sys.stdout.flush()

    return show


def cmd_links(args: argparse.Namespace, config: Config) -> int:
    """``govwatch links``: links found on crawled pages, by status, with their pages."""
    from scheduler.links_output import links_csv, links_json, links_table
    from storage import repository
    from storage.link_records import LinkQuery

    _known_site(config, args.site)
    if args.status == "all":
        statuses = None
    elif args.status == "broken":
        statuses = tuple(sorted(BROKEN))
    else:
        statuses = (args.status,)
    db = open_database(config)
    with db.session() as session:
        links = repository.list_links(
            session, LinkQuery(statuses=statuses, site=args.site, limit=args.limit)
        )
    if args.format == "json":
        sys.stdout.write(links_json(links))
    elif args.format == "csv":
        sys.stdout.write(links_csv(links))
    else:
        print(links_table(links) if links else f"no links ({args.status})")
    return 0


def _known_site(config: Config, name: str | None) -> None:
    if name is not None and config.site(name) is None:
        known = ", ".join(s.name for s in config.sites) or "none"
        raise UsageError(f"unknown site {name!r} (configured: {known})")


def cmd_sites(args: argparse.Namespace, config: Config) -> int:
    from storage import repository

    db = open_database(config)
    with db.session() as session:
        summaries = repository.site_summaries(session, [s.name for s in config.sites])
    rows = []
    for site, summary in zip(config.sites, summaries, strict=True):
        run = summary.last_run
        last = "never" if run is None else f"{beijing(run.started_at)} {run.outcome}"
        new = "" if run is None else str(run.articles_new)
        rows.append(
            (
                site.name + ("" if site.enabled else " (off)"),
                site.title,
                str(summary.article_count),
                last,
                new,
                site.schedule,
            )
        )
    print(
        table(
            ("SITE", "TITLE", "ARTICLES", "LAST RUN (BEIJING)", "NEW", "SCHEDULE"),
            rows,
            (14, 30, 8, 28, 5, 12),
        )
    )
    return 0


def cmd_extract(args: argparse.Namespace, config: Config) -> int:
    """Extract each input; a failing input prints an object with ``error``, not a crash."""
    site = None
    if args.site:
        site = config.site(args.site)
        if site is None:
            known = ", ".join(s.name for s in config.sites) or "none"
            raise UsageError(f"unknown site {args.site!r} (configured: {known})")
    if args.url and len(args.inputs) > 1:
        raise UsageError("--url names the address of one saved file; give one input with it")
    failures = 0
    for given in args.inputs:
        record = extract_one(given, args.url, site, config)
        failures += "error" in record
        if args.format == "json":
            print(json.dumps(record, ensure_ascii=False))
        else:
            print(extract_text(record))
    return 1 if failures else 0


def extract_one(given: str, url: str | None, site: Site | None, config: Config) -> dict[str, Any]:
    from crawler.extract.article import extract_article
    from crawler.extract.errors import ExtractError
    from crawler.net.fetch import fetch_page

    try:
        if given.startswith(("http://", "https://")):
            page = fetch_page(given, config.crawl)
            body, content_type, page_url = page.body, page.content_type, page.url
        else:
            body, content_type = Path(given).read_bytes(), None
            page_url = url or Path(given).resolve().as_uri()
        selectors = site.selectors if site and not site.selectors.is_empty() else None
        article = extract_article(body, page_url, content_type=content_type, selectors=selectors)
    except OSError as exc:
        return {"file": given, "error": f"cannot read: {exc.strerror or exc}"}
    except (GovwatchError, ExtractError) as exc:  # the extractor's own error, met here
        return {"file": given, "error": str(exc)}
    record: dict[str, Any] = {
        "file": given,
        "url": article.url,
        "title": article.title,
        "publish_time": iso(article.publish_time),
        "publish_time_precision": article.publish_time_precision,
        "source": article.source,
        "author": article.author,
        "editor": article.editor,
        "pretitle": article.pretitle,
        "subtitle": article.subtitle,
        "body": article.body,
        "links": [{"url": ln.url, "kind": ln.kind, "text": ln.text} for ln in article.links],
        "page_kind": article.page_kind,
        "encoding": article.encoding,
        "warnings": list(article.warnings),
    }
    if article.page_kind != "article":
        record["error"] = f"not an article: {article.page_kind} page" + (
            f" ({article.error_reason})" if article.error_reason else ""
        )
    return record


def extract_text(record: dict[str, Any]) -> str:
    if "error" in record and "title" not in record:
        return f"{record['file']}: error: {record['error']}\n"
    head = [
        (key, record.get(key))
        for key in (
            "file",
            "title",
            "pretitle",
            "subtitle",
            "publish_time",
            "source",
            "author",
            "editor",
            "error",
        )
    ]
    if record.get("publish_time_precision"):  # how much of the time the page showed
        head = [
            (k, f"{v} ({record['publish_time_precision']})" if k == "publish_time" else v)
            for k, v in head
        ]
    lines = [f"{k + ':':<14}{v}" for k, v in head if v]
    lines += [f"{'links:':<14}{len(record['links'])}"]
    lines += [f"{'warning:':<14}{w}" for w in record["warnings"]]
    return "\n".join(lines) + "\n\n" + record["body"] + "\n"


def cmd_digest(args: argparse.Namespace, config: Config) -> int:
    # imported only for digests: Jinja2, requests and smtplib stay out of crawl processes
    from scheduler.digests import cmd_digest as digest_command

    return digest_command(args, config)


def _cmd_serve(args: argparse.Namespace, config: Config) -> int:
    from scheduler.serve import cmd_serve  # aiohttp and the templates only for serve

    return cmd_serve(args, config)


COMMANDS: dict[str, Callable[[argparse.Namespace, Config], int]] = {
    "init": cmd_init,
    "check-config": cmd_check_config,
    "crawl": cmd_crawl,
    "articles": cmd_articles,
    "show": cmd_show,
    "sites": cmd_sites,
    "run": cmd_run,
    "worker": cmd_worker,
    "status": cmd_status,
    "extract": cmd_extract,
    "check-links": cmd_check_links,
    "links": cmd_links,
    "digest": cmd_digest,
    "serve": _cmd_serve,
}
