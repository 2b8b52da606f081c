"""``govwatch serve``: the read-only web view; and the same routes for ``govwatch run --http``.

Composition: the ``[web]`` settings become ``web.app.WebOptions``, the configured digest
subscriptions become the digest feeds, and the database is opened read-only (with a
statement timeout) for the web view alone.  The web view never creates or upgrades the
schema: a database behind the code's schema is an error that says to run ``govwatch init``.

SIGHUP (``govwatch serve``, and ``govwatch run --http`` through the service's reload) re-reads
the configuration and serves the next requests with its ``[web]`` settings, token and digest
subscriptions (:class:`WebReload`), on the same listening socket; a configuration the web
view must refuse leaves the one in use, with one line in the log.  The database (its URL,
``query_timeout_seconds``) and ``query_workers`` stay until the next start.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from scheduler.config import Config, load_config
from scheduler.health import parse_listen
from storage.errors import ConfigError, GovwatchError, StorageError, UsageError

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


class WebReload:
    """Applies a reloaded configuration to the web view ``app`` serves on ``host``; never
    raises: what it must refuse is logged, and the options in use stay."""

    def __init__(
        self,
        app: web.Application,
        config: Config,
        host: str,
        what: str,
        exempt_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.config = config
        self.host = host
        self.what = what
        self.exempt_paths = exempt_paths

    def __call__(self, config: Config) -> None:
        from web.app import reconfigure

        try:
            check_exposure(config, self.host, self.what)
            options = web_options(config, self.exempt_paths)
        except GovwatchError as exc:
            log.error("reload: the web view keeps the configuration in use: %s", exc)
            return
        old = self.config
        if (config.database.url, config.web.query_timeout_seconds) != (
            old.database.url,
            old.web.query_timeout_seconds,
        ):
            log.warning(
                "reload: the web view's database.url and web.query_timeout_seconds take "
                "effect at the next start"
            )
        reconfigure(self.app, options)
        self.config = config
        log.info("reload: the web view serves the new [web] settings and digests")


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
        apply = WebReload(app, config, host, "--bind")

        def ready(address: str) -> None:
            log.info("web view on http://%s (database %s, read-only)", address, db.display_url)
            print(f"govwatch: serving http://{address}/", file=sys.stderr, flush=True)

        def reload() -> None:
            log.info("SIGHUP: reloading the configuration")
            try:
                new = load_config(args.config)
            except GovwatchError as exc:
                log.error("reload failed, the configuration in use stays: %s", exc)
                return
            apply(new)

        serve_forever(app, host, port, ready, reload)
    finally:
        db.dispose()
    return 0


SERVICE_PATHS = frozenset({"/healthz", "/metrics"})  # served by the service without a token


def service_web_app(
    config: Config, listen: str
) -> tuple[web.Application | None, Database | None, WebReload | None]:
    """The web view for ``govwatch run --http``, its database and what applies a reloaded
    configuration to it; or ``None`` (with a warning) when it must not be served there: a
    non-loopback address without a token keeps only ``/healthz`` and ``/metrics``, as
    before (until the next start, whatever a reload says)."""
    host, _ = parse_listen(listen)
    try:
        check_exposure(config, host, "--http")
    except ConfigError as exc:
        log.warning("not serving the web view on %s: %s", listen, exc)
        return None, None, None
    from web.app import build_app

    try:
        db = open_read_only(config)
    except StorageError as exc:
        log.warning("not serving the web view on %s: %s", listen, exc)
        return None, None, None
    app = build_app(db, web_options(config, SERVICE_PATHS))
    return app, db, WebReload(app, config, host, "--http", SERVICE_PATHS)
