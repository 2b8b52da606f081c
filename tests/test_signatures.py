"""Signed digests verified by the receiving side written from the documented recipes
(``tests/signature_check.py``), never by govwatch's own signing code.  The verifier is
itself checked against RFC 4231's published HMAC-SHA256 vectors and the OpenSSL command
line, and shown to refuse a wrong secret, a changed body and a stale timestamp."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from digest.subscription import ChatChannel, WebhookChannel
from storage.database import Database
from tests.digest_helpers import Answer, Received, Receiver
from tests.signature_check import (
    dingtalk_signature_ok,
    feishu_signature_ok,
    hmac_sha256,
    readme_webhook_recipe,
    webhook_signature_ok,
)
from tests.test_digest_delivery import ROBOT_OK, fill, start, sub

SECRET = "s3cret-签名-key"

# RFC 4231 §4: HMAC-SHA-256 test cases 1, 2 and 6 (a key longer than the block)
RFC4231 = [
    (
        b"\x0b" * 20,
        b"Hi There",
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    ),
    (
        b"Jefe",
        b"what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    (
        b"\xaa" * 131,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
]


@pytest.mark.parametrize(("key", "message", "digest"), RFC4231)
def test_the_verifier_computes_rfc4231_vectors(key: bytes, message: bytes, digest: str) -> None:
    assert hmac_sha256(key, message).hex() == digest


def test_the_verifier_agrees_with_openssl() -> None:
    body = os.urandom(3000)
    result = subprocess.run(
        ["openssl", "dgst", "-sha256", "-mac", "HMAC", "-macopt", f"key:{SECRET}", "-hex"],
        input=body,
        capture_output=True,
        check=True,
    )
    assert result.stdout.decode().split()[-1] == hmac_sha256(SECRET.encode(), body).hex()


def delivered(db: Database, channel_of: Any, answer: str = "") -> Received:
    fill(db)
    with Receiver(default=Answer(200, answer)) as receiver:
        (report,) = start(db, sub(channel_of(receiver)), datetime.now(UTC))
        assert report.outcome == "delivered", report.error
    (request,) = receiver.requests
    return request


def test_a_webhook_receiver_following_the_readme_accepts_the_signature(db: Database) -> None:
    name, prefix = readme_webhook_recipe()
    request = delivered(db, lambda r: WebhookChannel("webhook", r.url(), secret=SECRET))
    assert request.headers[name.lower()].startswith(prefix)
    assert webhook_signature_ok(request, SECRET)
    assert not webhook_signature_ok(request, SECRET + "x")  # another secret
    changed = Received(request.path, request.query, request.headers, request.body + b" ")
    assert not webhook_signature_ok(changed, SECRET)  # the body changed on the way


def test_an_unsigned_webhook_carries_no_signature(db: Database) -> None:
    name, _ = readme_webhook_recipe()
    request = delivered(db, lambda r: WebhookChannel("webhook", r.url()))
    assert name.lower() not in request.headers
    assert not webhook_signature_ok(request, SECRET)


def test_a_dingtalk_robot_accepts_the_signature(db: Database) -> None:
    request = delivered(
        db,
        lambda r: ChatChannel(
            "dingtalk", "dingtalk", r.url("/robot/send?access_token=t"), secret=SECRET
        ),
        ROBOT_OK["dingtalk"],
    )
    assert request.query["access_token"] == ["t"]
    assert dingtalk_signature_ok(request, SECRET)
    assert not dingtalk_signature_ok(request, "another")
    assert not dingtalk_signature_ok(request, SECRET, now=time.time() + 7200)  # stale


def test_a_feishu_bot_accepts_the_signature(db: Database) -> None:
    request = delivered(
        db,
        lambda r: ChatChannel("feishu", "feishu", r.url("/open-apis/bot/v2/hook/x"), secret=SECRET),
        ROBOT_OK["feishu"],
    )
    body = request.json()
    assert feishu_signature_ok(body, SECRET)
    assert not feishu_signature_ok(body, "another")
    assert not feishu_signature_ok(body, SECRET, now=time.time() + 7200)
