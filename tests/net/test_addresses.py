"""The address policy (crawler.net.addresses) and the resolvers that apply it, without a network.

The spelling matrix here is judged at the policy layer only, so internal addresses outside
loopback (10.x, 169.254.x, 6to4 and NAT64 forms) are never connected to;
``test_ssrf_matrix.py`` proves the same spellings are refused by the real fetchers.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import pytest
from scrapy import resolver as scrapy_resolver
from twisted.python.failure import Failure

from crawler.guards.addressguard import GuardedCachingResolver, ResolverRefused, crawl_policy
from crawler.net.addresses import (
    AddressPolicy,
    InvalidHost,
    internal_kind,
    origin,
    parse_host,
    parse_ipv4,
    parse_networks,
)
from crawler.net.ssrf import AddressRefused, GuardedResolver

# (host as written in a URL, the address a client connects to)
LOOK_ALIKES = [
    ("１２７.０.０.１", "127.0.0.1"),  # fullwidth digits
    ("127。0。0。1", "127.0.0.1"),  # U+3002 ideographic full stop
    ("127．0．0．1", "127.0.0.1"),  # U+FF0E fullwidth full stop
    ("127｡0｡0｡1", "127.0.0.1"),  # U+FF61 halfwidth ideographic full stop
    ("①②⑦.0.0.1", "127.0.0.1"),  # circled digits
    ("𝟏𝟐𝟕.𝟎.𝟎.𝟏", "127.0.0.1"),  # mathematical bold digits
    ("１６９.２５４.１６９.２５４", "169.254.169.254"),  # cloud metadata
    ("１０.０.０.１", "10.0.0.1"),
    ("%31%32%37.0.0.1", "127.0.0.1"),  # percent-escaped
    # UTS46 refuses U+2024 and NFKC leaves U+3002: the clients' IDNA 2003 fallback folds both
    ("127․0。0。1", "127.0.0.1"),
    ("1２7․0｡0．1", "127.0.0.1"),
    ("10․0。0。1", "10.0.0.1"),
    # characters IDNA 2003 maps to nothing (Twisted's and yarl's fallback)
    ("127.0.0.1‍", "127.0.0.1"),
    ("127.0.0.1‌", "127.0.0.1"),
    ("1­27.0.0.1", "127.0.0.1"),
]
NUMERIC = [
    ("2130706433", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("0x7f.1", "127.0.0.1"),
    ("0x7F.0.0.1", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("127.0.1", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("017700000001", "127.0.0.1"),
    ("127.000.000.001", "127.0.0.1"),
    ("127.0.0.1.", "127.0.0.1"),
    ("2852039166", "169.254.169.254"),
    ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
    ("10.1", "10.0.0.1"),
    ("0", "0.0.0.0"),
    ("0300.0250.1.1", "192.168.1.1"),
]
IPV6 = [
    ("[::1]", "::1"),
    ("[0:0:0:0:0:0:0:1]", "::1"),
    ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
    ("[0:0:0:0:0:ffff:7f00:1]", "::ffff:7f00:1"),
    ("[::ffff:7f00:1]", "::ffff:7f00:1"),
    ("[::127.0.0.1]", "::7f00:1"),  # IPv4-compatible
    ("[2002:7f00:1::]", "2002:7f00:1::"),  # 6to4 of 127.0.0.1
    ("[2002:a9fe:a9fe::1]", "2002:a9fe:a9fe::1"),  # 6to4 of 169.254.169.254
    ("[64:ff9b::7f00:1]", "64:ff9b::7f00:1"),  # NAT64 of 127.0.0.1
    ("[64:ff9b::a9fe:a9fe]", "64:ff9b::a9fe:a9fe"),  # NAT64 of the metadata address
    ("[64:ff9b:1::a00:1]", "64:ff9b:1::a00:1"),  # local-use NAT64 of 10.0.0.1
    ("[::ffff:a9fe:a9fe]", "::ffff:a9fe:a9fe"),
    ("[fe80::1%25eth0]", "fe80::1"),  # zone id
    ("[fd00::1]", "fd00::1"),
    ("[fec0::1]", "fec0::1"),  # site-local (deprecated, still routed): Python calls it global
    ("[ff02::1]", "ff02::1"),
    ("[::]", "::"),
]
OTHER_INTERNAL = [
    ("10.0.0.1", "10.0.0.1"),
    ("172.16.5.4", "172.16.5.4"),
    ("192.168.1.1", "192.168.1.1"),
    ("100.64.0.1", "100.64.0.1"),  # CGNAT
    ("169.254.169.254", "169.254.169.254"),
    ("224.0.0.1", "224.0.0.1"),
    ("239.255.255.250", "239.255.255.250"),
    ("255.255.255.255", "255.255.255.255"),
    ("240.0.0.1", "240.0.0.1"),
    ("0.0.0.0", "0.0.0.0"),
]
SPELLINGS = LOOK_ALIKES + NUMERIC + IPV6 + OTHER_INTERNAL
NAMES = ["localhost", "localhost.", "LOCALHOST", "LocalHost.", "ⓛⓞⓒⓐⓛⓗⓞⓢⓣ", "www.localhost"]


def test_the_matrix_is_large() -> None:
    assert len(SPELLINGS) + len(NAMES) >= 40


@pytest.mark.parametrize(("written", "address"), SPELLINGS)
def test_each_spelling_is_read_as_the_client_reads_it_and_refused(
    written: str, address: str
) -> None:
    assert str(parse_host(written)) == address
    policy = AddressPolicy()
    for url in (
        f"http://{written}/",
        f"https://{written}:8443/a?b=c",
        f"HTTP://{written}/",
        f"http://ccdi.gov.cn@{written}/",  # userinfo: the host is after the @
        f"http://user:pw@{written}:80/x",
    ):
        reason = policy.url_refusal(url)
        assert reason is not None, url
        assert "address" in reason, (url, reason)
    # an allowed network lets it through, whatever the spelling
    network = "::/0" if ":" in address else "0.0.0.0/0"
    allowed = AddressPolicy(allowed_networks=parse_networks([network, "::/0"]))
    assert allowed.url_refusal(f"http://{written}/") is None


@pytest.mark.parametrize("name", NAMES)
def test_loopback_names_are_refused_by_name(name: str) -> None:
    assert AddressPolicy().url_refusal(f"http://{name}:8080/") == (
        f"loopback name {parse_host(name)}"
    )
    assert AddressPolicy(allow_private=True).url_refusal(f"http://{name}/") is None
    loopback_allowed = AddressPolicy(allowed_networks=parse_networks(["127.0.0.0/8"]))
    assert loopback_allowed.url_refusal(f"http://{name}/") is None


def test_the_whatwg_reading_of_backslashes_is_checked_too() -> None:
    # urlsplit: host ccdi.gov.cn; browsers, w3lib and Scrapy: host 127.0.0.1
    assert "loopback" in (AddressPolicy().url_refusal("http://127.0.0.1\\@ccdi.gov.cn/") or "")
    assert "loopback" in (AddressPolicy().url_refusal("http://127.0.0.\t1/") or "")


@pytest.mark.parametrize(
    "url",
    ["http://999.1.1.1/", "http://1.2.3.4.5/", "http://a.b.1/", "http://0x7g.1/", "http://[::1/"],
)
def test_hosts_no_client_can_read_are_refused(url: str) -> None:
    reason = AddressPolicy().url_refusal(url) or ""
    assert reason.startswith(("invalid host", "invalid URL")), reason


@pytest.mark.parametrize(
    "url",
    [
        "https://www.ccdi.gov.cn/yaowenn/",
        "http://202.108.22.5/",
        "http://3396474373/",  # 202.midpoint, numeric but public
        "http://[2400:da00::6666]/",
        "https://中央纪委.中国/",
        "http://jjc.cq.gov.cn:8080/html/col609191.htm",
    ],
)
def test_public_hosts_pass(url: str) -> None:
    assert AddressPolicy().url_refusal(url) is None


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/", "gopher://x/", "data:text/html,hi"]
)
def test_other_schemes_are_refused(url: str) -> None:
    assert (AddressPolicy(allow_private=True).url_refusal(url) or "").startswith(
        "unsupported scheme"
    )


def test_parse_ipv4_follows_whatwg() -> None:
    assert parse_ipv4("ccdi.gov.cn") is None
    assert parse_ipv4("1.2.3.4") == ipaddress.IPv4Address("1.2.3.4")
    assert parse_ipv4("4294967295") == ipaddress.IPv4Address("255.255.255.255")
    with pytest.raises(InvalidHost):
        parse_ipv4("4294967296")
    with pytest.raises(InvalidHost):
        parse_ipv4("1.256.1")  # a middle part over 255
    with pytest.raises(InvalidHost):
        parse_ipv4("08.1.1.1")  # not octal


def test_embedded_ipv4_decides() -> None:
    assert internal_kind(ipaddress.ip_address("2002:7f00:1::")) == "loopback"
    assert internal_kind(ipaddress.ip_address("64:ff9b::a00:1")) == "private"
    assert internal_kind(ipaddress.ip_address("2002:cad4:1605::")) is None  # 6to4 of public
    assert internal_kind(ipaddress.ip_address("64:ff9b::cad4:1605")) is None


def test_operator_named_origins_are_allowed_by_scheme_host_and_port() -> None:
    policy = crawl_policy([], ["http://127.0.0.1:8080/yaowenn/", "http://localhost:9000/x"])
    assert policy.url_refusal("http://127.0.0.1:8080/a/b.html") is None
    assert policy.url_refusal("http://１２７.０.０.１:8080/a") is None  # the same origin
    assert policy.url_refusal("http://2130706433:8080/a") is None
    assert policy.url_refusal("http://localhost:9000/a") is None
    assert policy.url_refusal("http://127.0.0.1:8081/") is not None  # another port
    assert policy.url_refusal("https://127.0.0.1:8080/") is not None  # another scheme
    assert policy.url_refusal("http://127.0.0.2:8080/") is not None  # another host
    assert policy.url_refusal("http://localhost:22/") is not None
    port_80 = crawl_policy([], ["http://127.0.0.1/list"])
    assert port_80.url_refusal("http://127.0.0.1:80/a") is None
    assert port_80.url_refusal("http://127.0.0.1:0/a") is not None  # port 0 is not port 80
    assert origin("HTTP://ＷＷＷ.ccdi.gov.cn/x") == ("http", "www.ccdi.gov.cn", 80)


# ---- resolvers: names resolving to internal addresses ------------------------------------

FAKE_DNS = {"intranet.example": "10.0.0.5", "metadata.example": "169.254.169.254"}


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names of this test resolve to internal addresses; no query leaves the process."""

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in FAKE_DNS:
            raise socket.gaierror(socket.EAI_NONAME, "not found")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (FAKE_DNS[name], port or 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize("name", sorted(FAKE_DNS))
def test_the_link_resolver_refuses_names_resolving_inside(fake_dns: None, name: str) -> None:
    async def resolve(policy: AddressPolicy, port: int = 80) -> Any:
        return await GuardedResolver(policy).resolve(name, port)

    with pytest.raises(AddressRefused, match=f"{name} resolves to a"):
        asyncio.run(resolve(AddressPolicy()))
    allowed = AddressPolicy(allowed_networks=parse_networks(["10.0.0.0/8", "169.254.0.0/16"]))
    assert asyncio.run(resolve(allowed))[0]["host"] == FAKE_DNS[name]
    named = AddressPolicy().with_origins([f"http://{name}/"])  # the operator named it
    assert asyncio.run(resolve(named))[0]["host"] == FAKE_DNS[name]
    with pytest.raises(AddressRefused):  # … on its port only
        asyncio.run(resolve(named, 22))


def test_the_link_resolver_refuses_loopback_names_without_asking() -> None:
    async def resolve() -> Any:
        return await GuardedResolver(AddressPolicy()).resolve("localhost.", 80)

    with pytest.raises(AddressRefused, match="loopback name"):
        asyncio.run(resolve())


def _outcome(deferred: Any) -> Any:
    got: list[Any] = []
    deferred.addBoth(got.append)
    assert got, "the resolver should answer at once (cached or refused)"
    return got[0]


def test_the_crawl_resolver_checks_every_answer_cached_or_not() -> None:
    reactor = object()  # answers come from the cache: the reactor's threads are not used
    scrapy_resolver.dnscache["intranet.example"] = "10.0.0.5"
    scrapy_resolver.dnscache["www.example.gov.cn"] = "202.108.22.5"
    scrapy_resolver.dnscache["site.example"] = "127.0.0.1"
    try:
        policy = crawl_policy([], ["http://site.example:8080/"])
        resolver = GuardedCachingResolver(reactor, 100, 5.0, policy)  # type: ignore[arg-type]
        refused = _outcome(resolver.getHostByName("intranet.example"))
        assert isinstance(refused, Failure) and refused.check(ResolverRefused)
        assert "intranet.example resolves to a private address 10.0.0.5" in str(refused.value)
        assert _outcome(resolver.getHostByName("www.example.gov.cn")) == "202.108.22.5"
        assert _outcome(resolver.getHostByName("site.example")) == "127.0.0.1"  # a start URL
        local = _outcome(resolver.getHostByName("LOCALHOST"))
        assert isinstance(local, Failure) and local.check(ResolverRefused)
        intranet = crawl_policy(["10.0.0.0/8"])
        allowed = GuardedCachingResolver(reactor, 100, 5.0, intranet)  # type: ignore[arg-type]
        assert _outcome(allowed.getHostByName("intranet.example")) == "10.0.0.5"
    finally:
        for name in ("intranet.example", "www.example.gov.cn", "site.example"):
            scrapy_resolver.dnscache.pop(name, None)
