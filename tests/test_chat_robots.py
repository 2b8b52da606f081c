"""The chat robots' contract, one suite parametrised over every robot (DingTalk, WeCom,
Feishu, Slack): sent once, rate limits retried, refusals failed and not retried, a long
digest split within the robot's limit and resumed after the last part that went out, and
an answer that makes no sense recorded, never raised.  Real local HTTP receivers.

What each service answers is written here from the services' documentation, not read from
the robot modules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from digest import outbox
from digest.channels.chat import ROBOTS
from digest.subscription import CHAT_TYPES, ChatChannel
from storage.database import Database
from tests.digest_helpers import Answer, Received, Receiver, add_article, add_site
from tests.test_digest_delivery import ROBOT_OK, deliveries, fill, start, sub


@dataclass(frozen=True)
class Service:
    text: Callable[[Received], str]  # the message text a request carries
    limited: Answer  # "too many messages, later"
    refused: Answer  # will not take it (bad token, bad signature): trying again won't help
    limit: Callable[[str], bool]  # whether one message's text is within the service's limit


SERVICES = {
    "dingtalk": Service(
        text=lambda r: str(r.json()["markdown"]["text"]),
        limited=Answer(200, '{"errcode":130101,"errmsg":"send too fast"}'),
        refused=Answer(200, '{"errcode":310000,"errmsg":"sign not match"}'),
        limit=lambda t: len(t.encode()) <= 20000,
    ),
    "wecom": Service(
        text=lambda r: str(r.json()["markdown"]["content"]),
        limited=Answer(200, '{"errcode":45009,"errmsg":"api freq out of limit"}'),
        refused=Answer(200, '{"errcode":93000,"errmsg":"invalid webhook url"}'),
        limit=lambda t: len(t.encode()) <= 4096,
    ),
    "feishu": Service(
        text=lambda r: str(r.json()["card"]["elements"][0]["content"]),
        limited=Answer(200, '{"code":11232,"msg":"frequency limited"}'),
        refused=Answer(
            200, '{"code":19021,"msg":"sign match fail or timestamp is not within one hour"}'
        ),
        limit=lambda t: len(t.encode()) <= 20000,
    ),
    "slack": Service(
        text=lambda r: str(r.json()["text"]),
        limited=Answer(429, "rate_limited", (("Retry-After", "30"),)),
        refused=Answer(404, "no_service"),
        limit=lambda t: len(t) <= 4000,
    ),
}


def test_the_suite_covers_every_robot() -> None:
    assert set(SERVICES) == set(ROBOTS) == set(CHAT_TYPES)


def robot(kind: str, receiver: Receiver) -> ChatChannel:
    return ChatChannel(kind, kind, receiver.url("/robot/send?access_token=t"))


@pytest.mark.parametrize("kind", CHAT_TYPES)
def test_a_rate_limited_robot_is_retried_and_delivered_once(db: Database, kind: str) -> None:
    fill(db)
    service = SERVICES[kind]
    ok = Answer(200, ROBOT_OK[kind])
    with Receiver([service.limited], default=ok) as receiver:
        subscription = sub(robot(kind, receiver))
        t0 = datetime.now(UTC)
        (first,) = start(db, subscription, t0)
        assert first.outcome == "retry", first.error
        assert first.next_attempt_at is not None and first.next_attempt_at > t0
        assert outbox.deliver_due(db, [subscription], now=t0) == []  # not before its time
        (second,) = outbox.deliver_due(db, [subscription], now=first.next_attempt_at)
        assert second.outcome == "delivered", second.error
    first_text, second_text = (service.text(r) for r in receiver.requests)
    assert first_text == second_text and "中央纪委国家监委通报三起典型问题" in first_text
    (delivery,) = deliveries(db)
    assert delivery.state == "delivered" and delivery.attempts == 2


@pytest.mark.parametrize("kind", CHAT_TYPES)
def test_a_refusing_robot_is_failed_and_not_retried(db: Database, kind: str) -> None:
    fill(db)
    with Receiver(default=SERVICES[kind].refused) as receiver:
        subscription = sub(robot(kind, receiver))
        t0 = datetime.now(UTC)
        (report,) = start(db, subscription, t0)
        assert report.outcome == "failed"
        assert outbox.deliver_due(db, [subscription], now=t0 + timedelta(days=2)) == []
    assert len(receiver.requests) == 1
    (delivery,) = deliveries(db)
    assert delivery.state == "failed"


@pytest.mark.parametrize("kind", CHAT_TYPES)
def test_a_robot_answering_503_is_retried(db: Database, kind: str) -> None:
    fill(db)
    with Receiver(default=Answer(503, "busy")) as receiver:
        (report,) = start(db, sub(robot(kind, receiver)), datetime.now(UTC))
    assert report.outcome == "retry" and "503" in report.error


@pytest.mark.parametrize("kind", CHAT_TYPES)
def test_a_long_digest_is_split_within_the_limit_and_resumed_after_the_last_part_sent(
    db: Database, kind: str
) -> None:
    service = SERVICES[kind]
    sid = add_site(db, "ccdi")
    for n in range(80):
        add_article(db, sid, n, body="长正文" * 100)
    ok = Answer(200, ROBOT_OK[kind])
    with Receiver([ok, service.limited], default=ok) as receiver:
        subscription = sub(robot(kind, receiver), excerpt_chars=200)
        t0 = datetime.now(UTC)
        (first,) = start(db, subscription, t0)
        assert first.outcome == "retry" and "message 2 of" in first.error, first.error
        assert first.next_attempt_at is not None
        (second,) = outbox.deliver_due(db, [subscription], now=first.next_attempt_at)
        assert second.outcome == "delivered", second.error
    texts = [service.text(r) for r in receiver.requests]
    assert all(service.limit(t) for t in texts)
    assert texts[1] == texts[2]  # the refused part, sent again; the first not again
    delivered = [texts[0], *texts[2:]]
    assert len(delivered) >= 2
    for n in range(80):
        url = f"http://site{sid}.example.gov.cn/a/{n}.html"
        assert sum(t.count(url) for t in delivered) == 1, url
    (delivery,) = deliveries(db)
    assert delivery.parts_sent == len(delivered)


@pytest.mark.parametrize("kind", [k for k in CHAT_TYPES if k != "slack"])
@pytest.mark.parametrize(
    "answer", ["<html>502 Bad Gateway</html>", "[1, 2]", '{"errcode": [1], "code": [1]}']
)
def test_a_nonsense_answer_is_recorded_not_raised(db: Database, kind: str, answer: str) -> None:
    fill(db)
    with Receiver(default=Answer(200, answer)) as receiver:
        (report,) = start(db, sub(robot(kind, receiver)), datetime.now(UTC))
    assert report.outcome == "failed", report
    assert report.error
