"""Pass a JavaScript challenge once in headless Chromium, in a helper process.

Some government sites answer a crawler's first request with a script rather than the page
(HTTP 412/521 and a script that computes a cookie and reloads: 瑞数-style, 加速乐
``__jsl_clearance``; WZWS "请开启JavaScript" pages).  Running the script is the only general
answer.  :func:`solve` opens the URL once in the system's Chromium (Debian's ``chromium``,
driven by Playwright for Python with ``executable_path``; never a downloaded browser), waits
until the page is no longer a challenge, and returns the browser's cookies and User-Agent;
the crawl goes on over plain HTTP with them.

Why a helper process (``python -m crawler.guards.browser``), and how no Chromium outlives the crawl:

- the crawl runs on Twisted's epoll reactor; Playwright's sync API runs its own event loop.
  A separate process keeps the two apart, and its memory goes when it ends;
- the helper asks the kernel to kill it when the crawl process dies (``PR_SET_PDEATHSIG``,
  checked against the parent it was started by), so a crawl killed with SIGKILL takes it down;
- Chromium is started through ``setpriv --pdeathsig KILL``: it dies with its parent
  (Playwright's driver), which itself exits when the helper's pipe closes;
- the crawl kills the helper's process group when it stops (SIGTERM, time limit, end of the
  run) and :class:`Solve.cancel` does so at once.

The browser obeys the crawl's address policy: besides the allowed origins (the site's start
URLs), every request the page makes is judged by :class:`crawler.net.addresses.AddressPolicy`,
and refused ones are aborted (``context.route``).

Protocol: the crawl writes one JSON line (:class:`SolveRequest`) to the helper's stdin; the
helper writes one JSON line (the result) to stdout and exits.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import logging
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from crawler.extract.pagekind import is_challenge_page
from crawler.net.addresses import AddressPolicy, origin, parse_networks
from storage.errors import FetchError

log = logging.getLogger(__name__)

CHROMIUM = "/usr/bin/chromium"
SETPRIV = "/usr/bin/setpriv"
PARENT_ENV = "GOVWATCH_BROWSER_PARENT"  # the crawl's pid, checked by the helper
CHALLENGE_STATUSES = frozenset({412, 521})
INSTALL_HINT = (
    "JavaScript challenge; install the browser extra: pip install 'govwatch[browser]' "
    "and Debian's chromium (apt-get install chromium)"
)
_PR_SET_PDEATHSIG = 1
_MAX_LOADS = 8  # page loads (the first and the script's reloads) before giving up
_SKIPPED_RESOURCES = frozenset({"image", "media", "font", "stylesheet"})
# Seconds the helper gets beyond the challenge timeout to start and stop the browser.
_STARTUP_SECONDS = 30.0


class BrowserError(FetchError):
    """The browser could not pass a challenge (not installed, timed out, crashed)."""


@dataclass(frozen=True, slots=True)
class Solved:
    """What a solve gave: the cookies to send and the User-Agent.

    Each cookie: ``name``, ``value``, ``path``, ``expires`` (epoch seconds, -1 for a session
    cookie) and ``secure``."""

    cookies: tuple[dict[str, Any], ...]
    user_agent: str
    seconds: float


@dataclass(frozen=True, slots=True)
class SolveRequest:
    url: str
    timeout: float
    allowed_origins: list[list[Any]] = field(default_factory=list)
    allowed_networks: list[str] = field(default_factory=list)


def missing() -> str | None:
    """Why the browser cannot be used here (the install hint), or ``None``."""
    if importlib.util.find_spec("playwright") is None:
        return INSTALL_HINT
    if chromium_path() is None:
        return INSTALL_HINT
    return None


def chromium_path() -> str | None:
    if Path(CHROMIUM).is_file():
        return CHROMIUM
    return shutil.which("chromium")


class Solve:
    """One browser solve running in a helper process (started by :meth:`start`)."""

    def __init__(self, popen: subprocess.Popen[bytes], request: SolveRequest) -> None:
        self.popen = popen
        self.request = request
        self.started = time.monotonic()

    @classmethod
    def start(cls, request: SolveRequest) -> Solve:
        """Start the helper (call from a thread that lives as long as the crawl)."""
        env = dict(os.environ)
        env[PARENT_ENV] = str(os.getpid())
        try:
            popen = subprocess.Popen(
                [sys.executable, "-m", "crawler.guards.browser"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=None,
                env=env,
                start_new_session=True,  # its own process group: cancel() kills all of it
                close_fds=True,
            )
        except OSError as exc:
            raise BrowserError(f"cannot start the browser helper: {exc}") from exc
        solve = cls(popen, request)
        assert popen.stdin is not None
        try:
            popen.stdin.write(json.dumps(asdict(request)).encode() + b"\n")
            popen.stdin.flush()
        except OSError:
            pass  # the helper died at once; wait() says so
        return solve

    def wait(self) -> Solved:
        """Block until the helper answers (bounded by the challenge timeout)."""
        limit = self.request.timeout + _STARTUP_SECONDS
        try:
            out, _ = self.popen.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            self.cancel()
            raise BrowserError(f"the browser did not answer within {limit:g}s") from None
        finally:
            self.cancel()
        try:
            result = json.loads(out.decode("utf-8", "replace").strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise BrowserError(
                f"the browser helper ended without an answer (exit {self.popen.returncode})"
            ) from None
        if not result.get("ok"):
            raise BrowserError(str(result.get("error") or "the browser failed"))
        return Solved(
            cookies=tuple(result["cookies"]),
            user_agent=str(result["user_agent"]),
            seconds=time.monotonic() - self.started,
        )

    def cancel(self) -> None:
        """Kill the helper's process group (the helper and whatever it started and left)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)  # the group outlives a dead leader
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)


