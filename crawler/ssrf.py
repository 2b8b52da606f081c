"""The link checker's address guard: never fetch private, loopback or other internal addresses.

Links come from pages on the internet, so a link (or a redirect) to ``http://10.0.0.5/`` or
``http://localhost:6379/`` must not make govwatch talk to its own network (SSRF).  Two
places enforce :class:`AddressPolicy`:

- :func:`url_refusal` before every request (the first and every redirect hop): only
  ``http``/``https``, and a host written as an IP address must be allowed;
- :class:`GuardedResolver`, the resolver of the checker's HTTP client, for host names: it
  resolves the name itself and refuses it when *any* address is not allowed.  The client
  connects to the addresses this resolver returned, so the address that was checked is the
  address that is used (a DNS answer that changes between check and connect cannot slip
  through).

Refused: private (RFC 1918, ULA), loopback, link-local, multicast, reserved, unspecified,
shared (100.64/10) and every other non-global address, IPv4-mapped IPv6 included, unless
``allow_private`` is set or the address is in one of ``allowed_networks``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
ALLOWED_SCHEMES = frozenset({"http", "https"})
# getaddrinfo errors that mean "this name does not exist" (NXDOMAIN / no address records).
_NOT_FOUND_ERRNOS = frozenset(
    e for e in (getattr(socket, "EAI_NONAME", None), getattr(socket, "EAI_NODATA", None)) if e
)


class AddressRefused(OSError):
    """The host resolves to an address the policy refuses (raised by the resolver)."""


class HostNotFound(OSError):
    """The host name does not exist (NXDOMAIN), as opposed to a DNS failure."""


def parse_networks(texts: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDRs such as ``10.1.0.0/16`` or ``127.0.0.1``; raises ``ValueError`` for a bad one."""
    return tuple(ipaddress.ip_network(t.strip(), strict=False) for t in texts)


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which addresses the checker may connect to."""

    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = field(default_factory=tuple)

    def refusal(self, address: str | IPAddress) -> str | None:
        """Why ``address`` may not be fetched, or ``None`` when it may."""
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if self.allow_private or any(ip in net for net in self.allowed_networks):
            return None
        kind = _internal_kind(ip)
        return None if kind is None else f"{kind} address {ip}"


def _internal_kind(ip: IPAddress) -> str | None:
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "non-global"
    return None


def url_refusal(url: str, policy: AddressPolicy) -> str | None:
    """Why ``url`` may not be fetched before resolving it: scheme, missing host, IP literal."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        return f"invalid URL: {exc}"
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        return f"unsupported scheme {scheme or '(none)'}:"
    if not host:
        return "URL without a host"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: the resolver checks what it resolves to
    return policy.refusal(ip)


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
            results = await super().resolve(host, port, family)
        except socket.gaierror as exc:
            if exc.errno in _NOT_FOUND_ERRNOS:
                raise HostNotFound(exc.errno, f"host not found: {host}") from exc
            raise
        for result in results:
            reason = self.policy.refusal(result["host"])
            if reason is not None:
                raise AddressRefused(f"{host} resolves to a {reason}")
        return results
