"""Configuration: the one place that reads the config file and the environment.

The file is found via ``--config FILE``, else ``$GOVWATCH_CONFIG``, else ``./govwatch.toml``,
else the built-in default (``scheduler/builtin.toml``).  Every key is declared in
``scheduler.settings`` with its type, default and a line of help.  Secrets may come from
the environment instead of the file.
Any problem is a :class:`ConfigError` naming the file, the key and what is wrong.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from crawler.extract.records import Selectors
from crawler.linkcheck.records import LinkSettings
from crawler.site import AUTO_WORKERS, CrawlSettings, Site
from digest.subscription import Subscription
from scheduler.digest_config import read_digests, render_digests
from scheduler.schedule import parse_schedule
from scheduler.setting_checks import (
    check_selector,
    header_value,
    read_table,
    toml_value,
    url_problem,
)
from scheduler.settings import SECTIONS, SELECTOR_KEYS, SITE_KEYS, Setting
from storage.errors import ConfigError, StorageError
from storage.urls import check_url, hide_password

CONFIG_ENV = "GOVWATCH_CONFIG"
DEFAULT_CONFIG_FILE = "govwatch.toml"
BUILTIN = "built-in default"
__all__ = ["SECTIONS", "SELECTOR_KEYS", "SITE_KEYS", "Config", "Setting", "load_config"]
_SITE_NAME = re.compile(r"^[a-z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    url: str = SECTIONS["database"]["url"].default


_SERVICE = SECTIONS["service"]


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """The ``[service]`` section: how ``govwatch run`` schedules, bounds and reports."""

    max_concurrent_crawls: int = _SERVICE["max_concurrent_crawls"].default
    crawl_time_limit_seconds: float = _SERVICE["crawl_time_limit_seconds"].default
    kill_after_seconds: float = _SERVICE["kill_after_seconds"].default
    misfire_grace_seconds: int = _SERVICE["misfire_grace_seconds"].default
    jitter_seconds: int = _SERVICE["jitter_seconds"].default
    shutdown_grace_seconds: float = _SERVICE["shutdown_grace_seconds"].default
    http_listen: str = _SERVICE["http_listen"].default
    standby_poll_seconds: float = _SERVICE["standby_poll_seconds"].default
    heartbeat_seconds: float = _SERVICE["heartbeat_seconds"].default
    min_schedule_seconds: int = _SERVICE["min_schedule_seconds"].default
    failing_runs_warning: int = _SERVICE["failing_runs_warning"].default
    zero_articles_warning_hours: float = _SERVICE["zero_articles_warning_hours"].default
    history_days: int = _SERVICE["history_days"].default
    digest_schedule: str = _SERVICE["digest_schedule"].default
    digest_time_limit_seconds: float = _SERVICE["digest_time_limit_seconds"].default


_QUEUE = SECTIONS["queue"]


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """The ``[queue]`` section: whether ``govwatch run`` defers its jobs to ``govwatch worker``
    processes (Procrastinate on PostgreSQL), and how those workers behave."""

    backend: str = _QUEUE["backend"].default
    concurrency: int = _QUEUE["concurrency"].default
    queues: tuple[str, ...] = tuple(_QUEUE["queues"].default)
    heartbeat_seconds: float = _QUEUE["heartbeat_seconds"].default
    stalled_seconds: float = _QUEUE["stalled_seconds"].default
    max_attempts: int = _QUEUE["max_attempts"].default
    poll_seconds: float = _QUEUE["poll_seconds"].default

    @property
    def enabled(self) -> bool:
        return self.backend == "procrastinate"


_WEB = SECTIONS["web"]


@dataclass(frozen=True, slots=True)
class WebConfig:
    """The ``[web]`` section: ``govwatch serve`` and the web routes of ``run --http``."""

    bind: str = _WEB["bind"].default
    token_env: str | None = _WEB["token_env"].default
    token: str | None = field(default=None, repr=False)  # read from token_env
    public_url: str = _WEB["public_url"].default
    page_size: int = _WEB["page_size"].default
    max_page_size: int = _WEB["max_page_size"].default
    feed_entries: int = _WEB["feed_entries"].default
    max_feed_entries: int = _WEB["max_feed_entries"].default
    query_timeout_seconds: float = _WEB["query_timeout_seconds"].default
    query_workers: int = _WEB["query_workers"].default


@dataclass(frozen=True, slots=True)
class Config:
    """The whole, validated configuration."""

    source: str  # path of the file it came from, or "built-in default"
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    crawl: CrawlSettings = field(default_factory=CrawlSettings)
    service: ServiceConfig = field(default_factory=ServiceConfig)
    links: LinkSettings = field(default_factory=LinkSettings)
    queue: QueueConfig = field(default_factory=QueueConfig)
    web: WebConfig = field(default_factory=WebConfig)
    sites: tuple[Site, ...] = ()
    digests: tuple[Subscription, ...] = ()  # [[digests]] (scheduler.digest_config)
    env_overrides: tuple[str, ...] = ()  # names of environment variables that were applied
    missing_env: tuple[str, ...] = ()  # a line per *_env key naming an unset variable

    def site(self, name: str) -> Site | None:
        return next((s for s in self.sites if s.name == name), None)

    def digest(self, name: str) -> Subscription | None:
        return next((d for d in self.digests if d.name == name), None)


def find_config_file(cli_path: str | None, environ: Mapping[str, str]) -> Path | None:
    """The config file to read, by precedence; ``None`` means the built-in default."""
    if cli_path:
        return Path(cli_path)
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    local = Path(DEFAULT_CONFIG_FILE)
    return local if local.is_file() else None


def load_config(cli_path: str | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Find, read and validate the configuration."""
    env = os.environ if environ is None else environ
    path = find_config_file(cli_path, env)
    builtin = _read_builtin()
    if path is None:
        return parse_config(builtin, BUILTIN, env)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such config file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    data = _parsetoml_value(text, str(path))
    if "sites" not in data:
        data["sites"] = builtin["sites"]
    return parse_config(data, str(path), env)