# ---- the helper process -------------------------------------------------------------------


def _die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when the crawl that started it dies."""
    expected = int(os.environ.get(PARENT_ENV, "0") or 0)
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if expected and os.getppid() != expected:  # the crawl died before prctl took effect
        os._exit(1)


def _launcher(directory: str) -> str:
    """An executable that starts Chromium so that it dies with its parent."""
    chromium = chromium_path() or CHROMIUM
    if not Path(SETPRIV).is_file():
        return chromium
    path = Path(directory) / "chromium"
    path.write_text(f'#!/bin/sh\nexec {SETPRIV} --pdeathsig KILL {chromium} "$@"\n')
    path.chmod(stat.S_IRWXU)
    return str(path)


def _route_guard(policy: AddressPolicy, loads: list[str]) -> Any:
    """A ``context.route`` handler aborting requests the address policy refuses.

    It counts the top frame's page loads in ``loads``, and aborts those past
    ``_MAX_LOADS`` (a challenge script that reloads for ever)."""

    def allowed(url: str) -> bool:
        if url.startswith(("data:", "blob:", "about:")):
            return True
        try:
            where = origin(url)
        except ValueError:
            return False
        if where in policy.allowed_origins:
            return True
        if policy.url_refusal(url) is not None:
            return False
        try:
            infos = socket.getaddrinfo(where[1], where[2], proto=socket.IPPROTO_TCP)
        except OSError:
            return False
        return all(policy.refusal(str(info[4][0])) is None for info in infos)

    def handle(route: Any) -> None:
        url = route.request.url
        top = route.request.is_navigation_request() and route.request.frame.parent_frame is None
        if top:
            loads.append(url)
        if top and len(loads) > _MAX_LOADS:
            route.abort("blockedbyclient")
        elif route.request.resource_type in _SKIPPED_RESOURCES:
            route.abort("blockedbyclient")  # not needed to run the challenge's script
        elif allowed(url):
            route.continue_()
        else:
            print(f"govwatch browser: refused {url}", file=sys.stderr)
            route.abort("blockedbyclient")

    return handle


def _wait_until_passed(page: Any, url: str, timeout: float, loads: list[str]) -> None:
    """Load ``url`` and wait until the page is not a challenge (raises on timeout)."""
    deadline = time.monotonic() + timeout
    statuses: list[int] = []

    def on_response(response: Any) -> None:
        if response.request.is_navigation_request() and response.frame == page.main_frame:
            statuses.append(response.status)

    page.on("response", on_response)
    page.goto(url, wait_until="commit", timeout=timeout * 1000)  # "load" never comes while
    # the script reloads at once: the loop below follows the loads
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"still a challenge after {timeout:g}s")
        try:
            page.wait_for_load_state("load", timeout=remaining * 1000)
            html: str | None = page.content()
        except Exception:  # navigating while we looked: look again after it
            html = None
        passed = html is not None and not is_challenge_page(html)
        if passed and (not statuses or statuses[-1] not in CHALLENGE_STATUSES):
            return
        if len(loads) > _MAX_LOADS:  # a script reloading for ever: the route stopped it
            raise TimeoutError(f"still a challenge after {_MAX_LOADS} page loads")
        with contextlib.suppress(Exception):  # the script's reload, or the timeout
            page.wait_for_event("framenavigated", timeout=max(remaining, 0.001) * 1000)


def _solve(request: SolveRequest) -> dict[str, Any]:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    policy = AddressPolicy(
        allowed_networks=parse_networks(request.allowed_networks),
        allowed_origins=frozenset((str(s), str(h), int(p)) for s, h, p in request.allowed_origins),
    )
    with tempfile.TemporaryDirectory(prefix="govwatch-browser-") as tmp:
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=_launcher(tmp),
                    headless=True,
                    handle_sigint=False,
                    args=["--disable-gpu", "--no-first-run", "--disable-dev-shm-usage"],
                    timeout=_STARTUP_SECONDS * 1000,
                )
                try:
                    context = browser.new_context(service_workers="block")
                    loads: list[str] = []
                    context.route("**/*", _route_guard(policy, loads))
                    page = context.new_page()
                    _wait_until_passed(page, request.url, request.timeout, loads)
                    user_agent = str(page.evaluate("navigator.userAgent"))
                    cookies = [
                        {
                            "name": c["name"],
                            "value": c["value"],
                            "path": c.get("path", "/"),
                            "expires": c.get("expires", -1),  # epoch seconds; -1: session
                            "secure": c.get("secure", False),
                        }
                        for c in context.cookies(request.url)
                    ]
                finally:
                    browser.close()
        except (PlaywrightError, TimeoutError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            return {"ok": False, "error": f"browser: {first}"}
    return {"ok": True, "cookies": cookies, "user_agent": user_agent}


def main() -> int:
    _die_with_parent()
    line = sys.stdin.readline()
    try:
        request = SolveRequest(**json.loads(line))
    except (ValueError, TypeError) as exc:
        print(json.dumps({"ok": False, "error": f"bad request: {exc}"}), flush=True)
        return 2
    print(f"govwatch browser: starting Chromium for {request.url}", file=sys.stderr, flush=True)
    result = _solve(request)
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
