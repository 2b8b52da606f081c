"""The receiving side of signed digests, written from the documented recipes, not from
govwatch's code: the README's webhook recipe, DingTalk's 加签 and Feishu's 签名校验
documentation.  HMAC is built here from RFC 2104 over ``hashlib.sha256`` (checked against
RFC 4231's published vectors in ``tests/test_signatures.py``), so a wrong formula in
``digest.channels`` cannot agree with it by sharing code."""

from __future__ import annotations

import base64
import hashlib
import re
import time

from tests.conftest import REPO
from tests.digest_helpers import Received

_BLOCK = 64  # SHA-256's block size in bytes


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """RFC 2104: H((K' ^ opad) || H((K' ^ ipad) || m)), K' the key hashed if longer than a
    block, then padded with zeros to one block."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key) + message).digest()
    return hashlib.sha256(bytes(b ^ 0x5C for b in key) + inner).digest()


def readme_webhook_recipe() -> tuple[str, str]:
    """The signature header's name and value prefix, as the README documents them:
    ``X-Govwatch-Signature: sha256=HEX``, the hex HMAC-SHA256 of the raw body keyed with
    the secret."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(
        r"`([A-Za-z-]+): (sha256=)HEX`, the hex\s+HMAC-SHA256 of the raw body keyed with the "
        r"secret",
        readme,
    )
    assert match, "the README no longer documents the webhook signature recipe"
    return match.group(1), match.group(2)


def webhook_signature_ok(request: Received, secret: str) -> bool:
    name, prefix = readme_webhook_recipe()
    given = request.headers.get(name.lower(), "")
    expected = prefix + hmac_sha256(secret.encode("utf-8"), request.body).hex()
    return given == expected


def dingtalk_signature_ok(request: Received, secret: str, now: float | None = None) -> bool:
    """DingTalk custom robot 加签: ``timestamp`` (ms, within an hour of now) and ``sign`` =
    urlencode(base64(HmacSHA256(key=secret, "timestamp\\nsecret"))) in the query string
    (``request.query`` is already URL-decoded)."""
    (stamp,) = request.query.get("timestamp", [""])
    (sign,) = request.query.get("sign", [""])
    if not stamp.isdigit() or abs(int(stamp) / 1000 - (now or time.time())) > 3600:
        return False
    mac = hmac_sha256(secret.encode("utf-8"), f"{stamp}\n{secret}".encode())
    return sign == base64.b64encode(mac).decode("ascii")


def feishu_signature_ok(body: dict[str, object], secret: str, now: float | None = None) -> bool:
    """Feishu custom bot 签名校验: ``timestamp`` (s, within an hour of now) and ``sign`` =
    base64(HmacSHA256(key="timestamp\\nsecret", empty message)) in the JSON body."""
    stamp, sign = str(body.get("timestamp", "")), body.get("sign")
    if not stamp.isdigit() or abs(int(stamp) - (now or time.time())) > 3600:
        return False
    mac = hmac_sha256(f"{stamp}\n{secret}".encode(), b"")
    return sign == base64.b64encode(mac).decode("ascii")
