"""The one test site server: static pages plus named routes for network edge cases.

Like Scrapy's ``tests/mockserver``, but standard library only: a ``ThreadingHTTPServer``
on 127.0.0.1 (port chosen by the OS) in a daemon thread, speaking HTTP/1.1 with
keep-alive. Serve a built fake site and hit the named routes by path::

    site = build_ccdi_site()
    with SiteServer(site.pages) as srv:
        crawl(srv.url(site.start_path))
        assert srv.count("/dead-embed/") == 1

A request is answered from ``pages`` (path with query string first, then without), then
from the built-in routes below, else with nginx's 404 page:

=============================  ===========================================================
``/status/{code}``             that status (200-599), small body; 404/410 as nginx writes
                               them; 420 is ccdi's "too many requests"
``/redirect?to=PATH``          302 to PATH (``/redirect301?to=PATH``: 301)
``/redirect-loop/a``, ``/b``   302 to each other, for ever
``/slow?ms=N``                 200 after N ms (at most 10 s)
``/flaky/{name}?fail=K``       503 for the first K requests to that name, then 200
``/drop``                      closes the connection without a response
``/partial``                   promises 1024 bytes, sends 10, closes the connection
``/challenge``                 200 ccdi JS cookie challenge (sets ``HOY_TR``, reloads)
``/captcha``                   200 slider-captcha page (``captchaPage``, seccaptcha.haplat.net)
``/soft404``                   200 "您访问的页面不存在或已被删除"
``/lying-charset/gbk``         GBK bytes; header and meta say utf-8
``/lying-charset/utf8``        UTF-8 bytes; meta says gb2312, header has no charset
=============================  ===========================================================

Guarded modes, two hooks:

- ``SiteServer(pages, guard=...)`` (or ``srv.guard = ...`` while serving): a callable given
  every request's path (with query) and headers (lower-cased names), answering before
  everything else with a :class:`Page`, or ``None`` to let the request through.  The
  JavaScript challenge (b) (``tests.sitegen_challenge.ChallengeGate``) and the captcha
  interstitial and throttling guards (c) (``tests.sitegen_captcha``) are such callables.
- ``SiteServer(pages, guards=[...])`` (``tests.sitegen_guarded``): guards that also dress the
  pages they serve and see each request end, standing in front of the paths under their
  prefix: (a) :class:`CcdiGuard`, ccdi's cookie guard (inline ``HOY_TR``/``HBB_HC`` scripts
  on every page; 412 without the rewritten cookie after a client's first request; 420 on
  overlapping requests).

Every logged request has its time (``Logged.at``) and ``Host`` (``Logged.host``).

A 200 page with an ``ETag`` or ``Last-Modified`` header answers a matching
``If-None-Match`` / ``If-Modified-Since`` (not older than Last-Modified) with 304.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.sitegen_ccdi import CcdiSite, build_ccdi_site
from tests.sitegen_common import NGINX_404, FakeArticle, Page
from tests.sitegen_cq import CqSite, build_cq_site
from tests.sitegen_guarded import CcdiGuard, Guard

__all__ = [
    "NGINX_404",
    "CcdiGuard",
    "CcdiSite",
    "CqSite",
    "FakeArticle",
    "Guard",
    "Logged",
    "Page",
    "SiteServer",
    "build_ccdi_site",
    "build_cq_site",
    "captcha_page",
    "challenge_page",
    "error_page",
    "soft404_page",
]

MAX_SLOW_MS = 10_000
# Status lines as nginx writes them where they differ from http.HTTPStatus (420 is ccdi's).
_REASONS = {
    302: "Moved Temporarily",
    420: "Enhance Your Calm",
    503: "Service Temporarily Unavailable",
}
_NO_BODY = frozenset({204, 304})


@dataclass(frozen=True, slots=True)
class Logged:
    """One request served. ``headers`` keys are lower-cased; ``status`` 0 = no response."""

    method: str
    path: str  # with the query string
    headers: dict[str, str]
    status: int
    at: float = 0.0  # time.monotonic() when it was answered

    @property
    def host(self) -> str:
        return self.headers.get("host", "")

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


def error_page(status: int) -> Page:
    """The page nginx writes for an error status (its exact 404 page for 404)."""
    if status == 404:
        return Page(body=NGINX_404, status=404, content_type="text/html")
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = _REASONS.get(status, "")
    title = f"{status} {reason}".strip()
    if status == 503:
        title = f"503 {_REASONS[503]}"  # nginx's wording
    body = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    return Page(body=body.encode(), status=status, content_type="text/html")


def challenge_page() -> Page:
    """ccdi's anti-bot answer: a 200 page whose script sets ``HOY_TR`` and reloads."""
    body = """<!DOCTYPE html>
<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title></title></head>
<body>
<script type="text/javascript">
var _0x1c2d = ["HOY_TR", "max-age", "_self"];
document.cookie = "HOY_TR=GHJKMNPRSTWXYZabcdefhijkmnprstwxyz2345678,3f1a9c0b7e5d2486,"
  + "a13f0b9c7d2e4856; max-age=31536000; path=/";
window.open(window.location.href, "_self");
</script>
</body></html>
"""
    return Page(body=body.encode())


