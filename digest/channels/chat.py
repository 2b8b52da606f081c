"""Chat group robots: DingTalk, WeCom (企业微信), Feishu (飞书) and Slack, by their webhooks.

Each service is one module (``digest.channels.dingtalk`` …) declaring a
:class:`~digest.channels.robot.Robot`: its JSON format, signature and size limit, and how
its answer reads.  This sender is the same for all: a digest longer than one message is
sent as several, a retry resumes after the last message that went out, and an answer is
sorted into delivered, retry or failed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from digest.channels.dingtalk import ROBOT as DINGTALK
from digest.channels.feishu import ROBOT as FEISHU
from digest.channels.http import Reply, judge_status, post
from digest.channels.result import SendResult
from digest.channels.robot import Robot
from digest.channels.slack import ROBOT as SLACK
from digest.channels.wecom import ROBOT as WECOM
from digest.records import Digest
from digest.render import render_markdown, subject
from digest.subscription import ChatChannel

ROBOTS: dict[str, Robot] = {
    "dingtalk": DINGTALK,
    "wecom": WECOM,
    "feishu": FEISHU,
    "slack": SLACK,
}
# Per service: message size limit (with room for the JSON around it) and how it is counted.
LIMITS: dict[str, tuple[int, Callable[[str], int]]] = {
    kind: (robot.limit, robot.measure) for kind, robot in ROBOTS.items()
}


class ChatSender:
    def __init__(self, channel: ChatChannel, clock: Callable[[], float] = time.time) -> None:
        self.channel = channel
        self.robot = ROBOTS[channel.type]
        self.clock = clock

    def messages(self, digest: Digest) -> list[str]:
        return render_markdown(digest, self.channel.type, self.robot.limit, self.robot.measure)

    def send(self, digest: Digest, key: str, parts_sent: int) -> SendResult:
        channel = self.channel
        if not channel.url:
            return SendResult(
                "failed", parts_sent, None, f"environment variable {channel.url_env} is not set"
            )
        if channel.secret_env and not channel.secret:
            return SendResult(
                "failed", parts_sent, None, f"environment variable {channel.secret_env} is not set"
            )
        messages = self.messages(digest)
        title = subject(digest)
        for index in range(parts_sent, len(messages)):
            part_title = title if len(messages) == 1 else f"{title} ({index + 1}/{len(messages)})"
            url, body = self.robot.request(channel, part_title, messages[index], self.clock())
            reply = post(
                url,
                json.dumps(body, ensure_ascii=False).encode("utf-8"),
                {},
                channel.timeout_seconds,
            )
            if not isinstance(reply, Reply):
                return SendResult(reply.outcome, index, reply.status, reply.error)
            problem = judge_status(reply, index) or self._judge_answer(reply, index)
            if problem is not None:
                if len(messages) > 1:
                    problem = SendResult(
                        problem.outcome,
                        index,
                        problem.status,
                        f"message {index + 1} of {len(messages)}: {problem.error}",
                        problem.retry_after,
                    )
                return problem
        return SendResult("delivered", len(messages), 200)

    def _judge_answer(self, reply: Reply, index: int) -> SendResult | None:
        """Robots answer HTTP 200 with an error code in the body; read it."""
        kind, read_answer = self.channel.type, self.robot.read_answer
        if read_answer is None:
            return None  # errors come as HTTP statuses (Slack)
        if not reply.complete:  # the deadline cut the answer: it may or may not have gone out
            return SendResult("retry", index, reply.status, "the answer did not come in time")
        try:
            answer = json.loads(reply.text or "{}")
        except ValueError:
            return SendResult("failed", index, reply.status, f"not a JSON answer: {reply.text!r}")
        if not isinstance(answer, dict):
            return SendResult("failed", index, reply.status, f"unexpected answer: {reply.text!r}")
        code, message = read_answer(answer)
        if code in (0, None):
            return None
        if not isinstance(code, int) or isinstance(code, bool):
            return SendResult("failed", index, reply.status, f"unexpected answer: {reply.text!r}")
        detail = f"{kind} error {code}: {message}"
        if code in self.robot.retry_codes:
            return SendResult("retry", index, code, detail)
        return SendResult("failed", index, code, detail)
