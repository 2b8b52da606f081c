"""Digest sends have a total deadline (issue 11, item 5), against real servers that stall.

- a webhook that reads the whole request and then drips its answer one byte at a time;
- a chat robot that answers its status at once and drips the body;
- an aiosmtpd server that takes the message and never answers the end of DATA.

Each send comes back within its ``timeout_seconds`` (plus a margin), as ``retrying`` with
the same idempotency key, and the next attempt delivers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from digest import outbox
from digest.channels import sender_for
from digest.channels.http import MAX_ANSWER_BYTES, Reply, post
from digest.records import Digest
from digest.subscription import ChatChannel, WebhookChannel
from storage.database import Database
from tests.conftest import run_cli
from tests.digest_helpers import SmtpServer
from tests.test_digest_delivery import attempts, deliveries, email_channel, fill, start, sub

TIMEOUT = 1.0
MARGIN = 1.5  # thread start-up and a loaded machine


class Dripper:
    """An HTTP server on a raw socket: reads one request (headers and body), then sends
    ``answer`` one byte every ``pause`` seconds, until the client goes or ``stop()``.
    After ``drip_times`` requests it answers at once."""

    def __init__(
        self, answer: bytes, pause: float = 0.2, drip_times: int = 1, at_once: int = 0
    ) -> None:
        self.answer = answer
        self.at_once = at_once  # bytes sent before the drip starts
        self.pause = pause
        self.drip_times = drip_times
        self.requests: list[tuple[bytes, bytes]] = []  # (head, body)
        self.stopped = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self._one(conn)

    def _one(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            body += conn.recv(65536)
        self.requests.append((head, body))
        drip = len(self.requests) <= self.drip_times
        try:
            if not drip:
                conn.sendall(self.answer)
                return
            conn.sendall(self.answer[: self.at_once])
            for i in range(self.at_once, len(self.answer)):
                conn.sendall(self.answer[i : i + 1])
                if self.stopped.wait(self.pause):
                    return
        except OSError:  # the client hung up: what a deadline does
            return

    def stop(self) -> None:
        self.stopped.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (Linux)
        self.sock.close()
        self.thread.join(timeout=5)


@pytest.fixture
def dripper() -> Iterator[Any]:
    made: list[Dripper] = []

    def make(answer: bytes, **kwargs: Any) -> Dripper:
        server = Dripper(answer, **kwargs)
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()


def _answer(status: str, body: bytes, content_type: str = "text/plain") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


def test_a_dripping_webhook_is_retried_with_the_same_key(db: Database, dripper: Any) -> None:
    fill(db)
    server = dripper(_answer("200 OK", b"ok" * 100))  # 230 bytes: 46 s at 0.2 s a byte
    subscription = sub(WebhookChannel("webhook", server.url(), timeout_seconds=TIMEOUT))
    t0 = datetime.now(UTC)
    began = time.monotonic()
    (first,) = start(db, subscription, t0)
    took = time.monotonic() - began
    assert took < TIMEOUT + MARGIN, f"the send took {took:.1f}s with a {TIMEOUT}s deadline"
    assert first.outcome == "retry", first
    assert "sent, but no full answer within 1s" in first.error
    (second,) = outbox.deliver_due(db, [subscription], now=t0 + timedelta(minutes=2))
    assert second.outcome == "delivered"
    (one_head, one_body), (two_head, two_body) = server.requests
    key = f"idempotency-key: {first.key}".encode()
    assert key in one_head.lower() and key in two_head.lower()  # the receiver can dedupe
    assert one_body == two_body
    (delivery,) = deliveries(db)
    assert (delivery.state, delivery.attempts) == ("delivered", 2)
    assert [a.outcome for a in attempts(db, delivery.id)] == ["retry", "delivered"]


def test_a_robot_whose_answer_body_drips_is_retried(db: Database, dripper: Any) -> None:
    fill(db)
    body = b'{"errcode": 0, "errmsg": "ok"}' + b" " * 200
    answer = _answer("200 OK", body, "application/json")
    server = dripper(answer, at_once=answer.index(b"\r\n\r\n") + 4)  # the head at once
    channel = ChatChannel("dingtalk", "dingtalk", server.url(), timeout_seconds=TIMEOUT)
    subscription = sub(channel)
    t0 = datetime.now(UTC)
    began = time.monotonic()
    (first,) = start(db, subscription, t0)
    assert time.monotonic() - began < TIMEOUT + MARGIN
    assert first.outcome == "retry", first
    (second,) = outbox.deliver_due(db, [subscription], now=t0 + timedelta(minutes=2))
    assert second.outcome == "delivered", second


def test_an_answer_is_read_up_to_a_bound(dripper: Any) -> None:
    huge = b"x" * (MAX_ANSWER_BYTES * 8)
    server = dripper(_answer("500 Oops", huge), drip_times=0)
    reply = post(server.url(), b"{}", {}, 5.0)
    assert isinstance(reply, Reply)
    assert reply.status == 500 and reply.complete
    assert len(reply.text) <= MAX_ANSWER_BYTES


class StallingSmtp(SmtpServer):
    """Takes the whole message, then does not answer the end of DATA until released."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.release = threading.Event()
        self.stalls = 1

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.stalls:
            self.stalls -= 1
            self.data_seen = envelope.content
            while not self.release.is_set():  # an event on another thread: poll it
                await asyncio.sleep(0.05)
        return await super().handle_DATA(server, session, envelope)