def _read_builtin() -> dict[str, Any]:
    text = resources.files("scheduler").joinpath("builtin.toml").read_text(encoding="utf-8")
    return _parsetoml_value(text, BUILTIN)


def _parsetoml_value(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: invalid TOML: {exc}") from exc


def parse_config(data: Mapping[str, Any], where: str, environ: Mapping[str, str]) -> Config:
    """Validate a parsed TOML document into a :class:`Config`."""
    unknown = sorted(set(data) - set(SECTIONS) - {"sites", "digests"})
    if unknown:
        raise ConfigError(f"{where}: {unknown[0]}: unknown section or key")
    values: dict[str, dict[str, Any]] = {}
    applied: list[str] = []
    for section, specs in SECTIONS.items():
        raw = data.get(section, {})
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: {section}: must be a table ([{section}])")
        values[section] = read_table(raw, specs, where, section)
        for key, spec in specs.items():
            if spec.env and environ.get(spec.env):
                values[section][key] = environ[spec.env]
                applied.append(spec.env)
    db_url = values["database"]["url"]
    try:
        check_url(db_url)
    except StorageError as exc:
        raise ConfigError(f"{where}: database.url: {exc}") from exc
    if values["service"]["digest_schedule"]:
        try:
            parse_schedule(
                values["service"]["digest_schedule"], values["service"]["min_schedule_seconds"]
            )
        except ValueError as exc:
            raise ConfigError(f"{where}: service.digest_schedule: {exc}") from exc
    queue = _queue_settings(values, db_url, where)
    sites_raw = data.get("sites", [])
    if not isinstance(sites_raw, list):
        raise ConfigError(f"{where}: sites: must be an array of tables ([[sites]])")
    sites: list[Site] = []
    site_env: list[str] = []
    site_missing: list[str] = []
    for index, raw in enumerate(sites_raw):
        site = _read_site(raw, where, index, values["service"]["min_schedule_seconds"], environ)
        if site.cookie_env:
            if site.cookie is not None:
                site_env.append(site.cookie_env)
            else:
                site_missing.append(
                    f"{where}: sites[{index}] ({site.name}).cookie_env: environment variable "
                    f"{site.cookie_env} is not set"
                )
        if any(s.name == site.name for s in sites):
            raise ConfigError(f"{where}: sites[{index}].name: duplicate site name {site.name!r}")
        sites.append(site)
    digests, digest_env, missing_env = read_digests(
        data.get("digests", []),
        where,
        environ,
        [s.name for s in sites],
        values["service"]["min_schedule_seconds"],
    )
    web, web_env, web_missing = _web_config(values["web"], where, environ)
    return Config(
        source=where,
        database=DatabaseConfig(url=db_url),
        crawl=CrawlSettings(
            **{**values["crawl"], "allowed_networks": tuple(values["crawl"]["allowed_networks"])}
        ),
        service=ServiceConfig(**values["service"]),
        links=_link_settings(values, where),
        queue=queue,
        web=web,
        sites=tuple(sites),
        digests=digests,
        env_overrides=(*applied, *site_env, *digest_env, *web_env),
        missing_env=(*site_missing, *missing_env, *web_missing),
    )


def _queue_settings(values: Mapping[str, dict[str, Any]], db_url: str, where: str) -> QueueConfig:
    queue = dict(values["queue"])
    queue["queues"] = tuple(dict.fromkeys(queue["queues"]))
    config = QueueConfig(**queue)
    if config.enabled and check_url(db_url) != "postgresql":
        raise ConfigError(
            f'{where}: queue.backend: "procrastinate" needs a PostgreSQL database.url; '
            "an SQLite database keeps the single-machine service (leave queue.backend empty)"
        )
    return config


def _web_config(
    values: Mapping[str, Any], where: str, environ: Mapping[str, str]
) -> tuple[WebConfig, tuple[str, ...], tuple[str, ...]]:
    """``[web]``, its token read from the variable ``token_env`` names; the variables read
    and a line when that variable is not set (the web view then refuses to start)."""
    for key, most in (("page_size", "max_page_size"), ("feed_entries", "max_feed_entries")):
        if values[key] > values[most]:
            raise ConfigError(f"{where}: web.{key}: must not be more than web.{most}")
    var = values["token_env"]
    token = environ.get(var) if var else None
    web = WebConfig(**values, token=token or None)
    if not var:
        return web, (), ()
    if not token:
        return web, (), (f"{where}: web.token_env: environment variable {var} is not set",)
    return web, (var,), ()


def _link_settings(values: Mapping[str, dict[str, Any]], where: str) -> LinkSettings:
    links = dict(values["links"])
    try:
        parse_schedule(links["schedule"], values["service"]["min_schedule_seconds"])
    except ValueError as exc:
        raise ConfigError(f"{where}: links.schedule: {exc}") from exc
    links["allowed_networks"] = tuple(links["allowed_networks"])
    return LinkSettings(user_agent=values["crawl"]["user_agent"], **links)


def _read_site(
    raw: Any,
    where: str,
    index: int,
    min_schedule_seconds: int = 60,
    environ: Mapping[str, str] | None = None,
) -> Site:
    label = f"sites[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: {label}: must be a table ([[sites]])")
    name = raw.get("name")
    if name is None:
        raise ConfigError(f"{where}: {label}.name: missing (every site needs a name)")
    if not isinstance(name, str) or not _SITE_NAME.match(name):
        raise ConfigError(f"{where}: {label}.name: {name!r} is not a name of [a-z0-9_-]+")
    label = f"sites[{index}] ({name})"
    values = read_table(raw, SITE_KEYS, where, label)
    for required in ("start_urls", "article_url_pattern"):
        if values[required] is None:
            raise ConfigError(f"{where}: {label}.{required}: missing")
    start_urls = values["start_urls"]
    if not start_urls:
        raise ConfigError(f"{where}: {label}.start_urls: needs at least one URL")
    for i, url in enumerate(start_urls):
        problem = url_problem(url)
        if problem:
            raise ConfigError(f"{where}: {label}.start_urls[{i}]: {problem}")
    try:
        pattern = re.compile(values["article_url_pattern"])
    except re.error as exc:
        raise ConfigError(f"{where}: {label}.article_url_pattern: invalid regex: {exc}") from exc
    try:
        parse_schedule(values["schedule"], min_schedule_seconds)
    except ValueError as exc:
        raise ConfigError(f"{where}: {label}.schedule: {exc}") from exc
    for key in ("list_link_selector", "pagination_selector"):
        check_selector(values[key], where, f"{label}.{key}")
    selectors_raw = values["selectors"] or {}
    selectors = read_table(selectors_raw, SELECTOR_KEYS, where, f"{label}.selectors")
    for key, expression in selectors.items():
        check_selector(expression, where, f"{label}.selectors.{key}")
    return Site(
        name=name,
        title=values["title"] or name,
        start_urls=tuple(start_urls),
        article_url_pattern=pattern,
        max_list_pages=values["max_list_pages"],
        delay_seconds=values["delay_seconds"],
        schedule=values["schedule"],
        selectors=Selectors(**selectors),
        list_link_selector=values["list_link_selector"],
        pagination_selector=values["pagination_selector"],
        enabled=values["enabled"],
        stop_at_known_page=values["stop_at_known_page"],
        recheck_days=values["recheck_days"],
        conditional_requests=values["conditional_requests"],
        challenge=values["challenge"],
        cookie_rule=values["cookie_rule"],
        user_agent=values["user_agent"],
        headers=tuple((values["headers"] or {}).items()),
        cookie=_site_cookie(values["cookie_env"], environ or {}, where, label),
        cookie_env=values["cookie_env"],
    )


