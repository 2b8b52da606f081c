"""Delivering digests through real local receivers: an SMTP server (aiosmtpd) and an HTTP
receiver standing in for the webhook and the chat robots.  Exactly once, retries with the same
idempotency key, permanent failures not retried, a crash between send and record survived.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from digest import outbox
from digest.outbox import LEASE, DeliveryReport
from digest.subscription import (
    Channel,
    ChatChannel,
    EmailChannel,
    HealthThresholds,
    Retry,
    Subscription,
    WebhookChannel,
)
from storage import repository
from storage.database import Database
from storage.digest_records import AttemptView, DeliveryView
from tests.conftest import REPO
from tests.digest_helpers import (
    Answer,
    Receiver,
    SmtpServer,
    add_article,
    add_link_event,
    add_site,
    free_port,
    self_signed,
)
from tests.signature_check import (
    dingtalk_signature_ok,
    feishu_signature_ok,
    webhook_signature_ok,
)

HEALTH = HealthThresholds(failing_runs=3, quiet_hours=72.0)  # the [service] defaults
SECRET = "s3cret-signing-key"
ROBOT_OK = {
    "dingtalk": '{"errcode":0,"errmsg":"ok"}',
    "wecom": '{"errcode":0,"errmsg":"ok"}',
    "feishu": '{"code":0,"msg":"success","data":{}}',
    "slack": "ok",
    "webhook": "",
}


def sub(*channels: Channel, name: str = "daily", **changes: Any) -> Subscription:
    return Subscription(name=name, channels=channels, **changes)


def email_channel(smtp: SmtpServer, **changes: Any) -> EmailChannel:
    values: dict[str, Any] = {
        "name": "email",
        "host": "127.0.0.1",
        "port": smtp.port,
        "security": "none",
        "sender": "govwatch <gw@example.org>",
        "recipients": ("a@example.org", "b@example.org"),
        "timeout_seconds": 5.0,
    }
    values.update(changes)
    return EmailChannel(**values)


def fill(db: Database) -> list[int]:
    """Two sites, three articles (one with a hostile title), one dead link."""
    ccdi = add_site(db, "ccdi", "中央纪委国家监委网站")
    cqrb = add_site(db, "cqrb", "重庆日报")
    ids = [
        add_article(db, ccdi, 1, title="中央纪委国家监委通报三起典型问题"),
        add_article(db, ccdi, 2, title="<script>alert(1)</script>审查调查"),
        add_article(db, cqrb, 3, title="找准“问题眼” 打好“组合拳”", source="重庆日报"),
    ]
    add_link_event(
        db,
        "https://jjc.example.gov.cn/map/baidu.js",
        "newly_dead",
        page_url="https://site2.example.gov.cn/a/3.html",
        site_id=cqrb,
    )
    return ids


def start(db: Database, subscription: Subscription, now: datetime) -> list[DeliveryReport]:
    window, _ = outbox.open_window(db, subscription, now=now, sites=[], health=HEALTH)
    assert window is not None
    return outbox.deliver_due(db, [subscription], now=now)


def deliveries(db: Database) -> list[DeliveryView]:
    with db.session() as s:
        return repository.list_deliveries(s)


def attempts(db: Database, delivery_id: int) -> list[AttemptView]:
    with db.session() as s:
        return repository.delivery_attempts(s, delivery_id)


# --- every channel: what arrives is right -----------------------------------------------


def _received_text(kind: str, receiver: Receiver, smtp: SmtpServer) -> str:
    """Everything a person (or a program) gets, as text, after checking the format."""
    if kind == "email":
        (message,) = smtp.messages
        assert message["Subject"].startswith("govwatch: 3 new articles, 1 dead link — ")
        assert message.get_content_type() == "multipart/alternative"
        plain = message.get_body(("plain",))
        html = message.get_body(("html",))
        assert plain is not None and html is not None
        html_text = html.get_content()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;审查调查" in html_text
        assert "<script>" not in html_text
        assert sorted(smtp.envelopes[0][1]) == ["a@example.org", "b@example.org"]
        return str(plain.get_content())
    (request,) = receiver.requests
    body = request.json()
    if kind == "webhook":
        assert request.headers["idempotency-key"] == body["idempotency_key"]
        assert webhook_signature_ok(request, SECRET)  # as the README tells receivers
        assert body["counts"]["articles"] == 3
        return (
            "\n".join(f"{a['title']} {a['url']} {a['site_title']}" for a in body["articles"])
            + "\n"
            + "\n".join(d["url"] for d in body["dead_links"])
        )
    if kind == "dingtalk":
        assert dingtalk_signature_ok(request, SECRET)
        assert body["msgtype"] == "markdown"
        assert body["markdown"]["title"].startswith("govwatch: 3 new articles")
        return str(body["markdown"]["text"])
    if kind == "wecom":
        assert body["msgtype"] == "markdown"
        return str(body["markdown"]["content"])
    if kind == "feishu":
        assert feishu_signature_ok(body, SECRET)
        assert body["msg_type"] == "interactive"
        (element,) = body["card"]["elements"]
        return str(element["content"])
    assert kind == "slack"
    return str(body["text"])


@pytest.mark.parametrize("kind", ["email", "webhook", "dingtalk", "wecom", "feishu", "slack"])
def test_every_channel_receives_the_digest_once_with_the_right_content(
    db: Database, kind: str
) -> None:
    fill(db)
    with Receiver(default=Answer(200, ROBOT_OK.get(kind, ""))) as receiver, SmtpServer() as smtp:
        channel: Channel
        if kind == "email":
            channel = email_channel(smtp)
        elif kind == "webhook":
            channel = WebhookChannel("webhook", receiver.url(), secret=SECRET)
        else:
            secret = SECRET if kind in ("dingtalk", "feishu") else None
            channel = ChatChannel(
                kind, kind, receiver.url("/robot/send?access_token=t"), secret=secret
            )
        (report,) = start(db, sub(channel), datetime.now(UTC))
        assert report.outcome == "delivered", report.error
        text = _received_text(kind, receiver, smtp)
    for expected in (
        "中央纪委国家监委通报三起典型问题",
        "审查调查",
        "http://site1.example.gov.cn/a/1.html",
        "http://site2.example.gov.cn/a/3.html",
        "中央纪委国家监委网站",
        "重庆日报",
        "https://jjc.example.gov.cn/map/baidu.js",
    ):
        assert expected in text, f"{expected!r} missing from the {kind} digest"
    (delivery,) = deliveries(db)
    assert delivery.state == "delivered" and delivery.attempts == 1
    # nothing more to send, however often the service ticks
    assert outbox.deliver_due(db, [sub(channel)], now=datetime.now(UTC) + timedelta(days=1)) == []


# --- retries ------------------------------------------------------------------------------


def test_smtp_down_then_up_is_delivered_once_late(db: Database) -> None:
    fill(db)
    smtp = SmtpServer()  # not started: nothing listens on its port
    subscription = sub(email_channel(smtp))
    t0 = datetime.now(UTC)
    (first,) = start(db, subscription, t0)
    assert first.outcome == "retry"
    assert "refused" in first.error or "connect" in first.error
    assert first.next_attempt_at == t0 + timedelta(seconds=60)
    assert outbox.deliver_due(db, [subscription], now=t0 + timedelta(seconds=30)) == []  # not due
    with smtp:
        (second,) = outbox.deliver_due(db, [subscription], now=t0 + timedelta(seconds=61))
        assert second.outcome == "delivered"
        assert outbox.deliver_due(db, [subscription], now=t0 + timedelta(hours=2)) == []
    assert len(smtp.messages) == 1
    (delivery,) = deliveries(db)
    assert delivery.state == "delivered" and delivery.attempts == 2
    assert delivery.delivered_at is not None and delivery.delivered_at > t0 + timedelta(seconds=60)
    assert smtp.messages[0]["Message-ID"] == f"<{delivery.idempotency_key}@govwatch>"
    assert [a.outcome for a in attempts(db, delivery.id)] == ["retry", "delivered"]


def test_webhook_500_then_200_is_delivered_once_with_the_same_key(db: Database) -> None:
    fill(db)
    with Receiver([Answer(500, "upstream down")]) as receiver:
        subscription = sub(WebhookChannel("webhook", receiver.url()))
        t0 = datetime.now(UTC)
        (first,) = start(db, subscription, t0)
        assert (first.outcome, first.error) == ("retry", "HTTP 500: upstream down")
        (second,) = outbox.deliver_due(db, [subscription], now=t0 + timedelta(minutes=2))
        assert second.outcome == "delivered"
    one, two = receiver.requests
    assert one.headers["idempotency-key"] == two.headers["idempotency-key"] == first.key
    assert one.body == two.body  # the same digest, not a newer one
    (delivery,) = deliveries(db)
    assert (delivery.state, delivery.attempts) == ("delivered", 2)
    assert [(a.outcome, a.status) for a in attempts(db, delivery.id)] == [
        ("retry", 500),
        ("delivered", 200),
    ]


def test_webhook_400_is_recorded_failed_and_not_retried(db: Database) -> None:
    fill(db)
    with Receiver(default=Answer(400, '{"error": "bad payload"}')) as receiver:
        subscription = sub(WebhookChannel("webhook", receiver.url()))
        t0 = datetime.now(UTC)
        (report,) = start(db, subscription, t0)
        assert report.outcome == "failed"
        for days in (1, 2, 30):
            assert outbox.deliver_due(db, [subscription], now=t0 + timedelta(days=days)) == []
    assert len(receiver.requests) == 1
    (delivery,) = deliveries(db)
    assert delivery.state == "failed"
    assert delivery.last_error.startswith("HTTP 400")
    with db.session() as s:
        assert [d.id for d in repository.list_deliveries(s, states=["failed"])] == [delivery.id]
        assert repository.delivery_counts(s) == {"failed": 1}


def test_429_waits_as_long_as_retry_after_asks(db: Database) -> None:
    fill(db)
    with Receiver([Answer(429, "slow down", (("Retry-After", "600"),))]) as receiver:
        subscription = sub(WebhookChannel("webhook", receiver.url()))
        t0 = datetime.now(UTC)
        (report,) = start(db, subscription, t0)
    assert report.outcome == "retry"
    assert report.next_attempt_at == t0 + timedelta(seconds=600)


def test_backoff_doubles_up_to_its_cap_and_gives_up_after_max_attempts(db: Database) -> None:
    fill(db)
    retry = Retry(first_seconds=60, max_seconds=200, max_attempts=4)
    with Receiver(default=Answer(503, "maintenance")) as receiver:
        subscription = sub(WebhookChannel("webhook", receiver.url()), retry=retry)
        now = datetime.now(UTC)
        reports = start(db, subscription, now)
        waits = []
        while reports and reports[0].outcome == "retry":
            assert reports[0].next_attempt_at is not None
            waits.append((reports[0].next_attempt_at - now).total_seconds())
            now = reports[0].next_attempt_at
            reports = outbox.deliver_due(db, [subscription], now=now)
    assert waits == [60, 120, 200]
    (last,) = reports
    assert last.outcome == "failed" and last.error.startswith("gave up after 4 attempts")
    assert len(receiver.requests) == 4


def test_chat_digest_in_several_messages_resumes_after_the_last_one_sent(db: Database) -> None:
    sid = add_site(db, "ccdi")
    for n in range(60):
        add_article(db, sid, n, body="长正文" * 100)
    ok, limited = ROBOT_OK["wecom"], '{"errcode":45009,"errmsg":"api freq out of limit"}'
    with Receiver([Answer(200, ok), Answer(200, limited)], default=Answer(200, ok)) as receiver:
        subscription = sub(ChatChannel("wecom", "wecom", receiver.url()), excerpt_chars=200)
        t0 = datetime.now(UTC)
        (first,) = start(db, subscription, t0)
        assert first.outcome == "retry" and "45009" in first.error
        (second,) = outbox.deliver_due(db, [subscription], now=t0 + timedelta(minutes=5))
        assert second.outcome == "delivered"
    texts = [r.json()["markdown"]["content"] for r in receiver.requests]
    assert all(len(t.encode()) <= 4096 for t in texts)
    delivered = [texts[0], *texts[2:]]  # the second request was refused, then sent again
    assert texts[1] == texts[2]
    assert len(delivered) >= 3
    for n in range(60):
        url = f"http://site{sid}.example.gov.cn/a/{n}.html"
        assert sum(t.count(url) for t in delivered) == 1
    (delivery,) = deliveries(db)
    assert delivery.parts_sent == len(delivered)


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [("451 4.3.0 mailbox busy, try later", "retry"), ("554 5.7.1 rejected as spam", "failed")],
)
def test_smtp_reply_codes_decide_retry_or_failure(db: Database, reply: str, outcome: str) -> None:
    fill(db)
    with SmtpServer(replies=[reply]) as smtp:
        (report,) = start(db, sub(email_channel(smtp)), datetime.now(UTC))
    assert report.outcome == outcome
    assert reply.split()[0] in report.error


def test_starttls_and_login_with_a_private_certificate(db: Database, tmp_path: Path) -> None:
    fill(db)
    context, ca_file = self_signed(tmp_path)
    with SmtpServer(login=("gw", "pa55"), tls=context) as smtp:
        good = email_channel(
            smtp, security="starttls", username="gw", password="pa55", ca_file=str(ca_file)
        )
        (report,) = start(db, sub(good), datetime.now(UTC))
        assert report.outcome == "delivered", report.error
        assert len(smtp.messages) == 1
        wrong = email_channel(
            smtp, security="starttls", username="gw", password="nope", ca_file=str(ca_file)
        )
        (refused,) = start(db, sub(wrong, name="other"), datetime.now(UTC))
        assert refused.outcome == "failed" and "refused the login" in refused.error
        untrusted = email_channel(smtp, security="starttls", username="gw", password="pa55")
        (unsafe,) = start(db, sub(untrusted, name="third"), datetime.now(UTC))
        assert unsafe.outcome == "failed" and "certificate" in unsafe.error
    assert len(smtp.messages) == 1


def test_missing_secret_fails_without_sending(db: Database) -> None:
    fill(db)
    with Receiver() as receiver:
        channel = WebhookChannel("webhook", receiver.url(), secret=None, secret_env="HOOK_SECRET")
        (report,) = start(db, sub(channel), datetime.now(UTC))
    assert report.outcome == "failed"
    assert report.error == "environment variable HOOK_SECRET is not set"
    assert receiver.requests == []


def test_delivery_whose_channel_was_removed_is_failed(db: Database) -> None:
    fill(db)
    t0 = datetime.now(UTC)
    with Receiver(default=Answer(503)) as receiver:
        before = sub(WebhookChannel("webhook", receiver.url()))
        start(db, before, t0)
    after = sub(WebhookChannel("other", "http://127.0.0.1:9/"))
    (report,) = outbox.deliver_due(db, [after], now=t0 + timedelta(hours=1))
    assert report.outcome == "failed" and "no longer configured" in report.error
    assert outbox.deliver_due(db, [after], now=t0 + timedelta(days=1)) == []


# --- a crash between send and record ------------------------------------------------------


def _config(tmp_path: Path, channel_toml: str) -> Path:
    path = tmp_path / "govwatch.toml"
    path.write_text(
        f"""