def test_a_stalling_smtp_server_is_retried_with_the_same_message_id(db: Database) -> None:
    fill(db)
    smtp = StallingSmtp()
    with smtp:
        subscription = sub(email_channel(smtp, timeout_seconds=TIMEOUT))
        t0 = datetime.now(UTC)
        began = time.monotonic()
        (first,) = start(db, subscription, t0)
        took = time.monotonic() - began
        smtp.release.set()
        assert took < TIMEOUT + MARGIN, f"the send took {took:.1f}s with a {TIMEOUT}s deadline"
        assert first.outcome == "retry", first
        assert "no answer within 1s" in first.error
        assert f"<{first.key}@govwatch>".encode() in smtp.data_seen  # it had the message
        (second,) = outbox.deliver_due(db, [subscription], now=t0 + timedelta(minutes=2))
        assert second.outcome == "delivered", second
    ids = {m["Message-ID"] for m in smtp.messages}
    assert ids == {f"<{first.key}@govwatch>"}


def test_a_server_that_never_finishes_the_tls_handshake_is_cut_at_the_deadline(
    dripper: Any,
) -> None:
    """The deadline watches the plain socket from the start: TLS cannot stall it either."""
    silent = dripper(b"")  # reads, never answers: a ClientHello gets no ServerHello
    began = time.monotonic()
    result = post(f"https://127.0.0.1:{silent.port}/hook", b"{}", {}, TIMEOUT)
    assert time.monotonic() - began < TIMEOUT + MARGIN
    assert not isinstance(result, Reply) and result.outcome == "retry", result
    assert "could not send within 1s" in result.error

    channel = email_channel(SmtpServer(port=silent.port), security="ssl", timeout_seconds=TIMEOUT)
    began = time.monotonic()
    sent = sender_for(channel).send(_digest(), "daily-1-email-k", 0)
    assert time.monotonic() - began < TIMEOUT + MARGIN
    assert sent.outcome == "retry" and "no answer within 1s" in sent.error, sent


def _digest() -> Digest:
    return Digest(
        subscription="daily",
        after_article_id=0,
        upto_article_id=0,
        after_link_event_id=0,
        upto_link_event_id=0,
        generated_at=datetime.now(UTC),
        articles=(),
        dead_links=(),
        recovered_links=(),
        crawl_health=(),
    )


def test_digest_send_against_a_dripping_webhook_ends_at_its_deadline(
    tmp_path: Path, dripper: Any
) -> None:
    """The issue's case, as users run it: ``govwatch digest NAME --send`` in a process."""
    server = dripper(_answer("200 OK", b"ok" * 100))
    config = tmp_path / "govwatch.toml"
    config.write_text(
        f"""
[database]
url = "sqlite:///{tmp_path / "gw.db"}"

[[digests]]
name = "daily"
retry_backoff_seconds = 0.001
[[digests.channels]]
type = "webhook"
url = "{server.url()}"
timeout_seconds = 1
""",
        encoding="utf-8",
    )
    began = time.monotonic()
    sent = run_cli("--config", str(config), "digest", "daily", "--send", timeout=60)
    took = time.monotonic() - began
    assert sent.returncode == 1, sent.stdout + sent.stderr
    assert "sent, but no full answer within 1s" in sent.stdout, sent.stdout
    assert took < 15, f"digest --send took {took:.1f}s with a 1s deadline"  # process start-up
    status = run_cli("--config", str(config), "digest", "daily", "--status")
    assert "retrying" in status.stdout, status.stdout
    due = run_cli("--config", str(config), "digest", "daily", "--due")
    assert due.returncode == 0, due.stdout + due.stderr
    assert "delivered" in run_cli("--config", str(config), "digest", "daily", "--status").stdout
    (one, _), (two, _) = server.requests
    keys = [line for head in (one, two) for line in head.split(b"\r\n") if line.startswith(b"Idem")]
    assert len(keys) == 2 and keys[0] == keys[1]
