"""The ``[[digests]]`` part of the configuration: subscriptions and their channels.

Read by ``scheduler.config.parse_config`` (which imports this module when it runs: this one
uses its table helpers) into :class:`digest.subscription.Subscription` values.  Secrets are
never written in the file: ``password_env`` / ``secret_env`` / ``url_env`` name environment
variables, read here, once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from digest.subscription import (
    CHANNEL_TYPES,
    Channel,
    ChatChannel,
    EmailChannel,
    Retry,
    Subscription,
    WebhookChannel,
)
from scheduler.schedule import parse_schedule
from scheduler.setting_checks import read_table, toml_value, url_problem
from scheduler.settings import CHANNEL_KEYS, DIGEST_KEYS, EMAIL_PORTS, default_of
from storage.errors import ConfigError

_NAME = re.compile(r"^[a-z0-9_-]{1,64}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_LOCAL = re.compile(r"^[^\s@<>()\[\]\\,;:\"]+$")
_DOMAIN_LABEL = re.compile(r"^(?!-)[^\s!\"#$%&'()*+,/:;<=>?@\[\\\]^_`{|}~]{1,63}(?<!-)$")


# Which keys each channel type accepts (besides type, name and timeout_seconds).
_CHANNEL_TYPE_KEYS: dict[str, tuple[str, ...]] = {
    "email": ("host", "port", "security", "username", "password_env", "from", "to", "ca_file"),
    "webhook": ("url", "url_env", "secret_env"),
    "dingtalk": ("url", "url_env", "secret_env"),
    "feishu": ("url", "url_env", "secret_env"),
    "wecom": ("url", "url_env"),
    "slack": ("url", "url_env"),
}
_COMMON_KEYS = ("type", "name", "timeout_seconds")


def read_digests(
    raw: Any,
    where: str,
    environ: Mapping[str, str],
    site_names: Sequence[str],
    min_schedule_seconds: int,
) -> tuple[tuple[Subscription, ...], tuple[str, ...], tuple[str, ...]]:
    """Validate ``[[digests]]``: the subscriptions, the environment variables read, and a
    line for each ``*_env`` key naming a variable that is not set (``check-config`` warns)."""
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: digests: must be an array of tables ([[digests]])")
    out: list[Subscription] = []
    used_env: list[tuple[str, str]] = []  # (key, variable)
    for index, table in enumerate(raw):
        sub = _read_digest(table, where, index, environ, site_names, min_schedule_seconds, used_env)
        if any(s.name == sub.name for s in out):
            raise ConfigError(f"{where}: digests[{index}].name: duplicate digest name {sub.name!r}")
        out.append(sub)
    names = tuple(dict.fromkeys(var for _, var in used_env))
    missing = tuple(
        f"{where}: {key}: environment variable {var} is not set"
        for key, var in used_env
        if not environ.get(var)
    )
    return tuple(out), names, missing


def _read_digest(
    raw: Any,
    where: str,
    index: int,
    environ: Mapping[str, str],
    site_names: Sequence[str],
    min_schedule_seconds: int,
    used_env: list[tuple[str, str]],
) -> Subscription:
    label = f"digests[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: {label}: must be a table ([[digests]])")
    name = raw.get("name")
    if name is None:
        raise ConfigError(f"{where}: {label}.name: missing (every digest needs a name)")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{where}: {label}.name: {name!r} is not a name of [a-z0-9_-]+")
    label = f"digests[{index}] ({name})"
    values = read_table(raw, DIGEST_KEYS, where, label)
    try:
        parse_schedule(values["schedule"], min_schedule_seconds)
    except ValueError as exc:
        raise ConfigError(f"{where}: {label}.schedule: {exc}") from exc
    sites = _strings(values["sites"], where, f"{label}.sites")
    for site in sites:
        if site not in site_names:
            known = ", ".join(site_names) or "none"
            raise ConfigError(
                f"{where}: {label}.sites: unknown site {site!r} (configured: {known})"
            )
    keywords = _strings(values["keywords"], where, f"{label}.keywords")
    channels_raw = values["channels"]
    if not channels_raw:
        raise ConfigError(f"{where}: {label}.channels: needs at least one [[digests.channels]]")
    channels: list[Channel] = []
    for i, table in enumerate(channels_raw):
        channel = _read_channel(table, where, f"{label}.channels[{i}]", environ, used_env)
        if any(c.name == channel.name for c in channels):
            raise ConfigError(
                f"{where}: {label}.channels[{i}].name: two channels named {channel.name!r} "
                "(give each its own name)"
            )
        channels.append(channel)
    return Subscription(
        name=name,
        channels=tuple(channels),
        schedule=values["schedule"],
        sites=sites,
        keywords=keywords,
        include_dead_links=values["include_dead_links"],
        skip_empty=values["skip_empty"],
        excerpt_chars=values["excerpt_chars"],
        backfill_hours=values["backfill_hours"],
        retry=Retry(
            first_seconds=values["retry_backoff_seconds"],
            max_seconds=values["retry_backoff_max_seconds"],
            max_attempts=values["max_attempts"],
        ),
        enabled=values["enabled"],
    )


def _strings(value: list[Any], where: str, key: str) -> tuple[str, ...]:
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ConfigError(f"{where}: {key}: expected non-empty strings, got {item!r}")
    return tuple(dict.fromkeys(value))


def _read_channel(
    raw: Any,
    where: str,
    label: str,
    environ: Mapping[str, str],
    used_env: list[tuple[str, str]],
) -> Channel:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: {label}: must be a table ([[digests.channels]])")
    kind = raw.get("type")
    if kind is None:
        raise ConfigError(f"{where}: {label}.type: missing ({', '.join(CHANNEL_TYPES)})")
    values = read_table(raw, CHANNEL_KEYS, where, label)  # checks type's value too
    label = f"{label} ({kind})"
    allowed = set(_COMMON_KEYS) | set(_CHANNEL_TYPE_KEYS[kind])
    extra = sorted(set(raw) - allowed)
    if extra:
        raise ConfigError(f"{where}: {label}.{extra[0]}: not a key of a {kind} channel")
    name = values["name"] or kind
    if not _NAME.match(name):
        raise ConfigError(f"{where}: {label}.name: {name!r} is not a name of [a-z0-9_-]+")

    def env(key: str) -> tuple[str | None, str | None]:
        var = values[key]
        if var is None:
            return None, None
        if not _ENV_NAME.match(var):
            raise ConfigError(
                f"{where}: {label}.{key}: {var!r} is not an environment variable name"
            )
        used_env.append((f"{label}.{key}", var))
        return var, environ.get(var) or None

    if kind == "email":
        return _email_channel(values, where, label, name, env)
    url_env, url_value = env("url_env")
    if (values["url"] is None) == (url_env is None):
        raise ConfigError(f"{where}: {label}.url: give either url or url_env")
    url = values["url"] if values["url"] is not None else url_value or ""
    if url:
        problem = url_problem(url)
        if problem:
            key = "url" if values["url"] is not None else f"url_env ({url_env})"
            raise ConfigError(f"{where}: {label}.{key}: {problem}")
    secret_env, secret = env("secret_env")
    timeout = values["timeout_seconds"] or default_of(WebhookChannel, "timeout_seconds")
    if kind == "webhook":
        return WebhookChannel(
            name=name,
            url=url,
            url_env=url_env,
            secret=secret,
            secret_env=secret_env,
            timeout_seconds=timeout,
        )
    return ChatChannel(
        name=name,
        type=kind,
        url=url,
        url_env=url_env,
        secret=secret,
        secret_env=secret_env,
        timeout_seconds=timeout,
    )


def _email_channel(
    values: Mapping[str, Any], where: str, label: str, name: str, env: Any
) -> EmailChannel:
    for required in ("host", "from", "to"):
        if values[required] is None:
            raise ConfigError(f"{where}: {label}.{required}: missing")
    sender = values["from"]
    problem = address_problem(sender)
    if problem:
        raise ConfigError(f"{where}: {label}.from: {sender!r} is not an email address: {problem}")
    recipients = values["to"]
    if not recipients:
        raise ConfigError(f"{where}: {label}.to: needs at least one address")
    for i, address in enumerate(recipients):
        problem = address_problem(address)
        if problem:
            raise ConfigError(
                f"{where}: {label}.to[{i}]: {address!r} is not an email address: {problem}"
            )
    for key in ("host", "username"):
        if values[key] is not None and (values[key] == "" or _CONTROL.search(values[key])):
            raise ConfigError(
                f"{where}: {label}.{key}: {values[key]!r} is empty or has a control character"
            )
    password_env, password = env("password_env")
    if values["username"] is not None and password_env is None:
        raise ConfigError(
            f"{where}: {label}.password_env: missing (a username needs a password, from the "
            "environment)"
        )
    ca_file = values["ca_file"]
    if ca_file is not None and not Path(ca_file).is_file():
        raise ConfigError(f"{where}: {label}.ca_file: no such file {ca_file!r}")
    security = values["security"]
    return EmailChannel(
        name=name,
        host=values["host"],
        port=values["port"] or EMAIL_PORTS[security],
        sender=sender,
        recipients=tuple(recipients),
        security=security,
        username=values["username"],
        password=password,
        password_env=password_env,
        ca_file=ca_file,
        timeout_seconds=values["timeout_seconds"] or default_of(EmailChannel, "timeout_seconds"),
    )


def address_problem(value: Any) -> str | None:
    """Why ``value`` is not one email address (``gw@example.org`` or
    ``Name <gw@example.org>``), or ``None``: no line breaks or control characters (they
    would inject headers), one ``@``, a local part and a domain of valid labels."""
    if not isinstance(value, str):
        return "not a string"
    if _CONTROL.search(value):
        return "it contains a line break or a control character"
    _display, address = parseaddr(value)
    if "<" in value or ">" in value:
        bracketed = re.fullmatch(r"\s*([^<>]*?)\s*<([^<>]*)>\s*", value)
        if bracketed is None or bracketed.group(2) != address:
            return "expected NAME <ADDRESS> or ADDRESS"
    elif value.strip() != address:
        return "expected NAME <ADDRESS> or ADDRESS"
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or "@" in local:
        return "expected one address such as gw@example.org"
    if not _LOCAL.match(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        return f"{local!r} is not a valid local part"
    if len(domain) > 253 or not all(_DOMAIN_LABEL.match(x) for x in domain.split(".")):
        return f"{domain!r} is not a valid domain"
    return None


def _masked_url(url: str) -> str:
    """Scheme and host only: robot and webhook URLs carry tokens in their path or query."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    masked = parts.path not in ("", "/") or parts.query
    return f"{parts.scheme}://{host}{port}/***" if masked else f"{parts.scheme}://{host}{port}/"


