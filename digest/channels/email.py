"""Email over SMTP: one multipart message (plain text and HTML) to every recipient.

The ``Message-ID`` is made from the delivery's idempotency key, so a message sent again after
a crash carries the same id (mail systems and readers can drop the second copy), and the key
is repeated in ``X-Govwatch-Idempotency-Key``.

The service sends digests in its own long-lived process, so a send allocates nothing that
stays: the TLS context (which loads the CA store) is made only for a TLS connection and once
per CA file, the MIME boundary is chosen here, in the standard library's format, since
``email.generator`` would compile (and cache) a regular expression for every boundary it
makes, and the message's policy makes one class per header name, not one per header set.
"""

from __future__ import annotations

import random
import smtplib
import socket
import ssl
import sys
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from digest.channels.deadline import Deadline
from digest.channels.result import SendResult
from digest.records import Digest
from digest.render import render_html, render_text, subject
from digest.subscription import EmailChannel

KEY_HEADER = "X-Govwatch-Idempotency-Key"


class _WatchedSMTP(smtplib.SMTP):
    """SMTP whose socket (also after STARTTLS) is shut down when the deadline passes."""

    deadline: Deadline

    def __init__(self, deadline: Deadline, *args: Any, **kwargs: Any) -> None:
        self.deadline = deadline  # before the constructor connects
        super().__init__(*args, **kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = super()._get_socket(host, port, timeout)  # type: ignore[misc]
        self.deadline.watch(sock)  # the plain socket: a stalled TLS handshake is cut too
        return sock

    def starttls(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        reply = super().starttls(*args, **kwargs)
        self.deadline.watch(self.sock)
        return reply


class _WatchedSMTPSSL(smtplib.SMTP_SSL, _WatchedSMTP):
    """SMTP_SSL wraps the socket that :class:`_WatchedSMTP` made and watches."""

    def __init__(self, deadline: Deadline, *args: Any, **kwargs: Any) -> None:
        self.deadline = deadline
        smtplib.SMTP_SSL.__init__(self, *args, **kwargs)


class _HeaderClasses(HeaderRegistry):
    """The standard registry, making one class per header name instead of one per header.

    ``HeaderRegistry.__getitem__`` calls ``type()`` each time a header is set or read, and a
    class is always in a reference cycle: building and writing one digest's message left 29
    classes (~70 kB with their dicts) for the cyclic collector, which in a long-lived service
    they outlive into its rarely run oldest generation.  The names are the few headers a
    digest's message has, so the cache stays small."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes.setdefault(key, super().__getitem__(name))
        return cls


_POLICY = default_policy.clone(header_factory=_HeaderClasses())


def build_message(channel: EmailChannel, digest: Digest, key: str) -> EmailMessage:
    message = EmailMessage(policy=_POLICY)
    message["Subject"] = subject(digest)
    message["From"] = channel.sender
    message["To"] = ", ".join(channel.recipients)
    message["Date"] = format_datetime(digest.generated_at)
    message["Message-ID"] = f"<{key}@govwatch>"
    message[KEY_HEADER] = key
    text, html = render_text(digest, key), render_html(digest, key)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    message.set_boundary(_boundary(text, html))
    return message


def _boundary(*parts: str) -> str:
    """A boundary as ``email.generator`` makes them, not found in the parts' text.

    Checked on the unencoded text: base64 and quoted-printable never produce a run of ``=``
    followed by digits, so the encoded parts cannot hold it either.
    """
    while True:
        boundary = f"{'=' * 15}{random.randrange(sys.maxsize):019d}=="
        if not any(boundary in part for part in parts):
            return boundary


def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    """One TLS context per CA file (and version of it on disk) for the process: contexts
    are safe to share, and a CA file replaced in place is read again."""
    try:
        version = Path(ca_file).stat().st_mtime_ns if ca_file else 0
    except OSError:
        version = -1  # create_default_context reports the missing file
    return _context_for(ca_file, version)


@lru_cache(maxsize=8)
def _context_for(ca_file: str | None, _version: int) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file)


class EmailSender:
    def __init__(self, channel: EmailChannel) -> None:
        self.channel = channel

    def send(self, digest: Digest, key: str, parts_sent: int) -> SendResult:
        channel = self.channel
        if channel.password_env and channel.password is None:
            return SendResult(
                "failed", 0, None, f"environment variable {channel.password_env} is not set"
            )
        message = build_message(channel, digest, key)
        where = f"{channel.host}:{channel.port}"
        deadline = Deadline(channel.timeout_seconds)
        try:
            with deadline:
                refused = _exchange(channel, message, deadline)
        except (smtplib.SMTPException, OSError) as exc:
            if deadline.expired:  # cut off at the deadline, whatever the error looked like
                return SendResult(
                    "retry",
                    0,
                    None,
                    f"{where}: no answer within {channel.timeout_seconds:g}s (retried with the "
                    "same Message-ID)",
                )
            return _judge_error(exc, where, channel.timeout_seconds)
        if refused:
            detail = "; ".join(f"{r}: {c} {_text(m)}" for r, (c, m) in refused.items())
            return SendResult("delivered", 1, 250, f"some recipients refused: {detail}")
        return SendResult("delivered", 1, 250)


def _exchange(channel: EmailChannel, message: EmailMessage, deadline: Deadline) -> Any:
    """Connect, say hello, STARTTLS, log in and send: the recipients refused (if any)."""
    smtp: _WatchedSMTP | _WatchedSMTPSSL
    if channel.security == "ssl":
        context = _tls_context(channel.ca_file)
        smtp = _WatchedSMTPSSL(
            deadline, channel.host, channel.port, timeout=channel.timeout_seconds, context=context
        )
    else:
        smtp = _WatchedSMTP(deadline, channel.host, channel.port, timeout=channel.timeout_seconds)
    with smtp:
        if channel.security == "starttls":
            smtp.starttls(context=_tls_context(channel.ca_file))
        if channel.username:
            smtp.login(channel.username, channel.password or "")
        return smtp.send_message(message)


def _judge_error(error: smtplib.SMTPException | OSError, where: str, timeout: float) -> SendResult:
    """An SMTP or network error as a result: 4xx and dropped connections retry."""
    try:
        raise error
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        outcome = "retry" if any(400 <= c < 500 for c in codes) else "failed"
        detail = "; ".join(f"{r}: {c} {_text(m)}" for r, (c, m) in exc.recipients.items())
        return SendResult(outcome, 0, codes[0] if codes else None, f"refused: {detail}")
    except smtplib.SMTPAuthenticationError as exc:
        return SendResult(
            "failed", 0, exc.smtp_code, f"{where} refused the login: {_text(exc.smtp_error)}"
        )
    except smtplib.SMTPResponseException as exc:
        outcome = "retry" if 400 <= exc.smtp_code < 500 else "failed"
        return SendResult(
            outcome,
            0,
            exc.smtp_code,
            f"{where} answered {exc.smtp_code} {_text(exc.smtp_error)}",
        )
    except smtplib.SMTPServerDisconnected as exc:
        return SendResult("retry", 0, None, f"{where} closed the connection: {exc}")
    except smtplib.SMTPException as exc:  # no STARTTLS / AUTH support, and the like
        return SendResult("failed", 0, None, f"{where}: {exc}")
    except ssl.SSLCertVerificationError as exc:
        return SendResult("failed", 0, None, f"{where}: certificate not trusted: {exc}")
    except ssl.SSLError as exc:
        return SendResult("failed", 0, None, f"{where}: TLS failed (port and security?): {exc}")
    except TimeoutError:
        return SendResult("retry", 0, None, f"{where}: no answer within {timeout:g}s")
    except OSError as exc:
        return SendResult("retry", 0, None, f"cannot connect to {where}: {exc}")
    return SendResult("failed", 0, None, f"{where}: {error}")  # not reached


def _text(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return " ".join(text.split())
