"""Guarded modes of the test site server: a www.ccdi.gov.cn-style cookie guard (mode a).

A guard stands in front of the pages under its ``prefix`` (``/robots.txt`` is never
guarded) and is asked by ``tests.sitesrv`` for every request::

    guard = CcdiGuard()
    with SiteServer(site.pages, guards=[guard]) as srv: ...

:class:`CcdiGuard` behaves as ccdi is known to (DESIGN.md, "What is known of the real
sites"): every HTML page it serves carries an inline script setting fresh ``HOY_TR`` and
``HBB_HC`` cookies, with ``document.cookie = "…; max-age=N; path=/"``.  A client (one
address) gets its first request without those cookies served; after that a request must
carry an ``HBB_HC`` the guard issued and an ``HOY_TR`` the guard issued *rewritten* (the
first character of ``otr`` becomes ``csr[int(cnv[0], 16)]``, and ``,0`` is appended), or
it is answered ``412`` with a page holding only the script (fresh cookies).  Two requests
of one client in flight at once: the later one is answered ``420``.  ``hold_ms`` keeps
each admitted request in flight that long, so a test can provoke an overlap.
"""

from __future__ import annotations

import random
import re
import string
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Protocol

from tests.sitegen_common import Page

EXEMPT = frozenset({"/robots.txt"})
_BODY_TAG = re.compile(rb"<body\b[^>]*>", re.I)


class Guard(Protocol):
    """What ``tests.sitesrv`` asks a guard: admit a request, dress a page, release."""

    prefix: str

    def guards(self, path: str) -> bool:
        """Whether this guard stands in front of ``path`` (with its query string)."""

    def enter(self, client: str, path: str, cookie_header: str) -> Page | None:
        """``None``: serve the page; else the guard's answer instead."""

    def dress(self, page: Page) -> Page:
        """The page as the guard serves it (with its script)."""

    def leave(self, client: str) -> None:
        """The request of ``client`` is answered (called before its response is sent)."""


@dataclass
class CcdiGuard:
    """ccdi's cookie guard (see the module docstring); thread-safe."""

    prefix: str = "/"
    hold_ms: int = 0
    seed: int = 108
    issued_hoy: dict[tuple[str, str], str] = field(default_factory=dict)  # (csr, cnv) -> otr
    issued_hbb: set[str] = field(default_factory=set)
    clients_seen: set[str] = field(default_factory=set)
    in_flight: dict[str, int] = field(default_factory=dict)
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def guards(self, path: str) -> bool:
        return path.startswith(self.prefix) and path.split("?", 1)[0] not in EXEMPT

    def enter(self, client: str, path: str, cookie_header: str) -> Page | None:
        with self._lock:
            if self.in_flight.get(client, 0) > 0:
                return too_many_requests()
            self.in_flight[client] = 1
            first = client not in self.clients_seen
            self.clients_seen.add(client)
            cookies = parse_cookie_header(cookie_header)
            if not first and not self._passes(cookies):
                return self._script_only(412)
        if self.hold_ms:
            time.sleep(self.hold_ms / 1000)
        return None

    def leave(self, client: str) -> None:
        with self._lock:
            self.in_flight.pop(client, None)

    def dress(self, page: Page) -> Page:
        if page.status != 200 or not page.content_type.startswith("text/html"):
            return page
        script = self._script().encode()
        tag = _BODY_TAG.search(page.body)
        at = tag.end() if tag else 0
        return replace(page, body=page.body[:at] + script + page.body[at:])

    # the rule
    def _passes(self, cookies: dict[str, str]) -> bool:
        hbb, hoy = cookies.get("HBB_HC"), cookies.get("HOY_TR")
        if hbb is None or hbb not in self.issued_hbb or hoy is None:
            return False
        parts = hoy.split(",")
        if len(parts) != 4 or parts[3] != "0":
            return False
        csr, cnv, sent = parts[:3]
        otr = self.issued_hoy.get((csr, cnv))
        return otr is not None and sent == csr[int(cnv[0], 16)] + otr[1:]

    def _script(self) -> str:
        with self._lock:
            hoy, hbb = self._issue()
        return (
            '<script>(function () { document.cookie = "HOY_TR='
            f'{hoy}; max-age=31536000; path=/";document.cookie = "HBB_HC={hbb}; '
            'max-age=86400; path=/"; })()</script><script src="/_ws_sbu/sbu_hc.js"></script>'
        )

    def _issue(self) -> tuple[str, str]:
        rng = self._rng
        csr = "".join(rng.sample(string.ascii_uppercase, 16))
        cnv = "".join(rng.sample("0123456789ABCDEF", 16))
        otr = "".join(rng.sample(string.ascii_lowercase, 16))
        hbb = "".join(rng.choice("0123456789abcdef") for _ in range(96))
        self.issued_hoy[(csr, cnv)] = otr
        self.issued_hbb.add(hbb)
        return f"{csr},{cnv},{otr}", hbb

    def _script_only(self, status: int) -> Page:
        body = (
            '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
            + self._script()
            + "</body></html>"
        )
        return Page(body=body.encode(), status=status)


def rewrite(hoy: str) -> str:
    """The client's side of the rule, written independently of ``crawler.net.cookierules``."""
    csr, cnv, otr = hoy.split(",")[:3]
    return f"{csr},{cnv},{csr[int(cnv[0], 16)]}{otr[1:]},0"


def parse_cookie_header(header: str) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for part in header.split(";"):
        name, eq, value = part.strip().partition("=")
        if eq and name:
            cookies[name] = value
    return cookies


def too_many_requests() -> Page:
    """ccdi's answer to overlapping requests (nginx's page; status 420)."""
    body = (
        b"<html>\r\n<head><title>420</title></head>\r\n<body>\r\n"
        b"<center><h1>420</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
    return Page(body=body, status=420)
