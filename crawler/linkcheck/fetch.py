"""Fetch links for the checker: asyncio + aiohttp, polite per host, guarded, bounded.

One :class:`LinkFetcher` serves one checker run:

- **Politeness**: every request (each redirect hop included) takes a slot of its host
  (``concurrent_requests_per_host`` at once, request starts at least ``delay_seconds``
  apart) and then one of ``concurrent_requests`` global slots.  A task waiting for its
  host's delay holds no global slot.
- **HEAD or GET**: resources (images, scripts, attachments …) are asked with HEAD first and
  asked again with GET when the HEAD answer is an error status or an HTML page
  (:func:`crawler.linkcheck.classify.head_needs_get`); pages are fetched with GET at once, because
  only their body shows a soft 404.
- **Redirects** are followed by hand, at most ``max_redirects`` hops; a URL met twice (with
  no cookie set on the way, which some sites need to break their own loop) is a redirect loop.
  Each hop is checked by the address guard again.
- **Safety** (:mod:`crawler.net.addresses`, :mod:`crawler.net.ssrf`): http/https only; hosts read
  as the client reads them (look-alike digits, numeric IPv4, IPv6 forms) and IP literals
  checked before connecting; host names resolved by the guarded resolver, whose checked
  addresses are the ones connected to.  Bodies are read up to ``max_body_bytes``, HTML
  only.  No proxy from the environment.  TLS certificates are not verified: the checker
  asks whether a link answers, not whether to trust it, and many government sites serve
  broken chains.
- **Cookies** (:class:`crawler.net.hostcookies.CheckerCookies`): kept from ``Set-Cookie`` and
  from HTML pages' inline scripts (``document.cookie = "…"``), sent back, with the
  configured sites' cookie rules applied before each request to their hosts.  A 412/521
  answer whose script sets cookies is asked once more with them (cookie replay, as the
  crawl does).  A host with a cookie rule is guarded: one request at a time (ccdi answers
  420 to overlapping requests).
- **Retries**: a 5xx or a dropped connection is asked again ``retries`` times after
  ``retry_delay_seconds``; a timeout is not (it already cost the whole timeout).
- **Deadline**: ``timeout_seconds`` bounds a link's whole check on the wire: every request
  of it (HEAD and GET, redirect hops, retries) and every body read together, so a server
  dripping a byte a second holds a check no longer than that.  Politeness waits and retry
  delays do not count.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import aiohttp

from crawler.linkcheck.classify import (
    REDIRECT_STATUSES,
    classify,
    head_needs_get,
    is_html,
    wants_head,
)
from crawler.linkcheck.records import Failure, FetchOutcome, Hop, LinkSettings, Verdict
from crawler.net.hostcookies import CheckerCookies
from crawler.net.ssrf import (
    AddressPolicy,
    AddressRefused,
    GuardedResolver,
    HostNotFound,
    parse_networks,
    url_refusal,
)

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({500, 502, 503, 504, 522, 524})
REPLAY_STATUSES = frozenset({412, 521})  # a guard's script answer: asked again with its cookies
_RETRY_FAILURES = frozenset({"connection", "protocol"})
_READ_CHUNK = 64 * 1024
_MAX_VISITS = 3  # a URL may come back this often in one chain when cookies are being set
_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5",
}


class _Stop(Exception):
    """A chain that ends without an answer: (failure, message)."""

    def __init__(self, failure: Failure, message: str) -> None:
        super().__init__(message)
        self.failure: Failure = failure
        self.message = message


class _Budget:
    """Time on the wire left for one link's check (see the module docstring)."""

    def __init__(self, seconds: float) -> None:
        self.left = seconds


class HostGate:
    """At most ``concurrency`` requests at once to one host, starts ``delay`` seconds apart."""

    def __init__(self, concurrency: int, delay: float) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._pace = asyncio.Lock()
        self._delay = delay
        self._next_start = 0.0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._slots:
            if self._delay > 0:
                async with self._pace:
                    loop = asyncio.get_running_loop()
                    wait = self._next_start - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    self._next_start = loop.time() + self._delay
            yield


