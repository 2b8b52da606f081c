"""What a setting is, and how one value is checked, read and written back.

:class:`Setting` is one row of ``scheduler.settings`` (the rows themselves live there); the
checks below are the ``check=`` of those rows.  :func:`read_table` validates one table of
values against its rows and :func:`toml_value` renders a value back as TOML; they raise
:class:`ConfigError` naming the key.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from crawler.site import CHALLENGE_MODES
from scheduler.health import parse_listen
from storage.errors import ConfigError
from storage.queue_records import QUEUE_NAMES


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


_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


_ENV_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")


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
    from crawler.extract.selectors import compile_selector  # lxml: only for sites with selectors

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


QUEUE_BACKENDS = ("", "procrastinate")


def queue_backend(value: Any) -> str | None:
    if value in QUEUE_BACKENDS:
        return None
    return 'must be "" (no queue) or "procrastinate"'


def queue_names(value: Any) -> str | None:
    if not value or not all(isinstance(v, str) and v in QUEUE_NAMES for v in value):
        return f"must be a non-empty list of {', '.join(QUEUE_NAMES)}"
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
