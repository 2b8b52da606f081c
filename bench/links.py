#!/usr/bin/env python3
"""Benchmark the link checker: 10,000 links over 100 virtual hosts on loopback.

Usage (from the repository root):

    .venv/bin/python bench/links.py [--hosts 100] [--per-host 100] [--quick]

A server process listens on 127.0.0.2 … 127.0.0.101 (one address per virtual host) and
answers by path with a mix of what real sites do: pages, images and files; 404 and 410;
soft 404s (a 200 "页面不存在" page, a deep link redirected to the home page); permanent and
temporary redirects; a server error that clears on the next request (or the one after), a
server too slow once; a persistent 500, a server always too slow, a redirect loop, a dropped
connection; 429, 403 and an anti-bot challenge page; a HEAD answered 405 where GET works.

Every link has a truth class.  The benchmark runs govwatch's checker (``run_link_checks``,
database included: a temporary SQLite file) and prints links/s and the confusion matrix of
truth class × status:

1. with the ``[links]`` defaults (1 s between requests to a host, 2 at a time per host, 32 in
   all; the timeout lowered to 2 s so the slow server costs less waiting);
2. with no delay between requests, then two more rounds two and four days later (the checker's
   clock moved): transient failures clear, persistent ones turn dead only once they have
   failed ``dead_after_failures`` times over ``dead_after_hours``;
3. the alternative, a status-code-only checker as most link checkers are (HEAD, redirects
   followed, 2xx/3xx = ok, anything else or no answer = dead; requests + 32 threads).

Target: no healthy or transiently failing link is ever classified dead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import requests  # noqa: E402

from crawler.extract.canonical import canonicalize  # noqa: E402
from crawler.linkcheck.checker import run_link_checks  # noqa: E402
from crawler.linkcheck.records import CheckProgress, LinkSettings  # noqa: E402
from storage import repository  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.link_records import LinkQuery, NewLinkRef  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.records import SiteInfo  # noqa: E402

# kind -> (links per 100 on a host, truth class)
MIX: dict[str, tuple[int, str]] = {
    "page": (40, "healthy"),
    "img": (12, "healthy"),
    "file": (4, "healthy"),
    "head405": (2, "healthy"),
    "temp": (2, "healthy"),
    "moved": (4, "moved"),
    "gone": (6, "dead"),
    "removed": (2, "dead"),
    "soft": (4, "soft_404"),
    "home": (2, "soft_404"),
    "flaky": (6, "transient"),
    "flaky2": (2, "transient"),
    "slow": (2, "transient"),
    "down": (3, "failing"),
    "hang": (1, "failing"),
    "loop": (2, "failing"),
    "reset": (2, "failing"),
    "r429": (2, "blocked"),
    "r403": (1, "blocked"),
    "challenge": (1, "blocked"),
}
TRUTHS = ("healthy", "moved", "dead", "soft_404", "transient", "failing", "blocked")
STATUSES = ("ok", "redirected", "dead", "soft_404", "error", "blocked", "refused", "unchecked")
NEVER_DEAD = ("healthy", "transient", "moved", "blocked")
SLOW_SECONDS = 3.0
EXT = {"img": ".png", "file": ".pdf", "head405": ".pdf"}

ARTICLE = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>通报——要闻</title></head><body>"
    "<h2 class='tit'>某市纪委监委通报三起违反中央八项规定精神问题</h2><div class='content'>"
    + "".join(
        f"<p>第{n}段：近日，某市纪委监委对三起违反中央八项规定精神问题进行通报。"
        "经查，相关人员违规收受礼品礼金，受到党纪处分。</p>"
        for n in range(12)
    )
    + "</div></body></html>"
).encode()
HOME = "<html><head><title>首页</title></head><body><a href='/page/1.html'>要闻</a></body></html>"
SOFT = (
    "<html><head><meta charset='utf-8'><title>页面不存在</title></head><body>"
    "<p>您访问的页面不存在或已被删除！</p><a href='/'>返回首页</a></body></html>"
).encode()
NGINX_404 = (
    b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found"
    b"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
CHALLENGE = (
    b"<html><head><title></title></head><body><script>document.cookie='HOY_TR=abc,123;"
    b"path=/';location.reload();</script></body></html>"
)


# ---- the server (its own process) ----------------------------------------------------------


def _response(
    status: int,
    body: bytes = b"",
    ctype: str = "text/html; charset=utf-8",
    extra: str = "",
    head: bool = False,
) -> bytes:
    reason = {
        200: "OK",
        301: "Moved Permanently",
        302: "Found",
        403: "Forbidden",
        404: "Not Found",
        405: "Not Allowed",
        410: "Gone",
        429: "Too Many Requests",
        500: "Internal Server Error",
        503: "Service Unavailable",
    }[status]
    headers = (
        f"HTTP/1.1 {status} {reason}\r\nServer: nginx\r\nContent-Type: {ctype}\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    )
    return headers.encode() + (b"" if head else body)


class _Site:
    """Answers for one virtual host; remembers how often each flaky path was asked."""

    def __init__(self) -> None:
        self.asked: Counter[str] = Counter()

    async def answer(self, method: str, path: str) -> bytes | None:
        head = method == "HEAD"
        if path == "/":
            return _response(200, HOME.encode(), head=head)
        parts = path.strip("/").split("/")  # scenario / kind / file
        if len(parts) != 3:
            return _response(404, NGINX_404, head=head)
        kind = parts[1]
        self.asked[path] += 1
        n = self.asked[path]
        if kind in ("page", "temp_target"):
            return _response(200, ARTICLE, head=head)
        if kind == "img":
            return _response(200, b"\x89PNG\r\n\x1a\n" + bytes(600), "image/png", head=head)
        if kind == "file":
            return _response(200, b"%PDF-1.4\n" + bytes(3000), "application/pdf", head=head)
        if kind == "head405":
            if head:
                return _response(405, b"", head=True)
            return _response(200, b"%PDF-1.4\n" + bytes(3000), "application/pdf")
        if kind == "temp":
            target = path.replace("/temp/", "/temp_target/")
            return _response(302, b"", extra=f"Location: {target}\r\n", head=head)
        if kind == "moved":
            target = path.replace("/moved/", "/page/")
            return _response(301, b"", extra=f"Location: {target}\r\n", head=head)
        if kind == "gone":
            return _response(404, NGINX_404, head=head)
        if kind == "removed":
            return _response(410, NGINX_404.replace(b"404 Not Found", b"410 Gone"), head=head)
        if kind == "soft":
            return _response(200, SOFT, head=head)
        if kind == "home":
            return _response(302, b"", extra="Location: /\r\n", head=head)
        if kind in ("flaky", "flaky2"):
            fails = 1 if kind == "flaky" else 2
            if n <= fails:
                return _response(503, b"<h1>503 Service Unavailable</h1>", head=head)
            return _response(200, ARTICLE, head=head)
        if (kind == "slow" and n == 1) or kind == "hang":  # slow once / always too slow
            await asyncio.sleep(SLOW_SECONDS)
            return _response(200, ARTICLE, head=head)
        if kind == "slow":
            return _response(200, ARTICLE, head=head)
        if kind == "down":
            return _response(500, b"<h1>500 Internal Server Error</h1>", head=head)
        if kind == "loop":
            other = path[:-1] + ("b" if path.endswith("a") else "a")
            return _response(302, b"", extra=f"Location: {other}\r\n", head=head)
        if kind == "reset":
            return None
        if kind == "r429":
            return _response(429, b"<h1>429 Too Many Requests</h1>", head=head)
        if kind == "r403":
            return _response(403, b"<h1>403 Forbidden</h1>", head=head)
        if kind == "challenge":
            return _response(200, CHALLENGE, head=head)
        return _response(404, NGINX_404, head=head)


async def _serve_connection(
    site: _Site, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            method, target, _ = line.decode("latin-1").split(" ", 2)
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            answer = await site.answer(method, target.split("?", 1)[0])
            if answer is None:  # drop the connection without a response
                break
            writer.write(answer)
            await writer.drain()
    except (ConnectionError, ValueError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def _run_server(addresses: list[str], ready: multiprocessing.connection.Connection) -> None:
    async def main() -> None:
        ports: list[int] = []
        for address in addresses:
            site = _Site()
            server = await asyncio.start_server(
                lambda r, w, site=site: _serve_connection(site, r, w), address, 0, backlog=512
            )
            ports.append(server.sockets[0].getsockname()[1])
        ready.send(ports)
        await asyncio.Event().wait()

    asyncio.run(main())


# ---- the links and their truth -----------------------------------------------------------


def build_links(hosts: list[str], per_host: int, scenario: str) -> dict[str, str]:
    """fetch URL -> truth class, ``per_host`` links on every host in the MIX proportions."""
    kinds = [kind for kind, (n, _) in MIX.items() for _ in range(n)]
    out: dict[str, str] = {}
    for base in hosts:
        for i in range(per_host):
            kind = kinds[i * len(kinds) // per_host]  # the MIX proportions, any per_host
            name = f"{i}a" if kind == "loop" else f"{i}{EXT.get(kind, '.html')}"
            out[f"{base}/{scenario}/{kind}/{name}"] = MIX[kind][1]
    return out


def fresh_db(tmp: Path, name: str, links: dict[str, str], hosts: list[str]) -> Database:
    db = Database(f"sqlite:///{tmp / name}.db")
    upgrade(db)
    with db.session() as s:
        site_id = repository.sync_sites(s, [SiteInfo("bench", "bench")])["bench"]
    by_host: dict[str, list[str]] = {h: [] for h in hosts}
    for url in links:
        by_host[url.split("/", 3)[0] + "//" + url.split("/", 3)[2]].append(url)
    with db.session() as s:
        refs = [
            NewLinkRef(
                url=canonicalize(url),
                fetch_url=url,
                page_url=canonicalize(f"{host}/index.html"),
                site_id=site_id,
                kind="img" if "/img/" in url else "a",
            )
            for host, urls in by_host.items()
            for url in urls
        ]
        repository.record_link_refs(s, refs, now=T0)
    return db


T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def statuses(db: Database) -> dict[str, str]:
    with db.session() as s:
        return {v.fetch_url: v.status for v in repository.list_links(s, LinkQuery(limit=10**7))}


def matrix(truth: dict[str, str], got: dict[str, str]) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {t: Counter() for t in TRUTHS}
    for url, cls in truth.items():
        out[cls][got.get(url, "unchecked")] += 1
    return out


def print_matrix(title: str, m: dict[str, Counter[str]]) -> None:
    used = [s for s in STATUSES if any(m[t][s] for t in TRUTHS)]
    print(f"\n{title}")
    corner = "truth \\ status"
    print(f"  {corner:<16}" + "".join(f"{s:>11}" for s in used) + f"{'total':>8}")
    for t in TRUTHS:
        row = m[t]
        print(f"  {t:<16}" + "".join(f"{row[s]:>11}" for s in used) + f"{sum(row.values()):>8}")
    wolf = sum(m[t]["dead"] + m[t]["soft_404"] for t in NEVER_DEAD)
    print(f"  healthy, moved, transient or blocked classified dead/soft_404: {wolf}")


def progress_printer(label: str) -> Callable[[CheckProgress], None]:
    last = [time.monotonic()]

    def show(p: CheckProgress) -> None:
        now = time.monotonic()
        if now - last[0] >= 10 or p.checked == p.total:
            last[0] = now
            print(f"  [{label}] {p.checked}/{p.total} checked", flush=True)

    return show


def run_checker(
    db: Database, settings: LinkSettings, label: str, when: datetime
) -> tuple[float, int]:
    report = run_link_checks(db, settings, progress=progress_printer(label), clock=lambda: when)
    return report.seconds, report.checked


# ---- the alternative: status codes only ----------------------------------------------------


def status_only(urls: list[str], timeout: float, threads: int) -> tuple[float, dict[str, str]]:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=200, pool_maxsize=threads)
    session.mount("http://", adapter)

    def one(url: str) -> tuple[str, str]:
        try:
            r = session.head(url, allow_redirects=True, timeout=timeout)
        except requests.RequestException:
            return url, "dead"
        return url, "ok" if r.status_code < 400 else "dead"

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        got = dict(pool.map(one, urls))
    return time.monotonic() - started, got


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--per-host", type=int, default=100)
    parser.add_argument(
        "--quick", action="store_true", help="skip the run with the default 1 s politeness delay"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    addresses = [f"127.0.0.{2 + i}" for i in range(args.hosts)]
    mine, theirs = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_run_server, args=(addresses, theirs), daemon=True)
    server.start()
    ports = mine.recv()
    hosts = [f"http://{a}:{p}" for a, p in zip(addresses, ports, strict=True)]
    total = args.hosts * args.per_host
    print(f"{total} links over {args.hosts} virtual hosts (127.0.0.2 …), mix per 100 links:")
    print("  " + ", ".join(f"{kind} {n} ({cls})" for kind, (n, cls) in MIX.items()))
    rows: list[tuple[str, float, int]] = []
    defaults = LinkSettings(allow_private_addresses=True, timeout_seconds=2.0)
    try:
        with tempfile.TemporaryDirectory() as tmp_dir:
            tmp = Path(tmp_dir)
            if not args.quick:
                truth = build_links(hosts, args.per_host, "a")
                db = fresh_db(tmp, "defaults", truth, hosts)
                print("\n[1] govwatch, [links] defaults (1 s/host, 2/host, 32 in all), timeout 2 s")
                seconds, checked = run_checker(db, defaults, "defaults", T0)
                rows.append(("govwatch, defaults (delay 1 s per host)", seconds, checked))
                print_matrix("confusion matrix [1]", matrix(truth, statuses(db)))
            truth = build_links(hosts, args.per_host, "b")
            db = fresh_db(tmp, "fast", truth, hosts)
            fast = replace(defaults, delay_seconds=0.0)
            print("\n[2] govwatch, no delay between requests to a host (2/host, 32 in all)")
            seconds, checked = run_checker(db, fast, "no delay", T0)
            rows.append(("govwatch, no per-host delay", seconds, checked))
            print_matrix("confusion matrix [2], first check", matrix(truth, statuses(db)))
            for days in (2, 4):
                run_checker(db, fast, f"+{days} days", T0 + timedelta(days=days))
                print_matrix(
                    f"confusion matrix [2], checks {days} days later", matrix(truth, statuses(db))
                )
            truth = build_links(hosts, args.per_host, "c")
            print("\n[3] status codes only (HEAD, redirects followed, requests + 32 threads)")
            seconds, got = status_only(list(truth), timeout=2.0, threads=32)
            rows.append(("status codes only, no politeness", seconds, len(got)))
            print_matrix("confusion matrix [3]", matrix(truth, got))
    finally:
        server.kill()
    print(f"\n{'checker':<42}{'links':>8}{'seconds':>10}{'links/s':>10}")
    for name, seconds, checked in rows:
        print(f"{name:<42}{checked:>8}{seconds:>10.1f}{checked / seconds:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
