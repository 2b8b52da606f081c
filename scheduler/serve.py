"""``govwatch serve``: the read-only web view; and the same routes for ``govwatch run --http``.

Composition: the ``[web]`` settings become ``web.app.WebOptions``, the configured digest
subscriptions become the digest feeds, and the database is opened read-only (with a
statement timeout) for the web view alone.  The web view never creates or upgrades the
schema: a database behind the code's schema is an error that says to run ``govwatch init``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from scheduler.config import Config
from scheduler.health import parse_listen
from storage.errors import ConfigError, StorageError, UsageError

if TYPE_CHECKING:
    from aiohttp import web

    from storage.database import Database
    from web.app import WebOptions

log = logging.getLogger(__name__)


def web_options(config: Config, exempt_paths: frozenset[str] = frozenset()) -> WebOptions:
    from web.app import WebOptions
    from web.views import DigestFeed

    w = config.web
    return WebOptions(
        token=w.token,
        page_size=w.page_size,
        max_page_size=w.max_page_size,
        feed_entries=w.feed_entries,
        max_feed_entries=w.max_feed_entries,
        public_url=w.public_url,
        digests=tuple(
            DigestFeed(
                name=d.name,
                filter=d.filter,
                schedule=d.schedule,
                channels=tuple(c.name for c in d.channels),
                enabled=d.enabled,
            )
            for d in config.digests
        ),
        query_workers=w.query_workers,
        exempt_paths=exempt_paths,
    )


def open_read_only(config: Config) -> Database:
    """The configured database, read-only, at the schema this govwatch expects."""
    from storage import migrate
    from storage.database import Database

    db = Database(
        config.database.url,
        read_only=True,
        statement_timeout=config.web.query_timeout_seconds,
    )
    current = migrate.current_revision(db)
    expected = migrate.head_revision()
    if current != expected:
        db.dispose()
        raise StorageError(
            f"database {db.display_url} is at schema {current or 'none'}, this govwatch "
            f"needs {expected}: run 'govwatch init' first (the web view never writes)"
        )
    return db


def check_exposure(config: Config, host: str, what: str) -> None:
    """Refuse a web view reachable from other machines without a token; refuse to start
    without the token when ``token_env`` names a variable that is not set."""
    from web.server import is_loopback

    if config.web.token_env and not config.web.token:
        raise ConfigError(
            f"web.token_env: environment variable {config.web.token_env} is not set "
            "(the web view will not start without the token it was told to ask for)"
        )
    if not is_loopback(host) and not config.web.token:
        raise ConfigError(
            f"{what}: {host} is not a loopback address: set web.token_env (an access token) "
            "to serve the web view to other machines"
        )


def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    """``govwatch serve``: the web view in the foreground until SIGTERM/SIGINT."""
    bind = args.bind if args.bind is not None else config.web.bind
    try:
        host, port = parse_listen(bind)
    except ValueError as exc:
        raise UsageError(f"--bind: {exc}") from None
    check_exposure(config, host, "--bind")
    from web.app import build_app
    from web.server import serve_forever

    db = open_read_only(config)
    try:
        app = build_app(db, web_options(config))

        def ready(address: str) -> None:
            log.info("web view on http://%s (database %s, read-only)", address, db.display_url)
            print(f"govwatch: serving http://{address}/", file=sys.stderr, flush=True)

        serve_forever(app, host, port, ready)
    finally:
        db.dispose()
    return 0


def service_web_app(config: Config, listen: str) -> tuple[web.Application | None, Database | None]:
    """The web view for ``govwatch run --http``, or ``None`` (with a warning) when it must
    not be served there: a non-loopback address without a token keeps only ``/healthz`` and
    ``/metrics``, as before."""
    host, _ = parse_listen(listen)
    try:
        check_exposure(config, host, "--http")
    except ConfigError as exc:
        log.warning("not serving the web view on %s: %s", listen, exc)
        return None, None
    from web.app import build_app

    try:
        db = open_read_only(config)
    except StorageError as exc:
        log.warning("not serving the web view on %s: %s", listen, exc)
        return None, None
    return build_app(db, web_options(config, frozenset({"/healthz", "/metrics"}))), db
