"""Every configuration key in one place: its type, default and a line of help.

``scheduler.config`` reads the file against these tables; the README's configuration
reference is checked against them by a test.  The helpers below validate one table of
values and render values back as TOML; they raise :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from crawler.cookierules import rule_problem
from crawler.selectors import compile_selector
from crawler.site import AUTO_WORKERS, CHALLENGE_MODES, DEFAULT_USER_AGENT
from scheduler.health import parse_listen
from storage.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Setting:
    """One configuration key: its type, default, help line, and optional environment variable."""

    type: type | tuple[type, ...]
    default: Any
    help: str
    env: str | None = None  # environment variable that overrides the file
    secret: bool = False  # masked by check-config
    check: Callable[[Any], str | None] | None = None  # returns a problem, or None


@dataclass(frozen=True, slots=True)
class Range:
    """A number's range: finite and in ``[low, high]`` (``(low, high]`` when ``above``).
    Every numeric setting declares one next to its default; it is the setting's check."""

    low: float
    high: float
    above: bool = False

    def __call__(self, value: Any) -> str | None:
        if isinstance(value, float) and not math.isfinite(value):
            return "must be a finite number"
        if (value > self.low if self.above else value >= self.low) and value <= self.high:
            return None
        first = f"more than {self.low:g}" if self.above else f"at least {self.low:g}"
        return f"must be {first} and at most {self.high:g}"


@dataclass(frozen=True, slots=True)
class RangeOrWord(Range):
    """A number's range, or one word that stands for a number (``"auto"``)."""

    word: str = ""

    def __call__(self, value: Any) -> str | None:
        if value == self.word:
            return None
        if isinstance(value, str):
            return f'must be a number or "{self.word}"'
        problem = Range.__call__(self, value)
        return f'{problem}, or "{self.word}"' if problem else None


def between(low: float, high: float, *, above: bool = False) -> Range:
    return Range(low, high, above)


_ENV_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
HOUR = 3600
DAY = 24 * HOUR
_GiB = 1024 * 1024 * 1024


def header_value(value: Any) -> str | None:
    """A value sent in an HTTP header: one line, no control characters."""
    if not value.strip():
        return "must not be empty"
    return (
        "must not contain line breaks or control characters"
        if _CONTROL_IN_TEXT.search(value)
        else None
    )


def challenge_mode(value: Any) -> str | None:
    return None if value in CHALLENGE_MODES else f"must be one of {', '.join(CHALLENGE_MODES)}"


_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
# set by govwatch itself (user_agent, cookie replay) or by the HTTP client
_OWN_HEADERS = {
    "cookie": "cookies come from the site (cookie replay)",
    "user-agent": "use the site's user_agent key",
    "host": "set by the HTTP client",
    "content-length": "set by the HTTP client",
    "transfer-encoding": "set by the HTTP client",
    "connection": "set by the HTTP client",
}


def request_headers(value: Any) -> str | None:
    """A ``[sites.headers]`` table: token names, one-line string values, at most 50."""
    if len(value) > 50:
        return "at most 50 headers"
    for name, text in value.items():
        if not _HEADER_NAME.match(name):
            return f"{name!r} is not a header name (letters, digits and !#$%&'*+.^_`|~-)"
        if name.lower() in _OWN_HEADERS:
            return f"{name!r} cannot be set here: {_OWN_HEADERS[name.lower()]}"
        if not isinstance(text, str):
            return f"{name}: expected a string, got {text!r}"
        problem = header_value(text)
        if problem:
            return f"{name}: {problem}"
    return None


def log_level(value: Any) -> str | None:
    levels = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
    return None if str(value).upper() in levels else f"must be one of {', '.join(levels)}"


def networks(value: Any) -> str | None:
    if not all(isinstance(v, str) for v in value):
        return 'must be a list of networks such as "10.8.0.0/16"'
    try:
        for network in value:
            ipaddress.ip_network(network.strip(), strict=False)
    except ValueError as exc:
        return str(exc)
    return None


def listen(value: Any) -> str | None:
    if value == "":
        return None
    try:
        parse_listen(value)
    except ValueError as exc:
        return str(exc)
    return None


def env_name(value: Any) -> str | None:
    return None if _ENV_NAME.match(value) else "must be an environment variable name"


