"""One HTTP POST within a total deadline, its failures sorted into worth retrying or not.

``http.client`` on a socket watched by a :class:`Deadline`: connecting, sending and reading
the answer together take at most the channel's ``timeout_seconds``, and at most
:data:`MAX_ANSWER_BYTES` of the answer are read.  A request that was sent in full and then
ran out of time is a retry: the receiver may have it, and the next attempt carries the
same idempotency key.  No proxy is taken from the environment (nothing but the
configuration says where a digest goes).
"""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from digest.channels.deadline import Deadline
from digest.channels.result import SendResult
from httpvalues.retry_after import retry_after_seconds

log = logging.getLogger(__name__)

USER_AGENT = "govwatch/0.1 (digest)"
MAX_ANSWER_BYTES = 64 * 1024  # enough for any robot's JSON answer or an error page's start
_RETRY_STATUSES = {408, 425, 429}


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    text: str
    retry_after: float | None
    complete: bool = True  # False: the deadline cut the answer's body short


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Reply | SendResult:
    """POST ``body``; a :class:`Reply` when the server answered, else why not (a result)."""
    parts = urlsplit(url)
    where = _where(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sent = False
    status: int | None = None
    conn: http.client.HTTPConnection | None = None
    with Deadline(timeout) as deadline:
        try:
            if parts.scheme == "https":
                conn = http.client.HTTPSConnection(
                    parts.hostname or "", parts.port, timeout=timeout,
                    context=ssl.create_default_context(),
                )  # fmt: skip
            else:
                conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
            conn._create_connection = _watched(deadline)  # type: ignore[attr-defined]
            conn.connect()
            conn.putrequest("POST", target, skip_accept_encoding=True)
            all_headers = {
                "User-Agent": USER_AGENT,
                "Content-Type": "application/json; charset=utf-8",
                "Content-Length": str(len(body)),
                "Connection": "close",
                **headers,
            }
            for name, value in all_headers.items():
                conn.putheader(name, value)
            conn.endheaders(body)
            sent = True
            response = conn.getresponse()
            status = response.status
            retry_after = retry_after_seconds(response.getheader("Retry-After"))
            data = response.read(MAX_ANSWER_BYTES)
            complete = not deadline.expired
        except ssl.SSLError:
            if deadline.expired:
                return _late(where, timeout, sent)
            return SendResult("failed", 0, None, f"{where}: TLS failed (certificate?)")
        except (OSError, http.client.HTTPException) as exc:
            if status is not None and deadline.expired:  # the status came, the body did not
                return Reply(status, "", retry_after, complete=False)
            if deadline.expired or isinstance(exc, TimeoutError):
                return _late(where, timeout, sent)
            return _failure(exc, url)
        finally:
            if conn is not None:
                conn.close()
    text = data.decode(response.headers.get_content_charset() or "utf-8", "replace")
    return Reply(status, text, retry_after, complete=complete)


def _watched(deadline: Deadline) -> Callable[..., socket.socket]:
    """``socket.create_connection`` whose socket the deadline watches from the start (so a
    stalled TLS handshake is cut too); ``http.client`` connects through this hook."""

    def create(*args: Any, **kwargs: Any) -> socket.socket:
        sock = socket.create_connection(*args, **kwargs)
        deadline.watch(sock)
        return sock

    return create


def _late(where: str, timeout: float, sent: bool) -> SendResult:
    if sent:
        detail = (
            f"{where}: sent, but no full answer within {timeout:g}s (retried with the same key)"
        )
    else:
        detail = f"{where}: could not send within {timeout:g}s"
    return SendResult("retry", 0, None, detail)


def _failure(exc: OSError | http.client.HTTPException, url: str) -> SendResult:
    """Why the exchange failed, without the URL (robot URLs hold their tokens)."""
    where = _where(url)
    if isinstance(exc, socket.gaierror):
        return SendResult("retry", 0, None, f"cannot resolve {urlsplit(url).hostname}")
    if isinstance(exc, ConnectionRefusedError):
        return SendResult("retry", 0, None, f"{where} refused the connection")
    if isinstance(
        exc, ConnectionError | http.client.RemoteDisconnected | http.client.IncompleteRead
    ):
        return SendResult("retry", 0, None, f"{where} closed the connection")
    if isinstance(exc, http.client.HTTPException):
        return SendResult("failed", 0, None, f"{where}: not an HTTP answer ({type(exc).__name__})")
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
    return SendResult("retry", 0, None, f"cannot connect to {where}: {reason}")


def judge_status(reply: Reply, parts_sent: int) -> SendResult | None:
    """``None`` for a 2xx answer; else a retry (408/425/429/5xx) or a failure (the rest)."""
    status = reply.status
    if 200 <= status < 300:
        return None
    detail = f"HTTP {status}"
    snippet = _first_line(reply.text)
    if snippet:
        detail += f": {snippet}"
    if status in _RETRY_STATUSES or status >= 500:
        return SendResult("retry", parts_sent, status, detail, reply.retry_after)
    if 300 <= status < 400:
        detail += " (redirected: use the final URL in the configuration)"
    return SendResult("failed", parts_sent, status, detail)


def _where(url: str) -> str:
    """Host and port only: the path and query of robot URLs hold their tokens."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def _first_line(value: object) -> str:
    lines = str(value).strip().splitlines()
    return lines[0][:300] if lines else ""
