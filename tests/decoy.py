"""Loopback servers that log every connection, and a guarded way to run ``govwatch``.

- :class:`LoopbackServer` serves a few pages on one port of several loopback addresses
  (``127.0.0.1``, ``127.0.0.2``, ``::1`` …) and records every connection it accepts, before
  reading a byte: a decoy's log is the proof that nothing connected to it.
- :func:`run_guarded` runs the command line in a subprocess whose audit hook blocks (and
  records) every connection to a non-loopback address, and whose resolver answers only
  ``/etc/hosts`` names: a test of a refusal that fails can never reach the network.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.conftest import REPO

Page = tuple[int, dict[str, str], bytes]

SECRET = "INTERNAL-SECRET-PAGE"
SECRET_PAGE: Page = (
    200,
    {"Content-Type": "text/html; charset=utf-8"},
    f"<html><head><title>{SECRET}</title></head><body><h1>{SECRET}</h1>"
    f"<div class='content'><p>{SECRET} 内部页面，不得抓取。{'内部资料。' * 40}</p></div>"
    "</body></html>".encode(),
)


@dataclass
class LoopbackServer:
    """HTTP on one port of each of ``hosts``; ``connections`` lists (local, peer) addresses."""

    hosts: tuple[str, ...] = ("127.0.0.1",)
    pages: dict[str, Page] = field(default_factory=dict)
    default: Page | None = None  # answer for unknown paths (404 when None)
    port: int = 0
    connections: list[tuple[str, str]] = field(default_factory=list)
    _servers: list[ThreadingHTTPServer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> LoopbackServer:
        for _ in range(20):
            try:
                self._bind_all()
                break
            except OSError:
                self._close()
        else:
            raise RuntimeError(f"no common free port on {self.hosts}")
        for server in self._servers:
            threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
            ).start()
        return self

    def _bind_all(self) -> None:
        port = 0
        for host in self.hosts:
            server = _make_server(self, host, port)
            self._servers.append(server)
            port = server.server_address[1]
        self.port = port

    def _close(self) -> None:
        for server in self._servers:
            server.server_close()
        self._servers.clear()

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
        self._close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, path: str = "/", host: str | None = None) -> str:
        host = host or self.hosts[0]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}{path}"

    def record(self, local: Any, peer: Any) -> None:
        with self._lock:
            self.connections.append((str(local[0]), str(peer[0])))

    def answer(self, target: str) -> Page:
        parts = urlsplit(target)
        if parts.path == "/r":  # /r?to=URL[&wait=SECONDS]: a redirect anywhere, maybe slow
            query = parse_qs(parts.query)
            time.sleep(min(float(query.get("wait", ["0"])[0]), 5.0))
            return 302, {"Location": query.get("to", ["/"])[0]}, b""
        page = self.pages.get(parts.path) or self.default
        return page or (404, {"Content-Type": "text/plain"}, b"not found")


def _make_server(owner: LoopbackServer, host: str, port: int) -> ThreadingHTTPServer:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET

    class Server(ThreadingHTTPServer):
        address_family = family
        daemon_threads = True

        def process_request(self, request: Any, client_address: Any) -> None:
            owner.record(request.getsockname(), client_address)
            super().process_request(request, client_address)

    class Handler(BaseHTTPRequestHandler):
        timeout = 5

        def do_GET(self) -> None:
            self._reply(body=True)

        def do_HEAD(self) -> None:
            self._reply(body=False)

        def _reply(self, *, body: bool) -> None:
            status, headers, content = owner.answer(self.path)
            self.send_response(status)
            for name, value in headers.items():
                # raw UTF-8 on the wire, as servers send non-ASCII Locations
                self.send_header(name, value.encode("utf-8").decode("latin-1"))
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if body:
                self.wfile.write(content)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Server((host, port), Handler)


# The subprocess's guard: runs before govwatch is imported.
_GUARD = r"""
import ipaddress, socket, sys
LOG = sys.argv.pop(1)
HOSTS = set()
for line in open("/etc/hosts", encoding="utf-8", errors="replace"):
    HOSTS.update(line.split("#")[0].split()[1:])

def note(what):
    with open(LOG, "a", encoding="utf-8") as f:
        f.write(what + "\n")

def loopback(host):
    try:
        ip = ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback

def hook(event, args):
    if event == "socket.connect" and isinstance(args[1], tuple):
        if not loopback(args[1][0]):
            note(f"connect {args[1][0]} {args[1][1]}")
            raise ConnectionRefusedError("blocked by the test's audit hook")

def known(host):
    if host is None:
        return True
    text = host.decode() if isinstance(host, bytes) else str(host)
    try:
        ipaddress.ip_address(text.split("%")[0])
        return True
    except ValueError:
        return text in HOSTS

real_getaddrinfo, real_gethostbyname = socket.getaddrinfo, socket.gethostbyname

def getaddrinfo(host, *args, **kwargs):
    if not known(host):
        note(f"dns {host}")
        raise socket.gaierror(socket.EAI_NONAME, "blocked by the test: not in /etc/hosts")
    return real_getaddrinfo(host, *args, **kwargs)

def gethostbyname(host):
    if not known(host):
        note(f"dns {host}")
        raise socket.gaierror(socket.EAI_NONAME, "blocked by the test: not in /etc/hosts")
    return real_gethostbyname(host)

socket.getaddrinfo, socket.gethostbyname = getaddrinfo, gethostbyname
sys.addaudithook(hook)
from scheduler.cli import main
sys.exit(main(sys.argv[1:]))
"""


@dataclass
class GuardedRun:
    result: subprocess.CompletedProcess[str]
    blocked: list[str]  # connections to non-loopback addresses and DNS queries, blocked


def run_guarded(tmp_path: Path, *args: str, timeout: float = 120) -> GuardedRun:
    """``govwatch ARGS`` in a subprocess that cannot leave the loopback interface."""
    log = tmp_path / f"blocked-{os.getpid()}-{len(list(tmp_path.glob('blocked-*')))}.log"
    log.touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVWATCH_")}
    result = subprocess.run(
        [sys.executable, "-c", _GUARD, str(log), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=timeout,
        check=False,
    )
    return GuardedRun(result, log.read_text(encoding="utf-8").splitlines())