def captcha_page() -> Page:
    """ccdi's slider captcha ("访问行为存在异常"), served with status 200."""
    body = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>安全验证</title>
<link rel="stylesheet" href="https://seccaptcha.haplat.net/css/captcha.css">
</head>
<body>
<div id="captchaPage" class="captchaPage">
  <div class="captcha-title">访问行为存在异常，请完成下方验证后继续访问</div>
  <div class="rightValidate_cont"><div class="slider"><span>向右滑动完成验证</span></div></div>
  <input type="hidden" id="infoString" value="">
  <img id="comImageValidate" src="/comImageValidate?rand=1" alt="">
</div>
<script src="https://seccaptcha.haplat.net/js/captcha.js"></script>
<script>var captchaPage = new SecCaptcha({el: "#captchaPage", mode: "slide"});</script>
</body></html>
"""
    return Page(body=body.encode())


def soft404_page() -> Page:
    """A government CMS's "not found" page, served with status 200."""
    body = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>页面不存在</title></head>
<body><div class="error_box">
<p class="tip">您访问的页面不存在或已被删除！</p>
<p><a href="/">返回首页</a></p>
</div></body></html>
"""
    return Page(body=body.encode())


def _lying_charset(kind: str) -> Page | None:
    text = "<p>据通报，王堃违反中央八项规定精神，违规收受礼品礼金。</p>"
    if kind == "gbk":
        html = f'<html><head><meta charset="utf-8"><title>通报</title></head><body>{text}</body>'
        return Page(body=html.encode("gbk"), content_type="text/html; charset=utf-8")
    if kind == "utf8":
        html = f'<html><head><meta charset="gb2312"><title>通报</title></head><body>{text}</body>'
        return Page(body=html.encode(), content_type="text/html")
    return None


class _Drop:
    """Marker: close the connection without answering."""


class _Partial:
    """Marker: promise more bytes than are sent, then close."""


_Action = Page | _Drop | _Partial


class SiteServer:
    """Serve ``pages`` (used live, not copied) and the built-in routes on 127.0.0.1."""

    def __init__(
        self,
        pages: dict[str, Page] | None = None,
        guard: Callable[[str, dict[str, str]], Page | None] | None = None,
        guards: list[Guard] | None = None,
    ) -> None:
        self.pages: dict[str, Page] = pages if pages is not None else {}
        # guarded modes (tests.sitegen_guarded): the first guard whose prefix a path has
        # admits or answers each request to it, and dresses the pages it serves
        self.guards: list[Guard] = guards if guards is not None else []
        self.requests: list[Logged] = []
        self.errors: list[str] = []  # exceptions raised while serving (should stay empty)
        self.base_url = ""
        self._lock = threading.Lock()
        self._flaky: dict[str, int] = {}
        # answers before the pages and routes (guarded modes b and c), given the path with
        # query and the request's headers (lower-cased names); None: no say
        self.guard = guard
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> SiteServer:
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.site = self
        self._server = server
        host, port = server.server_address[:2]
        self.base_url = f"http://{host!s}:{port}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # inspection
    def url(self, path: str) -> str:
        if not self.base_url:
            raise RuntimeError("SiteServer is not started")
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def count(self, path_prefix: str = "") -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path.startswith(path_prefix))

    # serving
    def _log(self, entry: Logged) -> None:
        with self._lock:
            self.requests.append(entry)

    def resolve(self, target: str) -> _Action:
        """What ``target`` (path with query) is answered with; sleeps for ``/slow``."""
        page = self.pages.get(target)
        if page is not None:
            return page
        parts = urlsplit(target)
        page = self.pages.get(parts.path)
        if page is not None:
            return page
        return self._builtin(parts.path, parse_qs(parts.query)) or error_page(404)

    def _builtin(self, path: str, query: dict[str, list[str]]) -> _Action | None:
        def arg(name: str, default: str) -> str:
            return query.get(name, [default])[0]

        head, _, rest = path.lstrip("/").partition("/")
        if head == "status" and rest.isdigit() and 200 <= int(rest) <= 599:
            code = int(rest)
            if code >= 400:
                return error_page(code)
            body = b"" if code in _NO_BODY else f"{code}\n".encode()
            return Page(body=body, status=code, content_type="text/plain")
        if path in ("/redirect", "/redirect301"):
            status = 301 if path == "/redirect301" else 302
            return _redirect(status, arg("to", "/"))
        if head == "redirect-loop" and rest in ("a", "b"):
            return _redirect(302, "/redirect-loop/" + ("b" if rest == "a" else "a"))
        if path == "/slow":
            ms = min(int(arg("ms", "1000")) if arg("ms", "1000").isdigit() else 1000, MAX_SLOW_MS)
            time.sleep(ms / 1000)
            return Page(body=f"slow {ms} ms\n".encode(), content_type="text/plain")
        if head == "flaky" and rest:
            fail = int(arg("fail", "1")) if arg("fail", "1").isdigit() else 1
            with self._lock:
                seen = self._flaky[rest] = self._flaky.get(rest, 0) + 1
            if seen <= fail:
                page = error_page(503)
                page.headers["Retry-After"] = "1"
                return page
            return Page(body=f"ok {rest} after {seen - 1} failures\n".encode())
        simple: dict[str, _Action] = {
            "/drop": _Drop(),
            "/partial": _Partial(),
            "/challenge": challenge_page(),
            "/captcha": captcha_page(),
            "/soft404": soft404_page(),
        }
        if path in simple:
            return simple[path]
        if head == "lying-charset":
            return _lying_charset(rest)
        return None


def _redirect(status: int, location: str) -> Page:
    page = error_page(status)
    page.headers["Location"] = location
    return page


def _not_modified(page: Page, request_headers: Any) -> bool:
    if page.status != 200:
        return False
    headers = {k.lower(): v for k, v in page.headers.items()}
    etag = headers.get("etag")
    inm = request_headers.get("If-None-Match")
    if inm is not None and etag is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or etag.removeprefix("W/") in tags
    modified = headers.get("last-modified")
    ims = request_headers.get("If-Modified-Since")
    if inm is None and ims is not None and modified is not None:
        try:
            return parsedate_to_datetime(ims) >= parsedate_to_datetime(modified)
        except (TypeError, ValueError):
            return False
    return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: SiteServer

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Unblock handler threads waiting on idle keep-alive connections."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if exc is not None and not isinstance(exc, ConnectionError | TimeoutError):
            self.site.errors.append("".join(traceback.format_exception(exc)))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    timeout = 30
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm and the
        # client's delayed ACK stall every keep-alive response by ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self._send(error_page(405), send_body=True)

    def _answer(self, send_body: bool) -> None:
        site = self.server.site
        if site.guard is not None:  # (b), (c): before everything else
            headers = {k.lower(): v for k, v in self.headers.items()}
            early = site.guard(self.path, headers)
            if early is not None:
                self._respond(early, send_body)
                return
        guard = next((g for g in site.guards if g.guards(self.path)), None)
        if guard is None:
            self._respond(site.resolve(self.path), send_body)
            return
        client = str(self.client_address[0])
        try:
            answer = guard.enter(client, self.path, self.headers.get("Cookie", ""))
            if answer is None:
                action = site.resolve(self.path)
                answer = guard.dress(action) if isinstance(action, Page) else action
        finally:
            guard.leave(client)  # before the answer goes out: the client may ask at once
        self._respond(answer, send_body)

    def _respond(self, action: _Action, send_body: bool) -> None:
        if isinstance(action, _Drop):
            self._record(0)
            self.close_connection = True
            return
        if isinstance(action, _Partial):
            self._record(200)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "1024")
            self.end_headers()
            if send_body:
                self.wfile.write(b"0123456789")
            self.close_connection = True
            return
        if _not_modified(action, self.headers):
            self._send(Page(body=b"", status=304, headers=action.headers), send_body=False)
            return
        self._send(action, send_body)

    def _record(self, status: int) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.site._log(Logged(self.command, self.path, headers, status, time.monotonic()))

    def _send(self, page: Page, send_body: bool) -> None:
        self._record(page.status)
        headers: dict[str, tuple[str, str]] = {}  # lower name -> (name, value)
        if page.content_type and page.status != 304:
            headers["content-type"] = ("Content-Type", page.content_type)
        if page.status not in _NO_BODY:
            headers["content-length"] = ("Content-Length", str(len(page.body)))
        for name, value in page.headers.items():
            headers[name.lower()] = (name, value)
        reason = _REASONS.get(page.status)
        self.send_response(page.status, reason)
        for name, value in headers.values():
            self.send_header(name, value)
        self.end_headers()
        if send_body and page.status not in _NO_BODY:
            self.wfile.write(page.body)
        declared = headers.get("content-length", ("", str(len(page.body))))[1]
        if send_body and declared != str(len(page.body)):
            self.close_connection = True  # a lying Content-Length: the framing is lost
