"""Deadlines and bounded bodies of ``govwatch extract URL`` and of link checks (issue 11).

A server dripping its answer a byte at a time must not hold either past its timeout, which
is a deadline for the whole fetch (redirects and body included), not a per-read timeout.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from crawler.linkcheck.fetch import LinkFetcher
from crawler.linkcheck.records import LinkSettings, Verdict
from crawler.net.fetch import fetch_page
from crawler.site import CrawlSettings
from storage.errors import FetchError
from tests.decoy import LoopbackServer

HOST = "127.0.0.3"


class Dripper:
    """Answers every request with headers at once, then one body byte every ``interval``."""

    def __init__(self, interval: float = 0.25, *, drip_headers: bool = False) -> None:
        self.interval = interval
        self.drip_headers = drip_headers
        self.sock = socket.create_server((HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, path: str = "/") -> str:
        return f"http://{HOST}:{self.port}{path}"

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        head = (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
            b"Content-Length: 100000\r\n\r\n"
        )
        try:
            conn.recv(65536)
            if self.drip_headers:
                data = head + b"<html>" + b"x" * 1000
            else:
                conn.sendall(head)
                data = b"<html>" + b"x" * 1000
            for byte in data:
                if self.stopped.is_set():
                    return
                conn.sendall(bytes([byte]))
                time.sleep(self.interval)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stopped.set()
        self.sock.close()


@pytest.fixture(params=[False, True], ids=["body", "headers"])
def dripper(request: pytest.FixtureRequest) -> Iterator[Dripper]:
    server = Dripper(drip_headers=request.param)
    yield server
    server.close()


def test_extract_url_stops_at_its_deadline(dripper: Dripper) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"no complete answer within 1\.5s"):
        fetch_page(dripper.url("/page"), CrawlSettings(timeout_seconds=1.5))
    assert time.monotonic() - started < 3.0


def test_extract_url_deadline_covers_redirects(dripper: Dripper) -> None:
    with LoopbackServer((HOST,)) as site:
        hop = site.url(f"/r?to={dripper.url('/page')}")
        started = time.monotonic()
        allowed = (f"{HOST}/32",)  # another origin: allowed as a network
        with pytest.raises(FetchError, match="no complete answer"):
            fetch_page(hop, CrawlSettings(timeout_seconds=1.5, allowed_networks=allowed))
    assert time.monotonic() - started < 3.0


def test_extract_url_reads_a_bounded_body() -> None:
    big = (200, {"Content-Type": "text/html"}, b"<html>" + b"x" * 200_000)
    with LoopbackServer((HOST,), pages={"/big": big}) as site:
        with pytest.raises(FetchError, match="larger than 10000 bytes"):
            fetch_page(site.url("/big"), CrawlSettings(max_page_bytes=10_000))
        page = fetch_page(site.url("/big"), CrawlSettings(max_page_bytes=300_000))
    assert len(page.body) == 200_006


def check(url: str, **changes: Any) -> tuple[Verdict, float]:
    values: dict[str, Any] = {
        "allowed_networks": (f"{HOST}/32",),
        "delay_seconds": 0.0,
        "retry_delay_seconds": 0.0,
        "timeout_seconds": 1.5,
    }
    values.update(changes)

    async def run() -> Verdict:
        async with LinkFetcher(LinkSettings(**values)) as fetcher:
            return await fetcher.check(url)

    started = time.monotonic()
    verdict = asyncio.run(run())
    return verdict, time.monotonic() - started


def test_a_link_check_stops_at_its_deadline(dripper: Dripper) -> None:
    verdict, seconds = check(dripper.url("/page.html"), retries=2)
    assert verdict.status == "error" and "timed out" in verdict.detail
    assert seconds < 2.5


def test_a_link_check_deadline_covers_every_request_of_the_link(dripper: Dripper) -> None:
    # a resource is asked with HEAD, then GET; through a redirect; retried: one deadline
    with LoopbackServer((HOST,)) as site:
        hop = site.url(f"/r?wait=1&to={dripper.url('/files/report.pdf')}")
        verdict, seconds = check(hop, retries=3)
    assert verdict.status == "error" and "timed out" in verdict.detail
    assert seconds < 2.2  # 1 s for the slow redirect, 0.5 s left for the dripping page
