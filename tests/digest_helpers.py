"""Real local receivers for digest tests, and helpers that put things in the database.

- :class:`Receiver`: an HTTP server (``http.server`` in a thread) that answers POSTs from a
  script of answers and records every request (path, query, headers, body).  With
  ``kill_pid`` set it SIGKILLs that process when a request arrives, before answering: the
  sender dies after its message went out and before it could record that.
- :class:`SmtpServer`: an aiosmtpd server that records every message (optionally with
  STARTTLS and a login, answering with a scripted SMTP reply, or killing a process).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.policy
import json
import os
import signal
import socket
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import update

from storage import repository
from storage.database import Database
from storage.models import Article, Link, LinkEvent, LinkRef
from storage.records import NewArticle, RunTotals, SiteInfo

BEIJING = dt.timezone(dt.timedelta(hours=8))
UTC = dt.UTC


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- HTTP -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: str = "ok"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Received:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Answers POSTs with ``script`` (one answer per request, in order), then ``default``."""

    def __init__(self, script: Sequence[Answer] = (), default: Answer = Answer()) -> None:
        self.script = list(script)
        self.default = default
        self.requests: list[Received] = []
        self.kill_pid: int | None = None
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                parts = urlsplit(self.path)
                with receiver.arrived:
                    receiver.requests.append(
                        Received(
                            path=parts.path,
                            query=parse_qs(parts.query),
                            headers={k.lower(): v for k, v in self.headers.items()},
                            body=body,
                        )
                    )
                    answer = receiver.script.pop(0) if receiver.script else receiver.default
                    pid, receiver.kill_pid = receiver.kill_pid, None
                    receiver.arrived.notify_all()
                if pid is not None:
                    _kill(pid)
                data = answer.body.encode("utf-8")
                self.send_response(answer.status)
                for name, value in answer.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def wait_for(self, count: int, timeout: float = 20) -> None:
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(f"{len(self.requests)} requests arrived, not {count}")

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _kill(pid: int) -> None:
    """SIGKILL ``pid``: once ``os.kill`` returns it runs no more code of its own, so it cannot
    read the answer that follows (its parent, the test, reaps it)."""
    os.kill(pid, signal.SIGKILL)


# --- SMTP -------------------------------------------------------------------------------


@dataclass
class SmtpServer:
    """aiosmtpd on 127.0.0.1:``port``; ``replies`` answer DATA in order (then 250)."""

    port: int = field(default_factory=free_port)
    replies: list[str] = field(default_factory=list)
    login: tuple[str, str] | None = None
    tls: ssl.SSLContext | None = None
    kill_pid: int | None = None
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.controller: Controller | None = None
        self.arrived = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = self.replies.pop(0) if self.replies else "250 OK"
        if reply.startswith("250"):
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            with self.arrived:
                self.messages.append(message)  # type: ignore[arg-type]
                self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                self.arrived.notify_all()
        pid, self.kill_pid = self.kill_pid, None
        if pid is not None:
            _kill(pid)
        return reply

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and self.login is not None
            and (data.login.decode(), data.password.decode()) == self.login
        )
        return AuthResult(success=ok, handled=False)  # else aiosmtpd sends no 535

    def start(self) -> SmtpServer:
        kwargs: dict[str, Any] = {}
        if self.login is not None:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=self.tls is not None)
        if self.tls is not None:
            kwargs.update(tls_context=self.tls, require_starttls=True)
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **kwargs)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def wait_for(self, count: int, timeout: float = 20) -> None:
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.messages) >= count, timeout):
                raise AssertionError(f"{len(self.messages)} messages arrived, not {count}")

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def self_signed(tmp: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context for 127.0.0.1 and the PEM a client must trust for it."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = tmp / "smtp-cert.pem"
    key_pem = tmp / "smtp-key.pem"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_pem, key_pem)
    return context, cert_pem


# --- the database -----------------------------------------------------------------------


def add_site(db: Database, name: str = "ccdi", title: str = "中央纪委国家监委网站") -> int:
    with db.session() as s:
        return repository.sync_sites(s, [SiteInfo(name, title)])[name]


def add_article(
    db: Database,
    site_id: int,
    n: int,
    *,
    title: str | None = None,
    published: dt.datetime | None = None,
    body: str | None = None,
    source: str | None = "中央纪委国家监委网站",
) -> int:
    article = NewArticle(
        site_id=site_id,
        url=f"https://site{site_id}.example.gov.cn/a/{n}.html",
        fetched_url=f"http://site{site_id}.example.gov.cn/a/{n}.html",
        title=title if title is not None else f"第{n}篇 新闻标题",
        publish_time=published or dt.datetime(2026, 11, 25, 9, n % 60, tzinfo=BEIJING),
        source=source,
        author=None,
        body=body if body is not None else f"第{n}篇正文。" + "基层治理是国家治理的基石。" * 20,
    )
    with db.session() as s:
        (new_id,) = repository.store_articles(s, [article], run_id=None)
    return new_id


def mark_copy(db: Database, copy_id: int, original_id: int) -> None:
    """Record ``copy_id`` as a republished copy of ``original_id`` (what dedupe does)."""
    with db.session() as s:
        s.execute(update(Article).where(Article.id == copy_id).values(duplicate_of=original_id))


def add_link_event(
    db: Database,
    url: str,
    kind: str,
    *,
    page_url: str,
    site_id: int,
    http_status: int | None = 404,
) -> int:
    """A link on ``page_url`` (canonical) that became dead (``newly_dead``) or ``recovered``."""
    now = dt.datetime.now(UTC)
    status = "dead" if kind == "newly_dead" else "ok"
    with db.session() as s:
        link = s.query(Link).filter(Link.url == url).one_or_none()
        if link is None:
            link = Link(
                url=url,
                fetch_url=url,
                status=status,
                status_since=now,
                http_status=http_status,
                detail="",
                first_seen=now,
                last_seen=now,
                next_check_at=now,
                streak=1,
                consecutive_failures=0,
            )
            s.add(link)
            s.flush()
            s.add(
                LinkRef(
                    link_id=link.id,
                    site_id=site_id,
                    page_url=page_url,
                    kind="img",
                    text="",
                    first_seen=now,
                    last_seen=now,
                )
            )
        event = LinkEvent(
            link_id=link.id,
            kind=kind,
            status=status,
            previous_status="ok" if kind == "newly_dead" else "dead",
            http_status=http_status,
            detail=f"HTTP {http_status}" if http_status else "",
            at=now,
        )
        s.add(event)
        s.flush()
        return event.id


def add_run(db: Database, site_id: int, outcome: str, message: str = "", found: int = 0) -> None:
    with db.session() as s:
        run = repository.start_run(s, site_id)
        repository.finish_run(
            s, run, RunTotals(articles_found=found), outcome=outcome, message=message
        )


def digest_toml(name: str, smtp: SmtpServer, schedule: str, timeout: float = 5.0) -> str:
    return f"""
[[digests]]
name = "{name}"
schedule = "{schedule}"
[[digests.channels]]
type = "email"
host = "127.0.0.1"
port = {smtp.port}
security = "none"
from = "govwatch <gw@example.org>"
to = ["a@example.org"]
timeout_seconds = {timeout}
"""
