"""The generic webhook: the digest as JSON, with an idempotency key and an HMAC signature.

Headers: ``Idempotency-Key`` (the same on every retry of one delivery: receivers drop a
second request with a key they have seen), and, when a secret is configured,
``X-Govwatch-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>``.
The payload is documented in the README.
"""

from __future__ import annotations

import hashlib
import hmac

from digest.channels.http import Reply, judge_status, post
from digest.channels.result import SendResult
from digest.records import Digest
from digest.render import payload_bytes
from digest.subscription import WebhookChannel

SIGNATURE_HEADER = "X-Govwatch-Signature"


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WebhookSender:
    def __init__(self, channel: WebhookChannel) -> None:
        self.channel = channel

    def send(self, digest: Digest, key: str, parts_sent: int) -> SendResult:
        channel = self.channel
        if not channel.url:
            return SendResult(
                "failed", 0, None, f"environment variable {channel.url_env} is not set"
            )
        if channel.secret_env and not channel.secret:
            return SendResult(
                "failed", 0, None, f"environment variable {channel.secret_env} is not set"
            )
        body = payload_bytes(digest, key)
        headers = {"Idempotency-Key": key}
        if channel.secret:
            headers[SIGNATURE_HEADER] = signature(channel.secret, body)
        reply = post(channel.url, body, headers, channel.timeout_seconds)
        if not isinstance(reply, Reply):
            return reply
        return judge_status(reply, 0) or SendResult("delivered", 1, reply.status)
