"""Bad configurations and command lines (issue 11, item 6), through the real CLI.

Every case is a ``govwatch`` subprocess that must refuse with exit status 2 and exactly one
line on stderr naming what is wrong: never "internal error", never a traceback.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from scheduler.config import parse_config
from scheduler.digest_config import CHANNEL_KEYS, DIGEST_KEYS, address_problem
from scheduler.setting_checks import url_problem
from scheduler.settings import SECTIONS, SITE_KEYS, Range
from tests.conftest import run_cli

BASE = {
    "sections": "",
    "start_urls": '"https://www.example.org/news/"',
    "site": "",
    "digest": "",
    "host": '"smtp.example.org"',
    "sender": '"govwatch <gw@example.org>"',
    "to": '"team@example.org"',
    "channel": "",
    "extra": "",
}

TEMPLATE = """
{sections}

[[sites]]
name = "news"
start_urls = [{start_urls}]
article_url_pattern = '/t\\d+_\\d+\\.html$'
{site}

[[digests]]
name = "daily"
{digest}
[[digests.channels]]
type = "email"
host = {host}
from = {sender}
to = [{to}]
{channel}
{extra}
"""


@dataclass(frozen=True)
class Case:
    id: str
    expect: str  # a part of the one error line
    toml: dict[str, str] = field(default_factory=dict)
    argv: tuple[str, ...] = ("check-config",)


def webhook(url: str) -> str:
    return f'[[digests.channels]]\ntype = "webhook"\nurl = "{url}"'


def section(name: str, line: str) -> dict[str, str]:
    return {"sections": f"[{name}]\n{line}"}


CONFIG_CASES = [
    # numbers: finite, in range, no overflow
    Case(
        "heartbeat-inf", "service.heartbeat_seconds", section("service", "heartbeat_seconds = inf")
    ),
    Case(
        "heartbeat-nan", "service.heartbeat_seconds", section("service", "heartbeat_seconds = nan")
    ),
    Case(
        "heartbeat-zero", "service.heartbeat_seconds", section("service", "heartbeat_seconds = 0")
    ),
    Case("heartbeat-huge", "at most 3600", section("service", "heartbeat_seconds = 1e308")),
    Case(
        "history-days-huge",
        "service.history_days",
        section("service", "history_days = 10000000000"),
    ),
    Case(
        "jitter-huge", "service.jitter_seconds", section("service", "jitter_seconds = 999999999999")
    ),
    Case(
        "time-limit-inf",
        "crawl_time_limit_seconds",
        section("service", "crawl_time_limit_seconds = inf"),
    ),
    Case(
        "misfire-max-int",
        "misfire_grace_seconds",
        section("service", "misfire_grace_seconds = 9223372036854775807"),
    ),
    Case(
        "zero-articles-nan",
        "zero_articles_warning_hours",
        section("service", "zero_articles_warning_hours = nan"),
    ),
    Case("recheck-ok-inf", "links.recheck_ok_hours", section("links", "recheck_ok_hours = inf")),
    Case(
        "recheck-max-neg-inf",
        "links.recheck_max_hours",
        section("links", "recheck_max_hours = -inf"),
    ),
    Case("link-body-negative", "links.max_body_bytes", section("links", "max_body_bytes = -1")),
    Case("link-timeout-nan", "links.timeout_seconds", section("links", "timeout_seconds = nan")),
    Case(
        "dead-after-hours-inf", "links.dead_after_hours", section("links", "dead_after_hours = inf")
    ),
    Case("crawl-timeout-inf", "crawl.timeout_seconds", section("crawl", "timeout_seconds = inf")),
    Case(
        "crawl-page-bytes-huge",
        "crawl.max_page_bytes",
        section("crawl", "max_page_bytes = 9223372036854775807"),
    ),
    Case(
        "crawl-backoff-nan",
        "crawl.retry_backoff_seconds",
        section("crawl", "retry_backoff_seconds = nan"),
    ),
    Case("recheck-days-huge", "recheck_days", {"site": "recheck_days = 9223372036854775807"}),
    Case("site-delay-inf", "delay_seconds", {"site": "delay_seconds = inf"}),
    Case("list-pages-huge", "max_list_pages", {"site": "max_list_pages = 10000000000"}),
    Case("backfill-huge", "backfill_hours", {"digest": "backfill_hours = 1e12"}),
    Case("backfill-inf", "backfill_hours", {"digest": "backfill_hours = inf"}),
    Case("digest-backoff-inf", "retry_backoff_seconds", {"digest": "retry_backoff_seconds = inf"}),
    Case(
        "digest-backoff-max-nan",
        "retry_backoff_max_seconds",
        {"digest": "retry_backoff_max_seconds = nan"},
    ),
    Case("max-attempts-huge", "max_attempts", {"digest": "max_attempts = 100000"}),
    Case("excerpt-zero", "excerpt_chars", {"digest": "excerpt_chars = 0"}),
    Case("channel-timeout-inf", "timeout_seconds", {"channel": "timeout_seconds = inf"}),
    Case(
        "user-agent-newline",
        "crawl.user_agent",
        section("crawl", 'user_agent = "gw\\r\\nX-Evil: 1"'),
    ),
    # start URLs, parsed strictly
    Case("url-open-bracket", "start_urls[0]", {"start_urls": '"http://[::1/"'}),
    Case("url-port-99999", "start_urls[0]", {"start_urls": '"http://example.org:99999/"'}),
    Case("url-port-zero", "start_urls[0]", {"start_urls": '"http://example.org:0/"'}),
    Case("url-port-letters", "start_urls[0]", {"start_urls": '"http://example.org:http/"'}),
    Case("url-empty-host", "has no host", {"start_urls": '"http://:80/"'}),
    Case("url-no-host", "has no host", {"start_urls": '"http:///news/"'}),
    Case("url-ftp", "absolute http(s)", {"start_urls": '"ftp://example.org/"'}),
    Case("url-file", "absolute http(s)", {"start_urls": '"file:///etc/passwd"'}),
    Case("url-javascript", "absolute http(s)", {"start_urls": '"javascript:alert(1)"'}),
    Case("url-scheme-relative", "absolute http(s)", {"start_urls": '"//example.org/news/"'}),
    Case("url-space-in-host", "space or a control", {"start_urls": '"http://exa mple.org/"'}),
    Case("url-newline", "space or a control", {"start_urls": '"http://example.org/\\nX: y"'}),
    Case("url-not-ipv6", "start_urls[0]", {"start_urls": '"http://[not-an-ip]/"'}),
    Case("url-empty-label", "not a valid host name", {"start_urls": '"http://ex..ample.org/"'}),
    Case("url-bad-host-char", "not a valid host name", {"start_urls": '"http://exa<mple.org/"'}),
    # email addresses: no CR/LF, syntactically one address
    Case("to-newline-bcc", "to[0]", {"to": '"team@example.org\\nBcc: all@example.net"'}),
    Case("to-carriage-return", "line break", {"to": '"team@example.org\\r"'}),
    Case("to-nul", "control character", {"to": '"team@exa\\u0000mple.org"'}),
    Case("from-newline", ".from", {"sender": '"gw@example.org\\nSubject: hi"'}),
    Case("to-no-at", "to[0]", {"to": '"team.example.org"'}),
    Case("to-two-ats", "to[0]", {"to": '"team@@example.org"'}),
    Case("to-two-addresses", "to[0]", {"to": '"a@example.org, b@example.org"'}),
    Case("to-open-bracket", "to[0]", {"to": '"<team@example.org"'}),
    Case("to-space-in-local", "to[0]", {"to": '"te am@example.org"'}),
    Case("to-bad-domain", "to[0]", {"to": '"team@-example.org"'}),
    Case("from-trailing-text", ".from", {"sender": '"gw <gw@example.org> extra"'}),
    Case(
        "webhook-port-99999", "channels[1]", {"extra": webhook("http://hooks.example.org:99999/x")}
    ),
    Case("webhook-open-bracket", "channels[1]", {"extra": webhook("http://[::1/x")}),
    Case("webhook-not-http", "channels[1]", {"extra": webhook("gopher://hooks.example.org/")}),
    Case("host-newline", ".host", {"host": '"smtp.example.org\\r\\nRCPT TO:<x@y>"'}),
]

CLI_CASES = [
    Case("since-1000000d", "--since", argv=("articles", "--since", "1000000d")),
    Case("since-20-digit-days", "--since", argv=("articles", "--since", "9" * 20 + "d")),
    Case("since-empty", "--since", argv=("articles", "--since", "")),
    Case("since-blank", "--since", argv=("articles", "--since", "   ")),
    Case("since-year-1", "--since", argv=("articles", "--since", "0001-01-01")),
    Case("since-overflow-tz", "--since", argv=("articles", "--since", "9999-12-31T23:59-12:00")),
    Case("since-month-13", "--since", argv=("articles", "--since", "2024-13-01")),
    Case("since-words", "--since", argv=("articles", "--since", "yesterday")),
    Case("site-empty", "unknown site ''", argv=("articles", "--site", "")),
    Case("limit-20-digits", "--limit", argv=("articles", "--limit", "9" * 20)),
    Case("limit-zero", "--limit", argv=("articles", "--limit", "0")),
    Case("limit-float", "--limit", argv=("articles", "--limit", "1e3")),
    Case("limit-5000-digits", "--limit", argv=("articles", "--limit", "9" * 5000)),
    Case("show-20-digits", "ID", argv=("show", "9" * 20)),
    Case("show-zero", "ID", argv=("show", "0")),
    Case("show-word", "ID", argv=("show", "latest")),
    Case("links-limit-huge", "--limit", argv=("links", "--limit", "10000000000")),
    Case("check-links-limit-huge", "--limit", argv=("check-links", "--limit", "9" * 20)),
    Case("run-http-port-99999", "--http", argv=("run", "--http", "127.0.0.1:99999")),
]


def write_config(tmp_path: Path, case: Case) -> Path:
    values = {**BASE, **case.toml}
    text = f'[database]\nurl = "sqlite:///{tmp_path / "gw.db"}"\n' + TEMPLATE.format(**values)
    if values["sections"].startswith("[database]"):
        raise AssertionError("cases add other sections")
    path = tmp_path / "govwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_base_config_is_valid(tmp_path: Path) -> None:
    config = write_config(tmp_path, Case("base", ""))
    result = run_cli("--config", str(config), "check-config")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines() == ["# OK: 1 site(s)"]


@pytest.mark.parametrize("case", CONFIG_CASES + CLI_CASES, ids=lambda c: c.id)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, case: Case) -> None:
    config = write_config(tmp_path, case)
    result = run_cli("--config", str(config), *case.argv, timeout=60)
    lines = result.stderr.splitlines()
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith("govwatch: error: "), lines[0]
    assert "internal error" not in lines[0] and "Traceback" not in result.stdout
    assert case.expect in lines[0], lines[0]
    if case.argv == ("check-config",):
        assert str(config) in lines[0]  # names the file


def test_an_unset_env_variable_warns_or_fails_under_strict(tmp_path: Path) -> None:
    case = Case(
        "password-env-unset",
        "",
        {"channel": 'username = "gw"\npassword_env = "GOVWATCH_TEST_UNSET_PASSWORD"'},
    )
    config = write_config(tmp_path, case)
    result = run_cli("--config", str(config), "check-config")
    assert result.returncode == 0, result.stderr
    warning, ok = result.stderr.splitlines()
    assert warning.startswith("govwatch: warning: ") and "GOVWATCH_TEST_UNSET_PASSWORD" in warning
    assert "password_env" in warning
    assert ok == "# OK: 1 site(s)"

    result = run_cli("--config", str(config), "check-config", "--strict")
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert "GOVWATCH_TEST_UNSET_PASSWORD" in line and "--strict" in line
    assert result.stdout == ""

    env = {"GOVWATCH_TEST_UNSET_PASSWORD": "secret"}
    result = run_cli("--config", str(config), "check-config", "--strict", env=env)
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr


# the pure parts, in-process


def test_every_numeric_setting_declares_a_finite_range() -> None:
    tables = [*SECTIONS.values(), SITE_KEYS, DIGEST_KEYS, CHANNEL_KEYS]
    for specs in tables:
        for key, spec in specs.items():
            types = spec.type if isinstance(spec.type, tuple) else (spec.type,)
            if bool in types or not ({int, float} & set(types)):
                continue
            assert isinstance(spec.check, Range), key
            assert math.isfinite(spec.check.low) and math.isfinite(spec.check.high), key
            assert spec.default is None or spec.check(spec.default) is None, key


def test_good_urls_and_addresses_still_pass() -> None:
    for url in (
        "https://www.ccdi.gov.cn/yaowenn/",
        "http://127.0.0.1:8080/list/",
        "http://[::1]:8080/",
        "http://jjc.cq.gov.cn/html/col609191.htm",
        "http://中央纪委.中国/",
        "http://example.org./",
        "http://under_score.example.org/",
    ):
        assert url_problem(url) is None, url
    for address in (
        "gw@example.org",
        "govwatch <gw@example.org>",
        '"Gov Watch" <gw+digest@mail.example.org>',
        "团队 <team@例子.中国>",
        "root@localhost",
    ):
        assert address_problem(address) is None, address


def test_inf_is_rejected_in_process_too() -> None:
    from storage.errors import ConfigError

    with pytest.raises(ConfigError, match="finite"):
        parse_config({"service": {"heartbeat_seconds": math.inf}}, "test", {})
