"""Chat group robots: DingTalk, WeCom (企业微信), Feishu (飞书) and Slack, by their webhooks.

Each service's own JSON format, Markdown flavour and size limit; a digest longer than one
message is sent as several, and a retry resumes after the last message that went out.

- DingTalk custom robot: ``{"msgtype": "markdown", "markdown": {"title", "text"}}``; with 加签,
  ``timestamp`` (ms) and ``sign`` = base64(HMAC-SHA256(secret, "timestamp\\nsecret")) go in
  the query string.  Answers HTTP 200 with ``errcode`` (0: sent; 130101: too fast).
- WeCom group robot: ``{"msgtype": "markdown", "markdown": {"content"}}``, at most 4096 bytes;
  ``errcode`` 0 sent, 45009 rate limited, -1 busy.
- Feishu custom bot: an interactive card with one ``markdown`` element; the request body may
  not exceed 20 KB.  With 签名校验, ``timestamp`` (s) and ``sign`` = base64(HMAC-SHA256(key
  "timestamp\\nsecret", empty message)) go in the body.  ``code`` 0 sent, 11232 rate limited.
- Slack incoming webhook: ``{"text"}`` in mrkdwn; answers ``ok``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from digest.channels.http import Reply, judge_status, post
from digest.channels.result import SendResult
from digest.records import Digest
from digest.render import byte_length, render_markdown, subject
from digest.subscription import ChatChannel


def _chars(text: str) -> int:
    return len(text)


# Per service: message size limit (with room for the JSON around it) and how it is counted.
LIMITS: dict[str, tuple[int, Callable[[str], int]]] = {
    "dingtalk": (18000, byte_length),
    "wecom": (4000, byte_length),
    "feishu": (18000, byte_length),
    "slack": (3900, _chars),
}
# Error codes (in an HTTP 200 answer) that mean "too many messages, try later".
_RETRY_CODES = {
    "dingtalk": {130101, -1},
    "wecom": {45009, -1},
    "feishu": {11232},
}


class ChatSender:
    def __init__(self, channel: ChatChannel, clock: Callable[[], float] = time.time) -> None:
        self.channel = channel
        self.clock = clock

    def messages(self, digest: Digest) -> list[str]:
        limit, measure = LIMITS[self.channel.type]
        return render_markdown(digest, self.channel.type, limit, measure)

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
            url, body = self._request(part_title, messages[index])
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

    def _request(self, title: str, text: str) -> tuple[str, dict[str, Any]]:
        channel = self.channel
        if channel.type == "dingtalk":
            url = channel.url
            if channel.secret:
                stamp = str(int(self.clock() * 1000))
                mac = hmac.new(
                    channel.secret.encode("utf-8"),
                    f"{stamp}\n{channel.secret}".encode(),
                    hashlib.sha256,
                ).digest()
                sign = quote(base64.b64encode(mac).decode("ascii"), safe="")
                url += ("&" if "?" in url else "?") + f"timestamp={stamp}&sign={sign}"
            return url, {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
        if channel.type == "wecom":
            return channel.url, {"msgtype": "markdown", "markdown": {"content": text}}
        if channel.type == "feishu":
            body: dict[str, Any] = {
                "msg_type": "interactive",
                "card": {
                    "config": {"wide_screen_mode": True},
                    "header": {"title": {"tag": "plain_text", "content": title}},
                    "elements": [{"tag": "markdown", "content": text}],
                },
            }
            if channel.secret:
                stamp = str(int(self.clock()))
                mac = hmac.new(f"{stamp}\n{channel.secret}".encode(), b"", hashlib.sha256).digest()
                body["timestamp"] = stamp
                body["sign"] = base64.b64encode(mac).decode("ascii")
            return channel.url, body
        if channel.type == "slack":
            return channel.url, {"text": text, "mrkdwn": True}
        raise ValueError(f"unknown chat channel type {channel.type!r}")

    def _judge_answer(self, reply: Reply, index: int) -> SendResult | None:
        """Robots answer HTTP 200 with an error code in the body; read it."""
        kind = self.channel.type
        if kind == "slack":
            return None  # Slack answers errors with an HTTP 4xx/5xx status
        if not reply.complete:  # the deadline cut the answer: it may or may not have gone out
            return SendResult("retry", index, reply.status, "the answer did not come in time")
        try:
            answer = json.loads(reply.text or "{}")
        except ValueError:
            return SendResult("failed", index, reply.status, f"not a JSON answer: {reply.text!r}")
        if not isinstance(answer, dict):
            return SendResult("failed", index, reply.status, f"unexpected answer: {reply.text!r}")
        if kind == "feishu":
            code = answer.get("code", answer.get("StatusCode", 0))
            message = answer.get("msg", answer.get("StatusMessage", ""))
        else:
            code = answer.get("errcode", 0)
            message = answer.get("errmsg", "")
        if code in (0, None):
            return None
        detail = f"{kind} error {code}: {message}"
        if code in _RETRY_CODES.get(kind, set()):
            return SendResult("retry", index, code, detail)
        return SendResult("failed", index, code, detail)
