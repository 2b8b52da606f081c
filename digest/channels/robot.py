"""What a chat group robot is to :class:`digest.channels.chat.ChatSender`: one small interface.

A robot module (``dingtalk``, ``wecom``, ``feishu``, ``slack``) declares one :class:`Robot`:
how big one message may be, the request that carries one message, and how to read the
robot's answer.  Sending, splitting, resuming after a sent part and sorting failures into
retry or failed are the sender's, the same for every robot.

Hand-written rather than through Apprise: it cannot tell a retry from a failure, honour
``Retry-After``, resume after a sent part, or keep an idempotency key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from digest.subscription import ChatChannel

# (channel, message title, message text, now in Unix seconds) -> (URL, JSON body)
BuildRequest = Callable[[ChatChannel, str, str, float], tuple[str, dict[str, Any]]]
# a JSON answer -> (error code, or None / 0 for "sent"; the robot's message)
ReadAnswer = Callable[[Mapping[str, Any]], tuple[Any, str]]


@dataclass(frozen=True, slots=True)
class Robot:
    """One chat service's robot."""

    limit: int  # one message's size, as ``measure`` counts it, with room for the JSON
    measure: Callable[[str], int]  # bytes or characters, as the service counts
    request: BuildRequest
    read_answer: ReadAnswer | None  # None: errors come as HTTP statuses only
    retry_codes: frozenset[int] = frozenset()  # error codes that mean "too fast, try later"


def read_errcode(answer: Mapping[str, Any]) -> tuple[Any, str]:
    """``{"errcode": 0, "errmsg": "ok"}``: DingTalk's and WeCom's answer."""
    return answer.get("errcode", 0), str(answer.get("errmsg", ""))
