"""DingTalk (钉钉) custom robot.

``{"msgtype": "markdown", "markdown": {"title", "text"}}``; with 加签, ``timestamp`` (ms) and
``sign`` = base64(HMAC-SHA256(key secret, "timestamp\\nsecret")) go in the query string.
Answers HTTP 200 with ``errcode`` (0: sent; 130101: too fast; -1: busy).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import quote

from digest.channels.robot import Robot, read_errcode
from digest.render import byte_length
from digest.subscription import ChatChannel


def request(channel: ChatChannel, title: str, text: str, now: float) -> tuple[str, dict[str, Any]]:
    url = channel.url
    if channel.secret:
        stamp = str(int(now * 1000))
        mac = hmac.new(
            channel.secret.encode("utf-8"), f"{stamp}\n{channel.secret}".encode(), hashlib.sha256
        ).digest()
        sign = quote(base64.b64encode(mac).decode("ascii"), safe="")
        url += ("&" if "?" in url else "?") + f"timestamp={stamp}&sign={sign}"
    return url, {"msgtype": "markdown", "markdown": {"title": title, "text": text}}


ROBOT = Robot(
    limit=18000,
    measure=byte_length,
    request=request,
    read_answer=read_errcode,
    retry_codes=frozenset({130101, -1}),
)
