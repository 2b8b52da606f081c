"""Slack incoming webhook: ``{"text"}`` in mrkdwn, at most ~4000 characters per message;
answers ``ok``, and errors with an HTTP 4xx/5xx status (429 with ``Retry-After``)."""

from __future__ import annotations

from typing import Any

from digest.channels.robot import Robot
from digest.subscription import ChatChannel


def request(channel: ChatChannel, title: str, text: str, now: float) -> tuple[str, dict[str, Any]]:
    return channel.url, {"text": text, "mrkdwn": True}


ROBOT = Robot(limit=3900, measure=len, request=request, read_answer=None)