def public_url(value: Any) -> str | None:
    if value == "":
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "must be an http:// or https:// URL such as https://govwatch.example.org"
    if parts.query or parts.fragment or _CONTROL_IN_TEXT.search(value):
        return "must be scheme://host[:port][/path], without query or fragment"
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
        "user_agent": Setting(
            str, DEFAULT_USER_AGENT, "User-Agent sent with every request", check=header_value
        ),
        "obey_robots_txt": Setting(bool, True, "fetch robots.txt and obey it"),
        "concurrent_requests": Setting(
            int, 8, "requests in flight at once per crawl, over all hosts", check=between(1, 1000)
        ),
        "concurrent_requests_per_host": Setting(
            int, 1, "requests in flight at once to one host", check=between(1, 100)
        ),
        "timeout_seconds": Setting(
            (int, float),
            30.0,
            "give up on a request after this many seconds",
            check=between(0, HOUR, above=True),
        ),
        "retries": Setting(
            int,
            3,
            "retries of a page after a 5xx, 403/412/420/429 or timeout",
            check=between(0, 100),
        ),
        "retry_backoff_seconds": Setting(
            (int, float),
            2.0,
            "wait before the first retry; doubles with each retry",
            check=between(0, DAY),
        ),
        "retry_backoff_max_seconds": Setting(
            (int, float),
            60.0,
            "longest wait between retries; also the most a throttled host's delay grows to",
            check=between(0, DAY),
        ),
        "retry_after_max_seconds": Setting(
            (int, float),
            600.0,
            "a server's Retry-After pauses its host for as long as it says, up to this",
            check=between(0, DAY),
        ),
        "max_page_bytes": Setting(
            int,
            10 * 1024 * 1024,
            "pages larger than this are not downloaded",
            check=between(1, 2 * _GiB),
        ),
        "log_level": Setting(str, "WARNING", "level of Scrapy's own log messages", check=log_level),
        "extract_workers": Setting(
            (int, str),
            AUTO_WORKERS,
            "worker processes that extract articles while the crawl fetches; 0: none; "
            '"auto": one per core but one, at least one',
            check=RangeOrWord(0, 64, word=AUTO_WORKERS),
        ),
        "allowed_networks": Setting(
            list,
            [],
            "networks crawls and extract URL may fetch although private or loopback, e.g. "
            '["10.8.0.0/16"] (a site\'s own start-URL origins are always allowed)',
            check=networks,
        ),
        "challenge_timeout_seconds": Setting(
            (int, float),
            30.0,
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
            False,
            "check links to private, loopback, link-local or multicast addresses (refused "
            "otherwise: SSRF protection)",
        ),
        "allowed_networks": Setting(
            list,
            [],
            'networks checked even though private, e.g. ["10.8.0.0/16"] for an intranet site',
            check=networks,
        ),
        "timeout_seconds": Setting(
            (int, float),
            15.0,
            "give up on a link after this long (all its requests and bodies together)",
            check=between(0, HOUR, above=True),
        ),
        "concurrent_requests": Setting(
            int, 32, "link requests in flight at once, over all hosts", check=between(1, 1000)
        ),
        "concurrent_requests_per_host": Setting(
            int, 2, "link requests in flight at once to one host", check=between(1, 100)
        ),
        "delay_seconds": Setting(
            (int, float),
            1.0,
            "least time between the starts of two requests to one host",
            check=between(0, HOUR),
        ),
        "retries": Setting(
            int, 1, "asks again after a 5xx or a dropped connection", check=between(0, 10)
        ),
        "retry_delay_seconds": Setting(
            (int, float), 2.0, "wait before asking again", check=between(0, HOUR)
        ),
        "max_redirects": Setting(int, 10, "redirects followed per link", check=between(1, 100)),
        "max_body_bytes": Setting(
            int,
            256 * 1024,
            "read at most this much of a page (enough to recognise an error page)",
            check=between(1, _GiB),
        ),
        "recheck_ok_hours": Setting(
            (int, float),
            24.0,
            "a healthy link is checked again after this long, doubling while it stays healthy",
            check=between(0, 24 * 365, above=True),
        ),
        "recheck_suspect_hours": Setting(
            (int, float),
            1.0,
            "a failing link (error) is checked again after this long, doubling per failure",
            check=between(0, 24 * 365, above=True),
        ),
        "recheck_blocked_hours": Setting(
            (int, float),
            12.0,
            "a blocked link is checked again after this long, doubling",
            check=between(0, 24 * 365, above=True),
        ),
        "recheck_dead_hours": Setting(
            (int, float),
            24.0,
            "a dead or soft-404 link is checked again after this long, doubling",
            check=between(0, 24 * 365, above=True),
        ),
        "recheck_max_hours": Setting(
            (int, float),
            168.0,
            "longest wait between two checks of a link",
            check=between(0, 24 * 365, above=True),
        ),
        "dead_after_failures": Setting(
            int,
            3,
            "failing checks in a row (5xx, timeout, reset) before a link counts as dead",
            check=between(1, 1000),
        ),
        "dead_after_hours": Setting(
            (int, float),
            24.0,
            "and the first and last of those checks at least this far apart",
            check=between(0, 24 * 365),
        ),
        "history_per_link": Setting(
            int,
            20,
            "checks kept per link in link_checks (older ones are deleted)",
            check=between(1, 10000),
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
    "max_list_pages": Setting(
        int, 5, "list pages followed per start URL and run", check=between(1, 10000)
    ),
    "delay_seconds": Setting(
        (int, float), 2.0, "pause between requests to the site; 0 allowed", check=between(0, HOUR)
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
        check=between(0, 36500),
    ),
    "conditional_requests": Setting(
        bool, True, "ask for list pages with If-None-Match / If-Modified-Since (304: no change)"
    ),
    "challenge": Setting(
        str,
        "auto",
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
        check=lambda v: None if _ENV_NAME.match(v) else "must be an environment variable name",
    ),
}

