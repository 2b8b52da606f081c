"""WeCom (企业微信) group robot.

``{"msgtype": "markdown", "markdown": {"content"}}``, at most 4096 bytes; answers HTTP 200
with ``errcode`` (0: sent; 45009: rate limited; -1: busy).
"""

from __future__ import annotations

from typing import Any

from digest.channels.robot import Robot, read_errcode
from digest.render import byte_length
from digest.subscription import ChatChannel


def request(channel: ChatChannel, title: str, text: str, now: float) -> tuple[str, dict[str, Any]]:
    return channel.url, {"msgtype": "markdown", "markdown": {"content": text}}


ROBOT = Robot(
    limit=4000,
    measure=byte_length,
    request=request,
    read_answer=read_errcode,
    retry_codes=frozenset({45009, -1}),
)
