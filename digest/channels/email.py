"""Email over SMTP: one multipart message (plain text and HTML) to every recipient.

The ``Message-ID`` is made from the delivery's idempotency key, so a message sent again after
a crash carries the same id (mail systems and readers can drop the second copy), and the key
is repeated in ``X-Govwatch-Idempotency-Key``.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import format_datetime
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


def build_message(channel: EmailChannel, digest: Digest, key: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject(digest)
    message["From"] = channel.sender
    message["To"] = ", ".join(channel.recipients)
    message["Date"] = format_datetime(digest.generated_at)
    message["Message-ID"] = f"<{key}@govwatch>"
    message[KEY_HEADER] = key
    message.set_content(render_text(digest, key))
    message.add_alternative(render_html(digest, key), subtype="html")
    return message


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
    context = ssl.create_default_context(cafile=channel.ca_file)
    smtp: _WatchedSMTP | _WatchedSMTPSSL
    if channel.security == "ssl":
        smtp = _WatchedSMTPSSL(
            deadline, channel.host, channel.port, timeout=channel.timeout_seconds, context=context
        )
    else:
        smtp = _WatchedSMTP(deadline, channel.host, channel.port, timeout=channel.timeout_seconds)
    with smtp:
        if channel.security == "starttls":
            smtp.starttls(context=context)
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
