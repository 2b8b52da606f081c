"""The crawl's address guard: the address policy on every Scrapy request, every hop.

Two pieces, both asking :class:`crawler.net.addresses.AddressPolicy`:

- :class:`AddressGuardMiddleware`, a downloader middleware running before every other one
  (robots.txt included, so a refused host does not even get its robots.txt asked for).
  Redirects and meta refreshes make new requests, so every hop passes through it.  It judges
  the URL as the client reads it (look-alike digits, numeric IPv4 spellings, IPv6 forms) and
  resolves host names through the crawl's resolver to judge the address too, with the
  site's own start-URL origins (scheme, host, port) and ``allowed_networks`` allowed.  A
  refusal is a :class:`RefusedRequest` (an ``IgnoreRequest``): the request's errback
  records it as an error of kind ``refused``; nothing is downloaded, nothing stored.
- :class:`GuardedCachingResolver`, the crawl's ``TWISTED_DNS_RESOLVER``: Scrapy's caching
  resolver, checking every answer (cached or not) before Twisted connects to it.  Twisted
  asks it for every host, IP literals included, and connects to the address it returned,
  so the address checked is the one connected to.  It is one per process (several sites
  may crawl in one), and it does not see ports: it allows the hosts of every crawled site's
  start URLs and ``allowed_networks``; the middleware holds the exact per-site, per-port rule.

Why by hand: Scrapy has no address policy at all (its ``OffsiteMiddleware`` compares
domain names, not addresses).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.resolver import CachingThreadedResolver
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.base import ReactorBase
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError

from crawler.net.addresses import (
    AddressPolicy,
    AddressRefusedError,
    InvalidHost,
    is_local_name,
    origin,
    parse_host,
    parse_networks,
)

log = logging.getLogger(__name__)

ALLOWED_NETWORKS_SETTING = "GOVWATCH_ALLOWED_NETWORKS"
ALLOWED_URLS_SETTING = "GOVWATCH_ALLOWED_URLS"  # every crawled site's start URLs (resolver)
MIDDLEWARE_PRIORITY = 40  # before OffsiteMiddleware (50) and RobotsTxtMiddleware (100)


class RefusedRequest(IgnoreRequest, AddressRefusedError):
    """A crawl request refused by the address policy (the errback records ``refused``)."""


class ResolverRefused(DNSLookupError, AddressRefusedError):
    """The resolver refused the address a host resolved to (a ``DNSLookupError`` for Twisted,
    which then fails the connection quietly instead of logging a traceback)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def crawl_policy(networks: Iterable[str], start_urls: Iterable[str] = ()) -> AddressPolicy:
    """The crawl's policy: ``allowed_networks``, plus the origins of the start URLs."""
    return AddressPolicy(allowed_networks=parse_networks(networks)).with_origins(start_urls)


class AddressGuardMiddleware:
    """Refuses requests to internal addresses that the operator did not name."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self._networks = tuple(crawler.settings.getlist(ALLOWED_NETWORKS_SETTING))
        self._policy: AddressPolicy | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AddressGuardMiddleware:
        return cls(crawler)

    @property
    def policy(self) -> AddressPolicy:
        if self._policy is None:
            site = getattr(self.crawler.spider, "site", None)
            self._policy = crawl_policy(self._networks, getattr(site, "start_urls", ()))
        return self._policy

    async def process_request(self, request: Request) -> None:
        reason = await self.refusal(request)
        if reason is not None:
            hops = request.meta.get("redirect_urls") or ()
            where = f"redirect from {hops[0]}: " if hops else ""
            raise RefusedRequest(where + reason)

    async def refusal(self, request: Request) -> str | None:
        """Why ``request`` may not be downloaded, or ``None``."""
        policy = self.policy
        reason = policy.url_refusal(request.url)
        if reason is not None:
            return reason
        try:
            where = origin(request.url)
        except ValueError as exc:  # url_refusal would have said so; be safe
            return f"invalid URL: {exc}"
        if where in policy.allowed_origins or policy.allow_private:
            return None
        host = urlparse_cached(request).hostname or ""
        return await _resolved_refusal(host, policy)


async def _resolved_refusal(host: str, policy: AddressPolicy) -> str | None:
    """Resolve ``host`` as the download will (the reactor's resolver, cached) and judge it."""
    from twisted.internet import reactor

    resolver: Any = getattr(reactor, "resolver", None)
    if resolver is None:
        return None
    try:
        address = await maybe_deferred_to_future(resolver.getHostByName(host))
    except ResolverRefused as exc:
        return str(exc)
    except Exception:  # not found, DNS down …: the download reports it
        return None
    reason = policy.refusal(str(address))
    return None if reason is None else f"{host} resolves to a {reason}"


class GuardedCachingResolver(CachingThreadedResolver):
    """Scrapy's caching resolver, refusing answers the crawl's address policy refuses."""

    def __init__(
        self,
        reactor: ReactorBase,
        cache_size: int,
        timeout: float,
        policy: AddressPolicy | None = None,
    ) -> None:
        super().__init__(reactor, cache_size, timeout)
        self.policy = policy or AddressPolicy()
        self.allowed_hosts = self.policy.allowed_hosts()

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: ReactorBase) -> GuardedCachingResolver:
        settings = crawler.settings
        cache_size = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        policy = crawl_policy(
            settings.getlist(ALLOWED_NETWORKS_SETTING), settings.getlist(ALLOWED_URLS_SETTING)
        )
        return cls(reactor, cache_size, settings.getfloat("DNS_TIMEOUT"), policy)

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:
        try:
            host = str(parse_host(name))
        except InvalidHost:
            host = name
        operator_named = host in self.allowed_hosts
        if not operator_named and is_local_name(host) and self.policy.refusal("127.0.0.1"):
            from twisted.internet import defer

            return defer.fail(ResolverRefused(f"{name} is a loopback name"))
        d: Deferred[str] = super().getHostByName(name, timeout)
        if not operator_named:
            d.addCallback(self._check, name)
        return d

    def _check(self, address: str, name: str) -> str:
        reason = self.policy.refusal(address)
        if reason is not None:
            log.info("refused %s: resolves to a %s", name, reason)
            raise ResolverRefused(f"{name} resolves to a {reason}")
        return address
