"""Configuration: the one place that reads the config file and the environment.

The file is found via ``--config FILE``, else ``$GOVWATCH_CONFIG``, else ``./govwatch.toml``,
else the built-in default (``scheduler/builtin.toml``).  Every key is declared below with
its type, default and a line of help (the README's configuration reference is checked
against these tables by a test).  Secrets may come from the environment instead of the file.
Any problem is a :class:`ConfigError` naming the file, the key and what is wrong.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.linkrecords import LinkSettings
from crawler.records import Selectors
from crawler.selectors import compile_selector
from crawler.site import DEFAULT_USER_AGENT, CrawlSettings, Site
from digest.subscription import Subscription
from scheduler.health import parse_listen
from scheduler.schedule import parse_schedule
from storage.database import mask_url, parse_url
from storage.errors import ConfigError, StorageError

CONFIG_ENV = "GOVWATCH_CONFIG"
DEFAULT_CONFIG_FILE = "govwatch.toml"
BUILTIN = "built-in default"
_SITE_NAME = re.compile(r"^[a-z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Setting:
    """One configuration key: its type, default, help line, and optional environment variable."""

    type: type | tuple[type, ...]
    default: Any
    help: str
    env: str | None = None  # environment variable that overrides the file
    secret: bool = False  # masked by check-config
    check: Callable[[Any], str | None] | None = None  # returns a problem, or None


def _positive(value: Any) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _not_negative(value: Any) -> str | None:
    return None if value >= 0 else "must be 0 or more"


def _log_level(value: Any) -> str | None:
    levels = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
    return None if str(value).upper() in levels else f"must be one of {', '.join(levels)}"


def _networks(value: Any) -> str | None:
    if not all(isinstance(v, str) for v in value):
        return 'must be a list of networks such as "10.8.0.0/16"'
    try:
        for network in value:
            ipaddress.ip_network(network.strip(), strict=False)
    except ValueError as exc:
        return str(exc)
    return None


def _listen(value: Any) -> str | None:
    if value == "":
        return None
    try:
        parse_listen(value)
    except ValueError as exc:
        return str(exc)
    return None


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
        "user_agent": Setting(str, DEFAULT_USER_AGENT, "User-Agent sent with every request"),
        "obey_robots_txt": Setting(bool, True, "fetch robots.txt and obey it"),
        "concurrent_requests": Setting(
            int, 8, "requests in flight at once per crawl, over all hosts", check=_positive
        ),
        "concurrent_requests_per_host": Setting(
            int, 1, "requests in flight at once to one host", check=_positive
        ),
        "timeout_seconds": Setting(
            (int, float), 30.0, "give up on a request after this many seconds", check=_positive
        ),
        "retries": Setting(
            int, 3, "retries of a page after a 5xx, 403/412/420/429 or timeout", check=_not_negative
        ),
        "retry_backoff_seconds": Setting(
            (int, float),
            2.0,
            "wait before the first retry; doubles with each retry",
            check=_not_negative,
        ),
        "retry_backoff_max_seconds": Setting(
            (int, float), 60.0, "longest wait between retries", check=_not_negative
        ),
        "max_page_bytes": Setting(
            int, 10 * 1024 * 1024, "pages larger than this are not downloaded", check=_positive
        ),
        "log_level": Setting(
            str, "WARNING", "level of Scrapy's own log messages", check=_log_level
        ),
    },
    "service": {
        "max_concurrent_crawls": Setting(
            int, 2, "crawl processes running at once in govwatch run", check=_positive
        ),
        "crawl_time_limit_seconds": Setting(
            (int, float),
            1800.0,
            "a crawl still running after this long is stopped and its run recorded failed",
            check=_positive,
        ),
        "kill_after_seconds": Setting(
            (int, float),
            10.0,
            "wait between asking a crawl process to stop (SIGTERM) and killing it (SIGKILL)",
            check=_not_negative,
        ),
        "misfire_grace_seconds": Setting(
            int,
            600,
            "a run late by up to this long still runs (once, however many were due); "
            "later ones are recorded as missed",
            check=_positive,
        ),
        "jitter_seconds": Setting(
            int, 60, "sites' start times are spread over this many seconds", check=_not_negative
        ),
        "shutdown_grace_seconds": Setting(
            (int, float),
            30.0,
            "on SIGTERM/SIGINT, time running crawls get to finish before they are stopped",
            check=_not_negative,
        ),
        "http_listen": Setting(
            str, "", "HOST:PORT serving /healthz and /metrics; empty: off", check=_listen
        ),
        "standby_poll_seconds": Setting(
            (int, float),
            5.0,
            "how often a standby govwatch run tries to take over from the leader",
            check=_positive,
        ),
        "heartbeat_seconds": Setting(
            (int, float), 10.0, "how often the service records that it is alive", check=_positive
        ),
        "min_schedule_seconds": Setting(
            int,
            60,
            "shortest 'every' schedule accepted; lower it only to test against a local site",
            check=_positive,
        ),
        "failing_runs_warning": Setting(
            int, 3, "govwatch status warns after this many failed runs in a row", check=_positive
        ),
        "zero_articles_warning_hours": Setting(
            (int, float),
            72.0,
            "govwatch status warns when a site's runs stored no new article for this long",
            check=_positive,
        ),
        "history_days": Setting(
            int,
            90,
            "missed runs and service heartbeats older than this are deleted",
            check=_positive,
        ),
        "digest_schedule": Setting(
            str,
            "every 1m",
            "when the service runs govwatch digest NAME --due for each enabled [[digests]] "
            "(builds it when its own schedule has come; sends and retries deliveries); "
            "empty: never",
        ),
    },
    "links": {
        "allow_private_addresses": Setting(
            bool,
            False,
            "check links to private, loopback, link-local or multicast addresses (refused "
            "otherwise: SSRF protection)",
        ),
        "allowed_networks": Setting(
            list,
            [],
            'networks checked even though private, e.g. ["10.8.0.0/16"] for an intranet site',
            check=_networks,
        ),
        "timeout_seconds": Setting(
            (int, float), 15.0, "give up on a link's request after this long", check=_positive
        ),
        "concurrent_requests": Setting(
            int, 32, "link requests in flight at once, over all hosts", check=_positive
        ),
        "concurrent_requests_per_host": Setting(
            int, 2, "link requests in flight at once to one host", check=_positive
        ),
        "delay_seconds": Setting(
            (int, float),
            1.0,
            "least time between the starts of two requests to one host",
            check=_not_negative,
        ),
        "retries": Setting(
            int, 1, "asks again after a 5xx or a dropped connection", check=_not_negative
        ),
        "retry_delay_seconds": Setting(
            (int, float), 2.0, "wait before asking again", check=_not_negative
        ),
        "max_redirects": Setting(int, 10, "redirects followed per link", check=_positive),
        "max_body_bytes": Setting(
            int,
            256 * 1024,
            "read at most this much of a page (enough to recognise an error page)",
            check=_positive,
        ),
        "recheck_ok_hours": Setting(
            (int, float),
            24.0,
            "a healthy link is checked again after this long, doubling while it stays healthy",
            check=_positive,
        ),
        "recheck_suspect_hours": Setting(
            (int, float),
            1.0,
            "a failing link (error) is checked again after this long, doubling per failure",
            check=_positive,
        ),
        "recheck_blocked_hours": Setting(
            (int, float),
            12.0,
            "a blocked link is checked again after this long, doubling",
            check=_positive,
        ),
        "recheck_dead_hours": Setting(
            (int, float),
            24.0,
            "a dead or soft-404 link is checked again after this long, doubling",
            check=_positive,
        ),
        "recheck_max_hours": Setting(
            (int, float), 168.0, "longest wait between two checks of a link", check=_positive
        ),
        "dead_after_failures": Setting(
            int,
            3,
            "failing checks in a row (5xx, timeout, reset) before a link counts as dead",
            check=_positive,
        ),
        "dead_after_hours": Setting(
            (int, float),
            24.0,
            "and the first and last of those checks at least this far apart",
            check=_not_negative,
        ),
        "history_per_link": Setting(
            int, 20, "checks kept per link in link_checks (older ones are deleted)", check=_positive
        ),
        "schedule": Setting(
            str, "every 1h", "how often govwatch run checks the links that are due"
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
    "max_list_pages": Setting(int, 5, "list pages followed per start URL and run", check=_positive),
    "delay_seconds": Setting(
        (int, float), 2.0, "pause between requests to the site; 0 allowed", check=_not_negative
    ),
    "schedule": Setting(str, "every 30m", "'every 30m' / 'every 2h' / a 5-field cron expression"),
    "list_link_selector": Setting(
        str, None, "CSS or XPath of article links on list pages (default: every link)"
    ),
    "pagination_selector": Setting(
        str, None, "CSS or XPath of the pager on list pages (default: found automatically)"
    ),
    "enabled": Setting(bool, True, "crawl this site with --all and in the service"),
    "stop_at_known_page": Setting(
        bool, True, "stop following list pages at one whose articles are all stored already"
    ),
    "recheck_days": Setting(
        int,
        0,
        "re-fetch stored articles published within this many days, to record edits; 0: never",
        check=_not_negative,
    ),
    "conditional_requests": Setting(
        bool, True, "ask for list pages with If-None-Match / If-Modified-Since (304: no change)"
    ),
    "selectors": Setting(dict, None, "per-field selectors (table [sites.selectors])"),
}

SELECTOR_KEYS: dict[str, Setting] = {
    name: Setting(str, None, f"CSS or XPath of the article's {name.replace('_', ' ')}")
    for name in ("title", "publish_time", "source", "author", "body")
}


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


@dataclass(frozen=True, slots=True)
class Config:
    """The whole, validated configuration."""

    source: str  # path of the file it came from, or "built-in default"
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    crawl: CrawlSettings = field(default_factory=CrawlSettings)
    service: ServiceConfig = field(default_factory=ServiceConfig)
    links: LinkSettings = field(default_factory=LinkSettings)
    sites: tuple[Site, ...] = ()
    digests: tuple[Subscription, ...] = ()  # [[digests]] (scheduler.digest_config)
    env_overrides: tuple[str, ...] = ()  # names of environment variables that were applied

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
    data = _parse_toml(text, str(path))
    if "sites" not in data:
        data["sites"] = builtin["sites"]
    return parse_config(data, str(path), env)


def _read_builtin() -> dict[str, Any]:
    text = resources.files("scheduler").joinpath("builtin.toml").read_text(encoding="utf-8")
    return _parse_toml(text, BUILTIN)


def _parse_toml(text: str, where: str) -> dict[str, Any]:
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
        values[section] = _read_table(raw, specs, where, section)
        for key, spec in specs.items():
            if spec.env and environ.get(spec.env):
                values[section][key] = environ[spec.env]
                applied.append(spec.env)
    db_url = values["database"]["url"]
    try:
        parse_url(db_url)
    except StorageError as exc:
        raise ConfigError(f"{where}: database.url: {exc}") from exc
    if values["service"]["digest_schedule"]:
        try:
            parse_schedule(
                values["service"]["digest_schedule"], values["service"]["min_schedule_seconds"]
            )
        except ValueError as exc:
            raise ConfigError(f"{where}: service.digest_schedule: {exc}") from exc
    sites_raw = data.get("sites", [])
    if not isinstance(sites_raw, list):
        raise ConfigError(f"{where}: sites: must be an array of tables ([[sites]])")
    sites: list[Site] = []
    for index, raw in enumerate(sites_raw):
        site = _read_site(raw, where, index, values["service"]["min_schedule_seconds"])
        if any(s.name == site.name for s in sites):
            raise ConfigError(f"{where}: sites[{index}].name: duplicate site name {site.name!r}")
        sites.append(site)
    # imported here: scheduler.digest_config builds on this module's table helpers
    from scheduler.digest_config import read_digests

    digests, digest_env = read_digests(
        data.get("digests", []),
        where,
        environ,
        [s.name for s in sites],
        values["service"]["min_schedule_seconds"],
    )
    return Config(
        source=where,
        database=DatabaseConfig(url=db_url),
        crawl=CrawlSettings(**values["crawl"]),
        service=ServiceConfig(**values["service"]),
        links=_link_settings(values, where),
        sites=tuple(sites),
        digests=digests,
        env_overrides=(*applied, *digest_env),
    )


def _link_settings(values: Mapping[str, dict[str, Any]], where: str) -> LinkSettings:
    links = dict(values["links"])
    try:
        parse_schedule(links["schedule"], values["service"]["min_schedule_seconds"])
    except ValueError as exc:
        raise ConfigError(f"{where}: links.schedule: {exc}") from exc
    links["allowed_networks"] = tuple(links["allowed_networks"])
    return LinkSettings(user_agent=values["crawl"]["user_agent"], **links)


def _read_table(
    raw: Mapping[str, Any], specs: Mapping[str, Setting], where: str, prefix: str
) -> dict[str, Any]:
    unknown = sorted(set(raw) - set(specs))
    if unknown:
        raise ConfigError(f"{where}: {prefix}.{unknown[0]}: unknown key")
    out: dict[str, Any] = {}
    for key, spec in specs.items():
        value = raw.get(key, spec.default)
        if key in raw:
            _check_value(value, spec, where, f"{prefix}.{key}")
        out[key] = float(value) if spec.type == (int, float) and value is not None else value
    return out


def _check_value(value: Any, spec: Setting, where: str, key: str) -> None:
    types = spec.type if isinstance(spec.type, tuple) else (spec.type,)
    if isinstance(value, bool) and bool not in types:
        raise ConfigError(f"{where}: {key}: expected {_type_name(types)}, got a boolean")
    if not isinstance(value, types):
        raise ConfigError(f"{where}: {key}: expected {_type_name(types)}, got {value!r}")
    problem = spec.check(value) if spec.check else None
    if problem:
        raise ConfigError(f"{where}: {key}: {problem} (got {value!r})")


def _type_name(types: tuple[type, ...]) -> str:
    names = {
        int: "an integer",
        float: "a number",
        str: "a string",
        bool: "true or false",
        list: "a list",
        dict: "a table",
    }
    if set(types) == {int, float}:
        return "a number"
    return " or ".join(names.get(t, t.__name__) for t in types)


def _read_site(raw: Any, where: str, index: int, min_schedule_seconds: int = 60) -> Site:
    label = f"sites[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: {label}: must be a table ([[sites]])")
    name = raw.get("name")
    if name is None:
        raise ConfigError(f"{where}: {label}.name: missing (every site needs a name)")
    if not isinstance(name, str) or not _SITE_NAME.match(name):
        raise ConfigError(f"{where}: {label}.name: {name!r} is not a name of [a-z0-9_-]+")
    label = f"sites[{index}] ({name})"
    values = _read_table(raw, SITE_KEYS, where, label)
    for required in ("start_urls", "article_url_pattern"):
        if values[required] is None:
            raise ConfigError(f"{where}: {label}.{required}: missing")
    start_urls = values["start_urls"]
    if not start_urls:
        raise ConfigError(f"{where}: {label}.start_urls: needs at least one URL")
    for i, url in enumerate(start_urls):
        problem = _url_problem(url)
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
        _check_selector(values[key], where, f"{label}.{key}")
    selectors_raw = values["selectors"] or {}
    selectors = _read_table(selectors_raw, SELECTOR_KEYS, where, f"{label}.selectors")
    for key, expression in selectors.items():
        _check_selector(expression, where, f"{label}.selectors.{key}")
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
    )


def _url_problem(url: Any) -> str | None:
    if not isinstance(url, str):
        return f"expected a URL string, got {url!r}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{url!r} is not an absolute http(s) URL"
    return None


def _check_selector(expression: str | None, where: str, key: str) -> None:
    if expression is None:
        return
    if not expression.strip():
        raise ConfigError(f"{where}: {key}: empty selector")
    try:
        compile_selector(expression)
    except ValueError as exc:
        raise ConfigError(f"{where}: {key}: {exc}") from exc


def render_config(config: Config) -> str:
    """The effective configuration as TOML, secrets masked (``govwatch check-config``)."""
    lines = [f"# effective configuration, from {config.source}"]
    if config.env_overrides:
        lines.append(f"# overridden by the environment: {', '.join(config.env_overrides)}")
    lines += ["", "[database]", f"url = {_toml(mask_url(config.database.url))}", "", "[crawl]"]
    for key in SECTIONS["crawl"]:
        lines.append(f"{key} = {_toml(getattr(config.crawl, key))}")
    lines += ["", "[service]"]
    for key in SECTIONS["service"]:
        lines.append(f"{key} = {_toml(getattr(config.service, key))}")
    lines += ["", "[links]"]
    for key in SECTIONS["links"]:
        value = getattr(config.links, key)
        lines.append(f"{key} = {_toml(list(value) if isinstance(value, tuple) else value)}")
    for site in config.sites:
        lines += [
            "",
            "[[sites]]",
            f"name = {_toml(site.name)}",
            f"title = {_toml(site.title)}",
            f"start_urls = {_toml(list(site.start_urls))}",
            f"article_url_pattern = {_toml(site.article_url_pattern.pattern)}",
            f"max_list_pages = {_toml(site.max_list_pages)}",
            f"delay_seconds = {_toml(site.delay_seconds)}",
            f"schedule = {_toml(site.schedule)}",
            f"enabled = {_toml(site.enabled)}",
            f"stop_at_known_page = {_toml(site.stop_at_known_page)}",
            f"recheck_days = {_toml(site.recheck_days)}",
            f"conditional_requests = {_toml(site.conditional_requests)}",
        ]
        for key in ("list_link_selector", "pagination_selector"):
            value = getattr(site, key)
            if value is not None:
                lines.append(f"{key} = {_toml(value)}")
        chosen = {k: getattr(site.selectors, k) for k in SELECTOR_KEYS}
        if any(chosen.values()):
            lines.append("[sites.selectors]")
            lines += [f"{k} = {_toml(v)}" for k, v in chosen.items() if v is not None]
    from scheduler.digest_config import render_digests  # see parse_config

    lines += render_digests(config.digests)
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    text = str(value)
    if "'" not in text and "\n" not in text:
        return f"'{text}'"  # literal string: regexes stay readable
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
