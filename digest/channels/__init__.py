"""Channels a digest is sent over: email, a webhook, chat robots.

Every sender answers :meth:`Sender.send` with a :class:`SendResult`, never an exception:
``delivered``; ``retry`` (worth trying again later: a timeout, a refused connection, HTTP
429/5xx, an SMTP 4xx reply, a robot's rate limit); or ``failed`` (trying again will not help:
another HTTP 4xx, an SMTP 5xx reply, a rejected login or signature, a missing secret).
"""

from __future__ import annotations

from digest.channels.chat import ChatSender
from digest.channels.email import EmailSender
from digest.channels.result import Sender, SendResult
from digest.channels.webhook import WebhookSender
from digest.subscription import Channel, ChatChannel, EmailChannel, WebhookChannel


def sender_for(channel: Channel) -> Sender:
    if isinstance(channel, EmailChannel):
        return EmailSender(channel)
    if isinstance(channel, WebhookChannel):
        return WebhookSender(channel)
    if isinstance(channel, ChatChannel):
        return ChatSender(channel)
    raise TypeError(f"not a channel: {channel!r}")


__all__ = ["SendResult", "Sender", "sender_for"]
