"""``[[digests]]`` in the configuration: typed subscriptions, secrets from the environment,
one-line errors naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.subscription import ChatChannel, EmailChannel, WebhookChannel
from scheduler.config import load_config, render_config
from storage.errors import ConfigError
from tests.conftest import run_cli

SITES = """
[[sites]]
name = "ccdi"
start_urls = ["http://127.0.0.1:9/"]
article_url_pattern = 'a/\\d+'
[[sites]]
name = "cqrb"
start_urls = ["http://127.0.0.1:9/"]
article_url_pattern = 'a/\\d+'
"""

DIGESTS = """
[[digests]]
name = "daily"
schedule = "0 8 * * *"
sites = ["ccdi"]
keywords = ["巡视", "审查调查"]
skip_empty = true
[[digests.channels]]
type = "email"
host = "smtp.example.org"
username = "gw"
password_env = "GOVWATCH_SMTP_PASSWORD"
from = "govwatch <gw@example.org>"
to = ["a@example.org", "张三 <b@example.org>"]
[[digests.channels]]
type = "webhook"
url = "https://hooks.example.org/govwatch"
secret_env = "GOVWATCH_WEBHOOK_SECRET"
[[digests.channels]]
type = "dingtalk"
url_env = "GOVWATCH_DINGTALK_URL"
secret_env = "GOVWATCH_DINGTALK_SECRET"

[[digests]]
name = "hourly"
schedule = "every 1h"
[[digests.channels]]
type = "wecom"
url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=TOKEN123"
"""

ENV = {
    "GOVWATCH_SMTP_PASSWORD": "pw",
    "GOVWATCH_WEBHOOK_SECRET": "whs",
    "GOVWATCH_DINGTALK_URL": "https://oapi.dingtalk.com/robot/send?access_token=DTTOKEN",
    "GOVWATCH_DINGTALK_SECRET": "SECdt",
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "govwatch.toml"
    path.write_text(SITES + text, encoding="utf-8")
    return path


def test_subscriptions_and_channels_are_typed_with_secrets_from_the_environment(
    tmp_path: Path,
) -> None:
    config = load_config(str(write(tmp_path, DIGESTS)), ENV)
    daily = config.digest("daily")
    assert daily is not None
    assert (daily.sites, daily.keywords, daily.skip_empty) == (
        ("ccdi",),
        ("巡视", "审查调查"),
        True,
    )
    mail, hook, robot = daily.channels
    assert isinstance(mail, EmailChannel)
    assert (mail.port, mail.security, mail.password) == (587, "starttls", "pw")
    assert mail.recipients == ("a@example.org", "张三 <b@example.org>")
    assert isinstance(hook, WebhookChannel) and hook.secret == "whs"
    assert isinstance(robot, ChatChannel) and robot.type == "dingtalk"
    assert robot.url.endswith("DTTOKEN") and robot.secret == "SECdt"
    hourly = config.digest("hourly")
    assert hourly is not None and hourly.channels[0].name == "wecom"
    assert "GOVWATCH_SMTP_PASSWORD" in config.env_overrides
    assert "pw" not in repr(mail) and "SECdt" not in repr(robot)  # secrets stay out of logs


def test_unset_secret_is_reported_when_sending_not_when_loading(tmp_path: Path) -> None:
    config = load_config(str(write(tmp_path, DIGESTS)), {})
    daily = config.digest("daily")
    assert daily is not None
    mail, _, robot = daily.channels
    assert isinstance(mail, EmailChannel) and mail.password is None
    assert isinstance(robot, ChatChannel) and robot.url == ""


def test_check_config_masks_tokens(tmp_path: Path) -> None:
    config = load_config(str(write(tmp_path, DIGESTS)), ENV)
    rendered = render_config(config)
    for secret in ("pw'", "whs", "DTTOKEN", "SECdt", "TOKEN123"):
        assert secret not in rendered
    assert "url = 'https://qyapi.weixin.qq.com/***'" in rendered
    assert "password_env = 'GOVWATCH_SMTP_PASSWORD'" in rendered
    again = load_config(str(write(tmp_path, rendered.split("[[sites]]", 1)[0] + DIGESTS)), ENV)
    assert again.digests == config.digests


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('schedule = "0 8 * * *"', "colour = 1"), "digests[0] (daily).colour: unknown key"),
        (("0 8 * * *", "sometimes"), "digests[0] (daily).schedule: 'sometimes' is neither"),
        (('sites = ["ccdi"]', 'sites = ["nope"]'), "digests[0] (daily).sites: unknown site 'nope'"),
        (
            ('to = ["a@example.org", "张三 <b@example.org>"]', 'to = ["not-an-address"]'),
            "digests[0] (daily).channels[0] (email).to[0]: 'not-an-address' is not an email",
        ),
        (
            ('from = "govwatch <gw@example.org>"', 'from = "gw"'),
            "digests[0] (daily).channels[0] (email).from: 'gw' is not an email address",
        ),
        (
            ("https://hooks.example.org/govwatch", "ftp://hooks.example.org/x"),
            "digests[0] (daily).channels[1] (webhook).url: 'ftp://hooks.example.org/x' is not",
        ),
        (
            ('type = "webhook"', 'type = "pager"'),
            "digests[0] (daily).channels[1].type: must be one of email, webhook",
        ),
        (
            ('secret_env = "GOVWATCH_WEBHOOK_SECRET"', 'password_env = "X"'),
            "digests[0] (daily).channels[1] (webhook).password_env: not a key of a webhook",
        ),
        (
            ('url_env = "GOVWATCH_DINGTALK_URL"', 'url_env = "GOVWATCH DINGTALK"'),
            "channels[2] (dingtalk).url_env: 'GOVWATCH DINGTALK' is not an environment variable",
        ),
        (
            ('password_env = "GOVWATCH_SMTP_PASSWORD"\n', ""),
            "channels[0] (email).password_env: missing (a username needs a password",
        ),
        (('name = "hourly"', 'name = "daily"'), "digests[1].name: duplicate digest name 'daily'"),
        (
            ('type = "dingtalk"', 'type = "webhook"\nname = "webhook"'),
            "channels[2].name: two channels named 'webhook'",
        ),
        (
            ('url = "https://qyapi', 'url_env = "X"\nurl = "https://qyapi'),
            "digests[1] (hourly).channels[0] (wecom).url: give either url or url_env",
        ),
    ],
)
def test_invalid_digest_config_is_one_line_naming_file_and_key(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    old, new = change
    assert old in DIGESTS
    path = write(tmp_path, DIGESTS.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_config(str(path), ENV)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_digest_without_channels_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[[digests]]\nname = "x"\n')
    with pytest.raises(ConfigError, match=r"digests\[0\] \(x\)\.channels: needs at least one"):
        load_config(str(path), {})


def test_cli_reports_a_bad_address_in_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, DIGESTS.replace("a@example.org", "a at example.org"))
    result = run_cli("--config", str(path), "check-config")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert str(path) in line and "to[0]" in line
