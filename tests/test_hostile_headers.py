"""Hostile servers cannot blow up the crawl's memory: endless headers, gzip bombs.

``DOWNLOAD_MAXSIZE`` bounds a body, not the header section: Twisted's HTTP client parser keeps
every header line it is sent, so a page answering with an endless stream of 4 KB headers grew
``govwatch crawl`` past 1.5 GB in five seconds (and on until ``timeout_seconds``).  aiohttp
(link checks, ``extract URL``) already stops at a bounded header section.
"""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LIST = b"<html><body><a href='/art/x.html'>x</a></body></html>"


@pytest.fixture
def endless_headers() -> Iterator[int]:
    """127.0.0.1:port: a list page, and an article whose headers never end (for 30 s)."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer(conn: socket.socket) -> None:
        with conn:
            try:
                request = conn.recv(65536)
                if b"GET /art/" not in request:
                    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
                    conn.sendall(head + b"Content-Length: %d\r\n\r\n" % len(LIST) + LIST)
                    return
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n")
                block = (b"X-Filler: " + b"a" * 4000 + b"\r\n") * 64
                deadline = time.monotonic() + 30
                while not stop.is_set() and time.monotonic() < deadline:
                    conn.sendall(block)
            except OSError:
                pass

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        server.close()


def rss_mb(pid: int) -> int:
    try:
        with Path(f"/proc/{pid}/status").open(encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def test_a_crawl_stops_reading_endless_headers(tmp_path: Path, endless_headers: int) -> None:
    config = tmp_path / "govwatch.toml"
    config.write_text(
        f"""
[database]
url = "sqlite:///{tmp_path / "gw.db"}"
[crawl]
retries = 0
timeout_seconds = 20
extract_workers = 0
obey_robots_txt = false
[[sites]]
name = "local"
article_url_pattern = '/art/\\w+\\.html$'
start_urls = ["http://127.0.0.1:{endless_headers}/list"]
delay_seconds = 0
""",
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "scheduler", "--config", str(config), "crawl", "local"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = 0
    started = time.monotonic()
    while proc.poll() is None and time.monotonic() - started < 25:
        peak = max(peak, rss_mb(proc.pid))
        if peak > 600:
            break
        time.sleep(0.1)
    if proc.poll() is None:
        proc.kill()
    out, err = proc.communicate()
    seconds = time.monotonic() - started
    assert peak <= 600, f"the crawl grew to {peak} MB"
    assert seconds < 15, f"the crawl took {seconds:.0f}s"
    assert proc.returncode == 1, out + err
    assert "Traceback" not in err
    with sqlite3.connect(tmp_path / "gw.db") as conn:
        errors = conn.execute("SELECT url, message FROM crawl_errors").fetchall()
    assert len(errors) == 1 and errors[0][0].endswith("/art/x.html"), errors
    assert "header" in errors[0][1], errors


@pytest.fixture
def gzip_bomb() -> Iterator[int]:
    """127.0.0.1:port: a list page, and an article of 1 MB gzip that inflates to 1 GB."""
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = b"".join(packer.compress(b"<p>" + b"\0" * (1 << 20)) for _ in range(1024))
    bomb += packer.flush()
    server = socket.create_server(("127.0.0.1", 0))

    def answer(conn: socket.socket) -> None:
        with conn:
            try:
                request = conn.recv(65536)
                body, extra = LIST, b""
                if b"GET /art/" in request:
                    body, extra = bomb, b"Content-Encoding: gzip\r\n"
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
                    + extra
                    + b"Content-Length: %d\r\n\r\n" % len(body)
                    + body
                )
            except OSError:
                pass

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def test_a_gzip_bomb_is_cut_at_max_page_bytes_after_inflating(
    tmp_path: Path, gzip_bomb: int
) -> None:
    """Held: Scrapy's decompression and aiohttp's bounded reads stop at ``max_page_bytes``."""
    from tests.conftest import run_cli

    config = tmp_path / "govwatch.toml"
    config.write_text(
        f"""
[database]
url = "sqlite:///{tmp_path / "gw.db"}"
[crawl]
retries = 0
timeout_seconds = 20
extract_workers = 0
obey_robots_txt = false
[[sites]]
name = "local"
article_url_pattern = '/art/\\w+\\.html$'
start_urls = ["http://127.0.0.1:{gzip_bomb}/list"]
delay_seconds = 0
""",
        encoding="utf-8",
    )
    started = time.monotonic()
    extract = run_cli(
        "--config", str(config), "extract", f"http://127.0.0.1:{gzip_bomb}/art/x.html"
    )
    assert extract.returncode == 1
    assert "larger than 10485760 bytes" in extract.stdout, extract.stdout + extract.stderr
    crawl = run_cli("--config", str(config), "crawl", "local")
    assert crawl.returncode == 1 and "Traceback" not in crawl.stderr
    assert time.monotonic() - started < 30
    with sqlite3.connect(tmp_path / "gw.db") as conn:
        errors = conn.execute("SELECT url, message FROM crawl_errors").fetchall()
    assert len(errors) == 1 and "DOWNLOAD_MAXSIZE" in errors[0][1], errors