def _site_cookie(var: str | None, environ: Mapping[str, str], where: str, label: str) -> str | None:
    """The browser cookie the site's ``cookie_env`` names (None when unset or empty)."""
    if not var:
        return None
    value = environ.get(var, "").strip()
    if not value:
        return None
    problem = header_value(value)
    if problem:
        raise ConfigError(f"{where}: {label}.cookie_env: ${var} {problem}")
    return value


def render_config(config: Config) -> str:
    """The effective configuration as TOML, secrets masked (``govwatch check-config``)."""
    lines = [f"# effective configuration, from {config.source}"]
    if config.env_overrides:
        lines.append(f"# overridden by the environment: {', '.join(config.env_overrides)}")
    lines += [
        "",
        "[database]",
        f"url = {toml_value(hide_password(config.database.url))}",
        "",
        "[crawl]",
    ]
    for key in SECTIONS["crawl"]:
        lines.append(f"{key} = {toml_value(getattr(config.crawl, key))}")
        if key == "extract_workers" and config.crawl.extract_workers == AUTO_WORKERS:
            lines[-1] += f"  # {config.crawl.extraction_workers()} on this machine"
    lines += ["", "[service]"]
    for key in SECTIONS["service"]:
        lines.append(f"{key} = {toml_value(getattr(config.service, key))}")
    lines += ["", "[queue]"]
    for key in SECTIONS["queue"]:
        value = getattr(config.queue, key)
        lines.append(f"{key} = {toml_value(list(value) if isinstance(value, tuple) else value)}")
    lines += ["", "[web]"]
    for key in SECTIONS["web"]:
        value = getattr(config.web, key)
        if value is not None:
            lines.append(f"{key} = {toml_value(value)}")
    if config.web.token_env:  # the token itself is a secret: only whether it is set
        state = "set" if config.web.token else "not set"
        lines.append(f"# token from {config.web.token_env}: {state}")
    lines += ["", "[links]"]
    for key in SECTIONS["links"]:
        value = getattr(config.links, key)
        lines.append(f"{key} = {toml_value(list(value) if isinstance(value, tuple) else value)}")
    for site in config.sites:
        lines += [
            "",
            "[[sites]]",
            f"name = {toml_value(site.name)}",
            f"title = {toml_value(site.title)}",
            f"start_urls = {toml_value(list(site.start_urls))}",
            f"article_url_pattern = {toml_value(site.article_url_pattern.pattern)}",
            f"max_list_pages = {toml_value(site.max_list_pages)}",
            f"delay_seconds = {toml_value(site.delay_seconds)}",
            f"schedule = {toml_value(site.schedule)}",
            f"enabled = {toml_value(site.enabled)}",
            f"stop_at_known_page = {toml_value(site.stop_at_known_page)}",
            f"recheck_days = {toml_value(site.recheck_days)}",
            f"conditional_requests = {toml_value(site.conditional_requests)}",
            f"challenge = {toml_value(site.challenge)}",
        ]
        if site.cookie_env:  # the cookie itself is a secret: only whether it is set
            state = f"set, {len(site.cookie)} characters" if site.cookie else "not set"
            lines.append(f"cookie_env = {toml_value(site.cookie_env)}  # {state}")
        for key in ("list_link_selector", "pagination_selector", "cookie_rule", "user_agent"):
            value = getattr(site, key)
            if value is not None:
                lines.append(f"{key} = {toml_value(value)}")
        if site.headers:
            lines.append("[sites.headers]")
            lines += [f"{toml_value(k)} = {toml_value(v)}" for k, v in site.headers]
        chosen = {k: getattr(site.selectors, k) for k in SELECTOR_KEYS}
        if any(chosen.values()):
            lines.append("[sites.selectors]")
            lines += [f"{k} = {toml_value(v)}" for k, v in chosen.items() if v is not None]
    lines += render_digests(config.digests)
    return "\n".join(lines) + "\n"
