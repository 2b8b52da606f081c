"""Configuration: the one place that reads the config file and the environment.

The file is found via ``--config FILE``, else ``$GOVWATCH_CONFIG``, else ``./govwatch.toml``,
else the built-in default (``scheduler/builtin.toml``).  Every key is declared below with
its type, default and a line of help (the README's configuration reference is checked
against these tables by a test).  Secrets may come from the environment instead of the file.
Any problem is a :class:`ConfigError` naming the file, the key and what is wrong.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.records import Selectors
from crawler.selectors import compile_selector
from crawler.site import DEFAULT_USER_AGENT, CrawlSettings, Site
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
    "selectors": Setting(dict, None, "per-field selectors (table [sites.selectors])"),
}

SELECTOR_KEYS: dict[str, Setting] = {
    name: Setting(str, None, f"CSS or XPath of the article's {name.replace('_', ' ')}")
    for name in ("title", "publish_time", "source", "author", "body")
}


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    url: str = SECTIONS["database"]["url"].default


@dataclass(frozen=True, slots=True)
class Config:
    """The whole, validated configuration."""

    source: str  # path of the file it came from, or "built-in default"
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    crawl: CrawlSettings = field(default_factory=CrawlSettings)
    sites: tuple[Site, ...] = ()
    env_overrides: tuple[str, ...] = ()  # names of environment variables that were applied

    def site(self, name: str) -> Site | None:
        return next((s for s in self.sites if s.name == name), None)


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
    unknown = sorted(set(data) - set(SECTIONS) - {"sites"})
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
    sites_raw = data.get("sites", [])
    if not isinstance(sites_raw, list):
        raise ConfigError(f"{where}: sites: must be an array of tables ([[sites]])")
    sites: list[Site] = []
    for index, raw in enumerate(sites_raw):
        site = _read_site(raw, where, index)
        if any(s.name == site.name for s in sites):
            raise ConfigError(f"{where}: sites[{index}].name: duplicate site name {site.name!r}")
        sites.append(site)
    return Config(
        source=where,
        database=DatabaseConfig(url=db_url),
        crawl=CrawlSettings(**values["crawl"]),
        sites=tuple(sites),
        env_overrides=tuple(applied),
    )


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


def _read_site(raw: Any, where: str, index: int) -> Site:
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
        parse_schedule(values["schedule"])
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
        ]
        for key in ("list_link_selector", "pagination_selector"):
            value = getattr(site, key)
            if value is not None:
                lines.append(f"{key} = {_toml(value)}")
        chosen = {k: getattr(site.selectors, k) for k in SELECTOR_KEYS}
        if any(chosen.values()):
            lines.append("[sites.selectors]")
            lines += [f"{k} = {_toml(v)}" for k, v in chosen.items() if v is not None]
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
