"""Feishu (飞书) custom bot.

An interactive card with one ``markdown`` element; the request body may not exceed 20 KB.
With 签名校验, ``timestamp`` (s) and ``sign`` = base64(HMAC-SHA256(key "timestamp\\nsecret",
empty message)) go in the body.  Answers ``code`` (0: sent; 11232: rate limited), older
deployments ``StatusCode``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from digest.channels.robot import Robot
from digest.render import byte_length
from digest.subscription import ChatChannel


def request(channel: ChatChannel, title: str, text: str, now: float) -> tuple[str, dict[str, Any]]:
    body: dict[str, Any] = {
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": True},
            "header": {"title": {"tag": "plain_text", "content": title}},
            "elements": [{"tag": "markdown", "content": text}],
        },
    }
    if channel.secret:
        stamp = str(int(now))
        mac = hmac.new(f"{stamp}\n{channel.secret}".encode(), b"", hashlib.sha256).digest()
        body["timestamp"] = stamp
        body["sign"] = base64.b64encode(mac).decode("ascii")
    return channel.url, body


def read_answer(answer: Mapping[str, Any]) -> tuple[Any, str]:
    code = answer.get("code", answer.get("StatusCode", 0))
    return code, str(answer.get("msg", answer.get("StatusMessage", "")))


ROBOT = Robot(
    limit=18000,
    measure=byte_length,
    request=request,
    read_answer=read_answer,
    retry_codes=frozenset({11232}),
)
