"""The aiohttp side of the address policy: the guarded resolver of the link checker and
``govwatch extract URL``.

The policy itself (:mod:`crawler.net.addresses`) is pure; this module holds what needs aiohttp:

- :func:`url_refusal` before every request (the first and every redirect hop): scheme, and a
  host written as an IP address (in any spelling the client folds to one) must be allowed;
- :class:`GuardedResolver`, the resolver of the HTTP client, for host names: it resolves the
  name itself and refuses it when *any* address is not allowed.  The client connects to the
  addresses this resolver returned, so the address that was checked is the address that is
  used (a DNS answer that changes between check and connect cannot slip through).  aiohttp
  gives it the port as well, so an operator-named origin (host and port) is allowed exactly.
"""

from __future__ import annotations

import socket

from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver

from crawler.net.addresses import (
    ALLOWED_SCHEMES,
    AddressPolicy,
    InvalidHost,
    IPAddress,
    IPNetwork,
    is_local_name,
    parse_host,
    parse_networks,
)

__all__ = [
    "ALLOWED_SCHEMES",
    "AddressPolicy",
    "AddressRefused",
    "GuardedResolver",
    "HostNotFound",
    "IPAddress",
    "IPNetwork",
    "parse_networks",
    "url_refusal",
]

# getaddrinfo errors that mean "this name does not exist" (NXDOMAIN / no address records).
_NOT_FOUND_ERRNOS = frozenset(
    e for e in (getattr(socket, "EAI_NONAME", None), getattr(socket, "EAI_NODATA", None)) if e
)


class AddressRefused(OSError):
    """The host resolves to an address the policy refuses (raised by the resolver)."""


class HostNotFound(OSError):
    """The host name does not exist (NXDOMAIN), as opposed to a DNS failure."""


def url_refusal(url: str, policy: AddressPolicy) -> str | None:
    """Why ``url`` may not be fetched, judged before resolving (see ``AddressPolicy``)."""
    return policy.url_refusal(url)


class GuardedResolver(ThreadedResolver):
    """aiohttp's threaded resolver, refusing names that resolve to a refused address.

    Raises :class:`AddressRefused` or :class:`HostNotFound` (both ``OSError``, which aiohttp
    wraps in ``ClientConnectorDNSError`` with the original as ``os_error``).
    """

    def __init__(self, policy: AddressPolicy) -> None:
        super().__init__()
        self.policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            named = str(parse_host(host))
        except InvalidHost as exc:
            raise AddressRefused(f"invalid host {host!r}") from exc
        operator_named = any((h, p) == (named, port) for _, h, p in self.policy.allowed_origins)
        if not operator_named and is_local_name(named) and self.policy.refusal("127.0.0.1"):
            raise AddressRefused(f"{host} is a loopback name")
        try:
            results = await super().resolve(host, port, family)
        except socket.gaierror as exc:
            if exc.errno in _NOT_FOUND_ERRNOS:
                raise HostNotFound(exc.errno, f"host not found: {host}") from exc
            raise
        if operator_named:
            return results
        for result in results:
            reason = self.policy.refusal(result["host"])
            if reason is not None:
                raise AddressRefused(f"{host} resolves to a {reason}")
        return results