[[sites]]
name = "ccdi"
title = "中央纪委国家监委网站"
start_urls = ["http://127.0.0.1:9/"]
article_url_pattern = 'a/\\d+'
[[sites]]
name = "cqrb"
title = "重庆日报"
start_urls = ["http://127.0.0.1:9/"]
article_url_pattern = 'a/\\d+'

[[digests]]
name = "daily"
[[digests.channels]]
{channel_toml}
""",
        encoding="utf-8",
    )
    return path


def _send_in_a_process_that_is_killed(
    config: Path, database_url: str, arm: Any
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVWATCH_")}
    env["GOVWATCH_DATABASE_URL"] = database_url
    proc = subprocess.Popen(
        [sys.executable, "-m", "scheduler", "--config", str(config), "digest", "daily", "--send"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    arm(proc.pid)  # the receiver kills it when its message arrives, before answering
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _assert_resent_after_the_crash(db: Database, subscription: Subscription) -> DeliveryView:
    (pending,) = deliveries(db)
    assert pending.state == "sending"  # recorded before the send; the record after never came
    assert pending.attempts == 1
    now = datetime.now(UTC)
    # while the lease runs the sender may still be alive: not sent twice at once
    assert outbox.deliver_due(db, [subscription], now=now) == []
    (report,) = outbox.deliver_due(db, [subscription], now=now + LEASE + timedelta(seconds=1))
    assert report.outcome == "delivered"
    assert report.key == pending.idempotency_key
    (delivery,) = deliveries(db)
    assert (delivery.state, delivery.attempts) == ("delivered", 2)
    assert [a.outcome for a in attempts(db, delivery.id)] == ["lost", "delivered"]
    return delivery


def test_webhook_killed_between_send_and_record_loses_nothing_and_repeats_its_key(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    ids = fill(db)
    with Receiver() as receiver:
        config = _config(tmp_path, f'type = "webhook"\nurl = "{receiver.url()}"')

        def arm(pid: int) -> None:
            receiver.kill_pid = pid

        result = _send_in_a_process_that_is_killed(config, database_url, arm)
        assert result.returncode == -9, result.stderr
        assert len(receiver.requests) == 1
        subscription = sub(WebhookChannel("webhook", receiver.url()))
        delivery = _assert_resent_after_the_crash(db, subscription)
    first, again = receiver.requests
    assert first.headers["idempotency-key"] == again.headers["idempotency-key"]
    assert first.headers["idempotency-key"] == delivery.idempotency_key
    assert first.body == again.body
    assert sorted(a["id"] for a in again.json()["articles"]) == sorted(ids)  # none lost


def test_email_killed_between_send_and_record_is_sent_again_with_the_same_message_id(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    ids = fill(db)
    port = free_port()
    with SmtpServer(port=port) as smtp:
        config = _config(
            tmp_path,
            f'type = "email"\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
            'from = "gw@example.org"\nto = ["a@example.org"]',
        )

        def arm(pid: int) -> None:
            smtp.kill_pid = pid

        result = _send_in_a_process_that_is_killed(config, database_url, arm)
        assert result.returncode == -9, result.stderr
        channel = email_channel(smtp, sender="gw@example.org", recipients=("a@example.org",))
        delivery = _assert_resent_after_the_crash(db, sub(channel))
    first, again = smtp.messages
    assert first["Message-ID"] == again["Message-ID"] == f"<{delivery.idempotency_key}@govwatch>"
    text = again.get_body(("plain",))
    assert text is not None
    for n in (1, 2, 3):
        assert f".example.gov.cn/a/{n}.html" in text.get_content()
    assert len(ids) == 3