def render_digests(digests: Sequence[Subscription]) -> list[str]:
    """``[[digests]]`` as TOML lines for ``govwatch check-config``, URLs masked."""
    lines: list[str] = []
    for sub in digests:
        lines += [
            "",
            "[[digests]]",
            f"name = {toml_value(sub.name)}",
            f"schedule = {toml_value(sub.schedule)}",
            f"enabled = {toml_value(sub.enabled)}",
            f"sites = {toml_value(list(sub.sites))}",
            f"keywords = {toml_value(list(sub.keywords))}",
            f"include_dead_links = {toml_value(sub.include_dead_links)}",
            f"skip_empty = {toml_value(sub.skip_empty)}",
            f"excerpt_chars = {toml_value(sub.excerpt_chars)}",
            f"backfill_hours = {toml_value(sub.backfill_hours)}",
            f"retry_backoff_seconds = {toml_value(sub.retry.first_seconds)}",
            f"retry_backoff_max_seconds = {toml_value(sub.retry.max_seconds)}",
            f"max_attempts = {toml_value(sub.retry.max_attempts)}",
        ]
        for channel in sub.channels:
            lines += ["[[digests.channels]]", f"type = {toml_value(channel.type)}"]
            lines.append(f"name = {toml_value(channel.name)}")
            lines.append(f"timeout_seconds = {toml_value(channel.timeout_seconds)}")
            if isinstance(channel, EmailChannel):
                lines += [
                    f"host = {toml_value(channel.host)}",
                    f"port = {toml_value(channel.port)}",
                    f"security = {toml_value(channel.security)}",
                    f"from = {toml_value(channel.sender)}",
                    f"to = {toml_value(list(channel.recipients))}",
                ]
                optional = {
                    "username": channel.username,
                    "password_env": channel.password_env,
                    "ca_file": channel.ca_file,
                }
            else:
                optional = {
                    "url": None if channel.url_env else _masked_url(channel.url),
                    "url_env": channel.url_env,
                    "secret_env": channel.secret_env,
                }
            lines += [f"{k} = {toml_value(v)}" for k, v in optional.items() if v is not None]
    return lines
