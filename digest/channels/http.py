"""One HTTP POST with a timeout, its failures sorted into worth retrying or not."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests

from digest.channels.result import SendResult

log = logging.getLogger(__name__)

USER_AGENT = "govwatch/0.1 (digest)"
_RETRY_STATUSES = {408, 425, 429}


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    text: str
    retry_after: float | None


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Reply | SendResult:
    """POST ``body``; a :class:`Reply` when the server answered, else why not (a result)."""
    all_headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json; charset=utf-8"}
    all_headers.update(headers)
    try:
        with requests.Session() as session:
            response = session.post(
                url, data=body, headers=all_headers, timeout=timeout, allow_redirects=False
            )
            text = response.text[:2000]
    except requests.Timeout:
        return SendResult("retry", 0, None, f"{_where(url)}: no answer within {timeout:g}s")
    except requests.exceptions.SSLError:
        return SendResult("failed", 0, None, f"{_where(url)}: TLS failed (certificate?)")
    except requests.ConnectionError as exc:
        return SendResult("retry", 0, None, _connection_problem(exc, url))
    except requests.RequestException as exc:
        return SendResult("failed", 0, None, f"cannot send to {_where(url)}: {type(exc).__name__}")
    return Reply(response.status_code, text, _retry_after(response.headers.get("Retry-After")))


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


def _connection_problem(exc: requests.ConnectionError, url: str) -> str:
    """Why a connection failed, without requests' message (it repeats the URL and its token)."""
    text = str(exc)
    where = _where(url)
    if "NameResolutionError" in text or "Failed to resolve" in text:
        return f"cannot resolve {urlsplit(url).hostname}"
    if "Connection refused" in text:
        return f"{where} refused the connection"
    if "Connection reset" in text or "RemoteDisconnected" in text or "aborted" in text:
        return f"{where} closed the connection"
    if "SSL" in text or "certificate" in text:
        return f"{where}: TLS failed"
    return f"cannot connect to {where}"


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _first_line(value: object) -> str:
    lines = str(value).strip().splitlines()
    return lines[0][:300] if lines else ""
