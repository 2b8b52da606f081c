"""Fetch one page outside a crawl (``govwatch extract URL``): guarded, bounded, one page.

- **Address policy** (:mod:`crawler.net.addresses`): the URL the operator typed is named, so its
  origin may be internal; every redirect hop is followed by hand and judged again, and a hop
  to another internal origin (or ``crawl.allowed_networks`` aside) is refused.  Host names
  are resolved by the guarded resolver of :mod:`crawler.net.ssrf`, whose checked addresses are
  the ones connected to.
- **Deadline**: ``timeout_seconds`` bounds the whole fetch, redirects and body included, not
  each read: a server dripping a byte a second cannot hold the command.  The body is read up
  to ``max_page_bytes``.

aiohttp rather than ``requests``: ``requests`` has per-read timeouts only and no resolver to
guard, while the link checker's client already has both.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urljoin

import aiohttp

from crawler.net.addresses import AddressPolicy, AddressRefusedError, parse_networks
from crawler.net.ssrf import AddressRefused, GuardedResolver, HostNotFound
from crawler.site import CrawlSettings
from storage.errors import FetchError

MAX_REDIRECTS = 10
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class FetchedPage:
    url: str  # final URL, after redirects
    status: int
    content_type: str | None
    body: bytes


def fetch_page(url: str, settings: CrawlSettings) -> FetchedPage:
    """GET ``url`` with govwatch's User-Agent, deadline and size limit, redirects guarded.

    Raises :class:`AddressRefusedError` (a :class:`FetchError`) when the address policy
    refuses the URL or a hop, :class:`FetchError` (one line) for network failures, HTTP
    errors, oversize pages and the deadline.
    """
    return asyncio.run(_fetch(url, settings))


async def _fetch(url: str, settings: CrawlSettings) -> FetchedPage:
    policy = AddressPolicy(allowed_networks=parse_networks(settings.allowed_networks))
    policy = policy.with_origins([url])
    connector = aiohttp.TCPConnector(
        resolver=GuardedResolver(policy), use_dns_cache=False, force_close=True
    )
    async with aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": settings.user_agent},
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        trust_env=False,
    ) as session:
        try:
            async with asyncio.timeout(settings.timeout_seconds):
                return await _follow(session, url, policy, settings)
        except TimeoutError as exc:
            raise FetchError(
                f"{url}: no complete answer within {settings.timeout_seconds:g}s"
            ) from exc


async def _follow(
    session: aiohttp.ClientSession, url: str, policy: AddressPolicy, settings: CrawlSettings
) -> FetchedPage:
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        where = url if current == url else f"{url}: redirect to {current}"
        refusal = policy.url_refusal(current)
        if refusal is not None:
            raise AddressRefusedError(f"{where}: refused: {refusal}")
        try:
            async with session.get(current, allow_redirects=False) as response:
                location = response.headers.get("Location")
                if response.status in REDIRECTS and location:
                    current = urljoin(current, location.strip())
                    continue
                body = await _read_bounded(response, settings.max_page_bytes, current)
                if response.status >= 400:
                    raise FetchError(f"{where}: HTTP {response.status}")
                return FetchedPage(
                    url=current,
                    status=response.status,
                    content_type=response.headers.get("Content-Type"),
                    body=body,
                )
        except aiohttp.ClientConnectorDNSError as exc:
            if isinstance(exc.os_error, AddressRefused):
                raise AddressRefusedError(f"{where}: refused: {exc.os_error}") from exc
            if isinstance(exc.os_error, HostNotFound):
                raise FetchError(f"{where}: host not found") from exc
            raise FetchError(f"{where}: DNS lookup failed: {exc.os_error}") from exc
        except aiohttp.ClientError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise FetchError(f"{where}: {reason}") from exc
        except ValueError as exc:  # a Location or URL aiohttp cannot use
            raise FetchError(f"{where}: invalid URL: {exc}") from exc
    raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")


async def _read_bounded(response: aiohttp.ClientResponse, limit: int, url: str) -> bytes:
    """The body, refusing one larger than ``limit`` bytes without reading past it."""
    if response.content_length is not None and response.content_length > limit:
        raise FetchError(f"{url}: larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await response.content.read(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise FetchError(f"{url}: larger than {limit} bytes")
        chunks.append(chunk)
