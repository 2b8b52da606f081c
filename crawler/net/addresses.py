"""One address policy for every fetch: may govwatch connect to this URL's host?

Pages come from the internet, so a link, a redirect or a typed URL naming ``127.0.0.1``,
``10.0.0.5`` or an intranet name must not make govwatch talk to its own network (SSRF).  The
crawl (Scrapy), the link checker (aiohttp) and ``govwatch extract URL`` all ask this module,
before every request and every redirect hop, and their resolvers ask it again for the address
a name resolved to (the address checked is the address connected to).

Why hand-written rather than ``ipaddress.ip_address(urlsplit(url).hostname)``:

- ``urlsplit`` keeps Unicode look-alikes (``１２７.０.０.１``, ``127。0。0。1``, ``①②⑦.0.0.1``,
  ``𝟏𝟐𝟕.𝟎.𝟎.𝟏``) that the HTTP clients fold to ASCII with IDNA/UTS46 mapping before they
  connect, and reads ``http://127.0.0.1\\@ccdi.gov.cn/`` differently from them: we map the
  host as the clients do (percent-decoding, UTS46, NFKC) and check every reading of the URL;
- ``ipaddress`` accepts dotted-quad decimal only, while browsers (the WHATWG URL standard)
  and the C resolver (``inet_aton``) also read ``2130706433``, ``0177.0.0.1``, ``0x7f.1`` and
  ``127.1`` as ``127.0.0.1``: :func:`parse_ipv4` implements the WHATWG number parser;
- IPv6 addresses carry IPv4 ones (mapped, compatible, 6to4, NAT64) and, on Python 3.11,
  ``ipaddress`` calls ``224.0.0.1`` or ``2002:7f00:1::`` global: :func:`internal_kind`
  looks inside;
- what is allowed depends on what the operator named (the origins of a site's start URLs,
  ``allowed_networks``), not on the address alone.

Pure: no network, no HTTP client imported.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import stringprep
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from urllib.parse import unquote, urlsplit

import idna

from storage.errors import FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Origin = tuple[str, str, int]  # scheme, normalised host, port
ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}

_TAB_NEWLINE = re.compile(r"[\t\n\r]")
_C0_AND_SPACE = "".join(map(chr, range(0x21)))  # stripped from both ends of a URL (WHATWG)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_SIXTOFOUR = ipaddress.ip_network("2002::/16")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
# IDNA 2003 label separators: U+3002, U+FF0E and U+FF61 are dots to every IDNA encoder
_IDNA_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


class AddressRefusedError(FetchError):
    """A fetch refused by the address policy: recorded as ``refused``, never as a failure."""


class InvalidHost(ValueError):
    """A host the clients would not connect to, or would read in a way we cannot tell."""


def parse_networks(texts: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDRs such as ``10.1.0.0/16`` or ``127.0.0.1``; raises ``ValueError`` for a bad one."""
    return tuple(ipaddress.ip_network(t.strip(), strict=False) for t in texts)


def normalize_host(raw: str) -> str:
    """The host as the HTTP clients send it to the resolver: lower case ASCII, mapped.

    Percent-escapes decoded, IDNA/UTS46 mapping (fullwidth and circled digits, ideographic
    full stops, case), NFKC for what UTS46 leaves, brackets of an IPv6 literal and its zone
    id removed.  Raises :class:`InvalidHost` for a host that no mapping makes sense of.
    """
    host = _TAB_NEWLINE.sub("", raw).strip()
    if host.startswith("[") and host.endswith("]"):
        inner = unquote(host[1:-1]).split("%", 1)[0]
        try:
            return str(ipaddress.IPv6Address(inner))
        except ValueError as exc:
            raise InvalidHost(f"invalid IPv6 address {raw!r}") from exc
    host = unquote(host)
    # a host UTS46 rejects is still folded by NFKC below
    with contextlib.suppress(idna.IDNAError, UnicodeError, ValueError):
        host = idna.uts46_remap(host, std3_rules=False, transitional=False)
    host = unicodedata.normalize("NFKC", host).lower()
    # What UTS46 refused is encoded by the clients' fallback, IDNA 2003 (``str.encode("idna")``
    # in yarl and Twisted): its dots, NFKC and the characters it maps to nothing (stringprep
    # B.1: soft hyphen, zero-width joiners …).  ``127\u20240。0。1`` is 127.0.0.1 to aiohttp.
    host = "".join(c for c in host if not stringprep.in_table_b1(c)).translate(_IDNA_DOTS)
    if not host:
        raise InvalidHost("empty host")
    if any(unicodedata.category(c)[0] in "CZ" for c in host):
        # controls, format characters (bidi overrides), spaces: no client sends them, a
        # resolver may cut the name at one (inet_aton reads "127.0.0.1 x" as 127.0.0.1)
        raise InvalidHost(f"control, format or space character in host {raw!a}")
    return host


def parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The WHATWG IPv4 parser: ``2130706433``, ``0177.0.0.1``, ``0x7f.1``, ``127.1``.

    ``None`` when ``host`` is a name; raises :class:`InvalidHost` when it ends in a number
    but is no valid address (clients refuse it, resolvers may still read it).
    """
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if not _is_number(parts[-1]):
        return None
    if len(parts) > 4:
        raise InvalidHost(f"{host!r} is neither a name nor an IPv4 address")
    numbers: list[int] = []
    for part in parts:
        if not _is_number(part):
            raise InvalidHost(f"{host!r} is neither a name nor an IPv4 address")
        numbers.append(_number(part))
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise InvalidHost(f"{host!r}: IPv4 number out of range")
    value = last
    for index, n in enumerate(head):
        value += n * 256 ** (3 - index)
    return ipaddress.IPv4Address(value)


def _is_number(part: str) -> bool:
    if part[:2] in ("0x", "0X"):
        return all(c in "0123456789abcdefABCDEF" for c in part[2:])
    return part.isascii() and part.isdigit()


def _number(part: str) -> int:
    if part[:2] in ("0x", "0X"):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        try:
            return int(part[1:], 8)
        except ValueError as exc:
            raise InvalidHost(f"{part!r} is not an octal number") from exc
    return int(part)


def parse_host(raw: str) -> IPAddress | str:
    """The address a host denotes, or its normalised name (see :func:`normalize_host`)."""
    host = normalize_host(raw)
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError as exc:
            raise InvalidHost(f"invalid host {raw!r}") from exc
    ip = parse_ipv4(host)
    return host if ip is None else ip


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries: mapped, compatible, 6to4 or NAT64."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _SIXTOFOUR:
        return ip.sixtofour
    value = int(ip)
    if any(ip in net for net in _NAT64) or (value >> 32 == 0 and value > 1):
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)  # NAT64, IPv4-compatible
    return None


def _translated(ip: IPAddress) -> bool:
    return isinstance(ip, ipaddress.IPv6Address) and (
        ip.ipv4_mapped is not None or ip in _SIXTOFOUR or any(ip in net for net in _NAT64)
    )


def internal_kind(ip: IPAddress) -> str | None:
    """Why ``ip`` is internal (``loopback``, ``private`` …), or ``None`` for a public one."""
    inner = embedded_ipv4(ip)
    if inner is not None:
        kind = internal_kind(inner)
        if kind is not None or _translated(ip):
            return kind  # mapped, 6to4 and NAT64 addresses are what they carry
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "site-local"  # fec0::/10: deprecated, still routed inside networks; global to 3.11
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified:
        return "unspecified"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "shared (CGNAT)"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "non-global"
    return None


def is_local_name(name: str) -> bool:
    """``localhost`` and its kin (RFC 6761): loopback by definition, whatever DNS says."""
    bare = name.rstrip(".")
    return bare in _LOCAL_NAMES or bare.endswith(".localhost")


def url_readings(url: str) -> list[tuple[str, str, int]]:
    """Each (scheme, raw host, port) a client may read ``url`` as; raises ``ValueError``.

    Python's ``urlsplit`` and the WHATWG reading (backslash as slash, tabs and newlines
    dropped) differ for ``http://127.0.0.1\\@ccdi.gov.cn/``: both are returned.
    """
    text = url.strip(_C0_AND_SPACE)
    variants = [text, _TAB_NEWLINE.sub("", text).replace("\\", "/")]
    readings: list[tuple[str, str, int]] = []
    for variant in variants:
        parts = urlsplit(variant)
        scheme = parts.scheme.lower()
        netloc = parts.netloc.rpartition("@")[2]
        if netloc.startswith("["):
            host = netloc[: netloc.find("]") + 1]
        else:
            host = netloc.rpartition(":")[0] if ":" in netloc else netloc
        port = DEFAULT_PORTS.get(scheme, 0) if parts.port is None else parts.port  # ":0" is 0
        reading = (scheme, host, port)
        if reading not in readings:
            readings.append(reading)
    return readings


def origin(url: str) -> Origin:
    """(scheme, normalised host, port) of ``url``; raises ``ValueError`` for a bad URL."""
    scheme, host, port = url_readings(url)[-1]
    return scheme, str(parse_host(host)), port


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which addresses a fetcher may connect to.

    Internal addresses (loopback, private, link-local, CGNAT, multicast, unspecified,
    reserved) are refused unless ``allow_private`` is set, the address is in one of
    ``allowed_networks``, or the URL's origin is one of ``allowed_origins`` (the operator
    named it: a site's start URL, the URL given to ``extract``).
    """

    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = field(default_factory=tuple)
    allowed_origins: frozenset[Origin] = field(default_factory=frozenset)

    def with_origins(self, urls: Iterable[str]) -> AddressPolicy:
        """This policy, also allowing the origins of ``urls`` (bad URLs are skipped)."""
        origins = set(self.allowed_origins)
        for url in urls:
            try:
                origins.add(origin(url))
            except ValueError:
                continue
        return replace(self, allowed_origins=frozenset(origins))

    def allowed_hosts(self) -> frozenset[str]:
        """The hosts of the allowed origins (for resolvers, which do not see the port)."""
        return frozenset(host for _, host, _ in self.allowed_origins)

    def refusal(self, address: str | IPAddress) -> str | None:
        """Why ``address`` may not be connected to, or ``None`` when it may."""
        try:
            ip = (
                address
                if not isinstance(address, str)
                else ipaddress.ip_address(address.split("%")[0])
            )
        except ValueError:
            return f"not an IP address: {address!r}"
        if self.allow_private or self._in_allowed_network(ip):
            return None
        kind = internal_kind(ip)
        return None if kind is None else f"{kind} address {ip}"

    def _in_allowed_network(self, ip: IPAddress) -> bool:
        candidates = [ip]
        inner = embedded_ipv4(ip)
        if inner is not None:
            candidates.append(inner)
        return any(c in net for c in candidates for net in self.allowed_networks)

    def url_refusal(self, url: str) -> str | None:
        """Why ``url`` may not be fetched, judged before resolving: scheme, host, address.

        A name is judged here only when it is ``localhost`` or kin; the resolver judges what
        other names resolve to.  Every reading of the URL must pass.
        """
        try:
            readings = url_readings(url)
        except ValueError as exc:
            return f"invalid URL: {exc}"
        for scheme, raw_host, port in readings:
            reason = self._reading_refusal(scheme, raw_host, port)
            if reason is not None:
                return reason
        return None

    def _reading_refusal(self, scheme: str, raw_host: str, port: int) -> str | None:
        if scheme not in ALLOWED_SCHEMES:
            return f"unsupported scheme {scheme or '(none)'}:"
        if not raw_host:
            return "URL without a host"
        try:
            host = parse_host(raw_host)
        except InvalidHost as exc:
            return f"invalid host: {exc}"
        if (scheme, str(host), port) in self.allowed_origins or self.allow_private:
            return None
        if isinstance(host, str):
            if is_local_name(host) and self.refusal("127.0.0.1") is not None:
                return f"loopback name {host}"
            return None
        reason = self.refusal(host)
        if reason is not None and str(host) != raw_host.strip("[]").lower():
            reason += f" (written {raw_host})"
        return reason