SELECTOR_KEYS: dict[str, Setting] = {
    name: Setting(str, None, f"CSS or XPath of the article's {name.replace('_', ' ')}")
    for name in ("title", "publish_time", "source", "author", "body")
}


def read_table(
    raw: Mapping[str, Any], specs: Mapping[str, Setting], where: str, prefix: str
) -> dict[str, Any]:
    unknown = sorted(set(raw) - set(specs))
    if unknown:
        raise ConfigError(f"{where}: {prefix}.{unknown[0]}: unknown key")
    out: dict[str, Any] = {}
    for key, spec in specs.items():
        value = raw.get(key, spec.default)
        if key in raw:
            check_value(value, spec, where, f"{prefix}.{key}")
        out[key] = float(value) if spec.type == (int, float) and value is not None else value
    return out


def check_value(value: Any, spec: Setting, where: str, key: str) -> None:
    types = spec.type if isinstance(spec.type, tuple) else (spec.type,)
    if isinstance(value, bool) and bool not in types:
        raise ConfigError(f"{where}: {key}: expected {type_name(types)}, got a boolean")
    if not isinstance(value, types):
        raise ConfigError(f"{where}: {key}: expected {type_name(types)}, got {value!r}")
    problem = spec.check(value) if spec.check else None
    if problem:
        raise ConfigError(f"{where}: {key}: {problem} (got {value!r})")


def type_name(types: tuple[type, ...]) -> str:
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


_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f\u2028\u2029]")
_HOST_LABEL = re.compile(r"^(?!-)[^\s!\"#$%&'()*+,/:;<=>?@\[\\\]^`{|}]{1,63}(?<!-)$")


def url_problem(url: Any) -> str | None:
    """Why ``url`` is not an absolute http(s) URL a client can connect to, or ``None``.

    Strict: brackets must close on an IPv6 address, the port is a number from 1 to 65535,
    the host is present and made of valid labels, no spaces or control characters.
    """
    if not isinstance(url, str):
        return f"expected a URL string, got {url!r}"
    if _CONTROL.search(url):
        return f"{url!r} contains a space or a control character"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"{url!r} is not a valid URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return f"{url!r} is not an absolute http(s) URL"
    host = parts.hostname
    if not host:
        return f"{url!r} has no host"
    if port == 0:
        return f"{url!r}: port 0 is not a port to connect to"
    if "[" in parts.netloc:
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return f"{url!r}: {host!r} in brackets is not an IPv6 address"
        return None
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if not all(_HOST_LABEL.match(label) for label in labels):
        return f"{url!r}: {host!r} is not a valid host name"
    return None


def check_selector(expression: str | None, where: str, key: str) -> None:
    if expression is None:
        return
    if not expression.strip():
        raise ConfigError(f"{where}: {key}: empty selector")
    try:
        compile_selector(expression)
    except ValueError as exc:
        raise ConfigError(f"{where}: {key}: {exc}") from exc


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    text = str(value)
    if "'" not in text and "\n" not in text:
        return f"'{text}'"  # literal string: regexes stay readable
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