def host_key(url: str) -> str:
    """The politeness key of a URL: host and port."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    default = 443 if parts.scheme.lower() == "https" else 80
    return f"{(parts.hostname or '').lower()}:{port or default}"


class LinkFetcher:
    """Checks links over one HTTP client session; use as ``async with LinkFetcher(s) as f``."""

    def __init__(self, settings: LinkSettings, cookies: CheckerCookies | None = None) -> None:
        self.settings = settings
        self.cookies = cookies if cookies is not None else CheckerCookies()
        self.policy = AddressPolicy(
            allow_private=settings.allow_private_addresses,
            allowed_networks=parse_networks(settings.allowed_networks),
        )
        self._gates: dict[str, HostGate] = {}
        self._global: asyncio.Semaphore | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> LinkFetcher:
        s = self.settings
        self._global = asyncio.Semaphore(s.concurrent_requests)
        connector = aiohttp.TCPConnector(
            limit=s.concurrent_requests + 8,
            limit_per_host=0,
            resolver=GuardedResolver(self.policy),
            ssl=False,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": s.user_agent, **_HEADERS},
            cookie_jar=aiohttp.DummyCookieJar(),  # self.cookies keeps them
            trust_env=False,
            max_line_size=16 * 1024,
            max_field_size=32 * 1024,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def gate(self, url: str) -> HostGate:
        key = host_key(url)
        gate = self._gates.get(key)
        if gate is None:
            s = self.settings
            guarded = self.cookies.rules.get((urlsplit(url).hostname or "").lower())
            per_host = 1 if guarded is not None else s.concurrent_requests_per_host
            gate = self._gates[key] = HostGate(per_host, s.delay_seconds)
        return gate

    async def check(self, url: str) -> Verdict:
        """Check one link: fetch it (HEAD then GET, or GET) and classify what came back."""
        started = time.monotonic()
        budget = _Budget(self.settings.timeout_seconds)
        outcome = await self.fetch_retrying(url, "HEAD" if wants_head(url) else "GET", budget)
        if head_needs_get(outcome):
            outcome = await self.fetch_retrying(url, "GET", budget)
        elapsed = int((time.monotonic() - started) * 1000)
        return classify(_with_elapsed(outcome, elapsed))

    async def fetch_retrying(
        self, url: str, method: str, budget: _Budget | None = None
    ) -> FetchOutcome:
        budget = budget or _Budget(self.settings.timeout_seconds)
        outcome = await self.fetch(url, method, budget)
        for _ in range(self.settings.retries):
            if not (
                outcome.failure in _RETRY_FAILURES
                or (outcome.status is not None and outcome.status in RETRY_STATUSES)
            ):
                break
            await asyncio.sleep(self.settings.retry_delay_seconds)
            outcome = await self.fetch(url, method, budget)
        return outcome

    async def fetch(self, url: str, method: str, budget: _Budget | None = None) -> FetchOutcome:
        """One HEAD or GET of ``url`` with its redirects followed (see the module docstring)."""
        budget = budget or _Budget(self.settings.timeout_seconds)
        hops: list[Hop] = []
        visits: dict[str, int] = {}
        current = url
        replayed = False
        try:
            while True:
                refusal = url_refusal(current, self.policy)
                if refusal is not None:
                    where = "" if current == url else f"redirect to {current}: "
                    raise _Stop("refused", where + refusal)
                visits[current] = visits.get(current, 0) + 1
                status, headers, body, learned = await self._request(method, current, budget)
                if status in REPLAY_STATUSES and learned and not replayed:
                    replayed = True  # the guard's script set cookies: once more with them
                    continue
                location = headers.get("Location")
                if status not in REDIRECT_STATUSES or not location:
                    return FetchOutcome(
                        url=url,
                        method=method,
                        hops=tuple(hops),
                        final_url=current,
                        status=status,
                        content_type=headers.get("Content-Type"),
                        body=body,
                    )
                try:
                    target = urljoin(current, location.strip())
                except ValueError as exc:
                    raise _Stop("protocol", f"bad redirect Location {location!r}") from exc
                hops.append(Hop(status=status, url=current, location=target))
                seen = visits.get(target, 0)
                if seen and ("Set-Cookie" not in headers or seen >= _MAX_VISITS):
                    raise _Stop("redirect_loop", f"redirect loop ({len(hops)} hops)")
                if len(hops) > self.settings.max_redirects:
                    raise _Stop(
                        "too_many_redirects", f"more than {self.settings.max_redirects} redirects"
                    )
                if status == 303:
                    method = "GET"
                current = target
        except _Stop as stop:
            return FetchOutcome(
                url=url,
                method=method,
                hops=tuple(hops),
                final_url=current,
                failure=stop.failure,
                message=stop.message,
            )

    async def _request(
        self, method: str, url: str, budget: _Budget
    ) -> tuple[int, Mapping[str, str], bytes | None, int]:
        """One request: its status, headers, body (HTML GETs) and how many cookies it set."""
        assert self._session is not None and self._global is not None
        async with self.gate(url).slot(), self._global:
            if budget.left <= 0:
                raise _Stop("timeout", f"timed out after {self.settings.timeout_seconds:g}s")
            # aiohttp's total timeout covers the connection, the request and the body reads
            timeout = aiohttp.ClientTimeout(total=budget.left)
            started = time.monotonic()
            headers = {}
            cookie = self.cookies.header(url)
            if cookie:
                headers["Cookie"] = cookie
            agent = self.cookies.agent(url)
            if agent:  # a browser's, kept with its cookies: they go together
                headers["User-Agent"] = agent
            try:
                async with self._session.request(
                    method,
                    url,
                    allow_redirects=False,
                    timeout=timeout,
                    headers=headers or None,
                ) as resp:
                    body = None
                    ctype = resp.headers.get("Content-Type")
                    redirect = resp.status in REDIRECT_STATUSES
                    if method == "GET" and not redirect and is_html(ctype, None):
                        body = await _read_limited(resp, self.settings.max_body_bytes)
                    learned = self.cookies.learn(url, resp.headers.getall("Set-Cookie", ()), body)
                    return resp.status, resp.headers, body, learned
            except Exception as exc:
                failure, message = _describe(exc, self.settings.timeout_seconds)
                raise _Stop(failure, message) from exc
            finally:
                budget.left -= time.monotonic() - started


async def _read_limited(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """At most ``limit`` bytes of the body; a body cut short by the server is kept as read."""
    chunks: list[bytes] = []
    size = 0
    try:
        while size < limit:
            chunk = await resp.content.read(min(_READ_CHUNK, limit - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except aiohttp.ClientPayloadError:
        pass
    return b"".join(chunks)


def _describe(exc: BaseException, timeout: float) -> tuple[Failure, str]:
    """The failure kind and a one-line message for an exception of a request."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        cause = exc.os_error
        if isinstance(cause, AddressRefused):
            return "refused", str(cause)
        if isinstance(cause, HostNotFound):
            return "dns_not_found", cause.strerror or "host not found"
        return "dns", f"DNS lookup failed: {cause.strerror or cause}"
    if isinstance(exc, asyncio.TimeoutError):
        return "timeout", f"timed out after {timeout:g}s"
    if isinstance(exc, aiohttp.ClientSSLError):
        return "connection", "TLS handshake failed"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "connection", f"cannot connect: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "connection", "server closed the connection without answering"
    if isinstance(exc, aiohttp.InvalidURL):
        return "invalid_url", f"invalid URL: {exc}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return "protocol", f"bad HTTP response: {exc.message}"
    if isinstance(exc, aiohttp.ClientOSError | ConnectionError):
        return "connection", f"connection reset: {exc}"
    if isinstance(exc, aiohttp.ClientError | OSError | ValueError):
        return "protocol", f"{type(exc).__name__}: {exc}".splitlines()[0]
    raise exc


def _with_elapsed(outcome: FetchOutcome, elapsed_ms: int) -> FetchOutcome:
    return replace(outcome, elapsed_ms=elapsed_ms)
