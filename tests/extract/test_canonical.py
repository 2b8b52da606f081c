from __future__ import annotations

import pytest

from crawler.extract.canonical import canonicalize


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://WWW.CCDI.gov.cn:80/yaowenn/index.html", "https://www.ccdi.gov.cn/yaowenn/"),
        ("https://www.ccdi.gov.cn:443/yaowenn/", "https://www.ccdi.gov.cn/yaowenn/"),
        ("https://www.ccdi.gov.cn/yaowenn/#top", "https://www.ccdi.gov.cn/yaowenn/"),
        ("https://a.gov.cn/x.html?utm_source=wx&spm=1.2&id=3", "https://a.gov.cn/x.html?id=3"),
        ("https://a.gov.cn/x.html?b=2&a=1", "https://a.gov.cn/x.html?a=1&b=2"),
        ("http://a.gov.cn:8080/x", "https://a.gov.cn:8080/x"),
        ("https://a.gov.cn/中文.html", "https://a.gov.cn/%E4%B8%AD%E6%96%87.html"),
        ("https://a.gov.cn/%e4%b8%ad%e6%96%87.html", "https://a.gov.cn/%E4%B8%AD%E6%96%87.html"),
        ("https://a.gov.cn", "https://a.gov.cn/"),
        ("https://a.gov.cn/col/default.htm", "https://a.gov.cn/col/"),
        ("mailto:x@a.gov.cn", "mailto:x@a.gov.cn"),
    ],
)
def test_canonical_forms(url: str, expected: str) -> None:
    assert canonicalize(url) == expected


def test_distinct_pages_stay_distinct() -> None:
    urls = [
        "https://a.gov.cn/x.html?id=1",
        "https://a.gov.cn/x.html?id=2",
        "https://a.gov.cn/X.html",
        "https://b.gov.cn/x.html?id=1",
    ]
    assert len({canonicalize(u) for u in urls}) == len(urls)


# --- never merge two resources (issue 11) -------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # escapes kept byte-exact, hex upper-cased
        ("https://a.gov.cn/att/%b8%bd%bc%fe.doc", "https://a.gov.cn/att/%B8%BD%BC%FE.doc"),
        ("https://a.gov.cn/a%2fb", "https://a.gov.cn/a%2Fb"),
        ("https://a.gov.cn/a%3Fb", "https://a.gov.cn/a%3Fb"),
        ("https://a.gov.cn/a%21b%3Dc", "https://a.gov.cn/a%21b%3Dc"),
        ("https://a.gov.cn/100%25", "https://a.gov.cn/100%25"),
        ("https://a.gov.cn/100%", "https://a.gov.cn/100%25"),
        ("https://a.gov.cn/%zz", "https://a.gov.cn/%25zz"),
        # unreserved escapes decoded
        ("https://a.gov.cn/%41%62%2D%2e%5F%7e", "https://a.gov.cn/Ab-._~"),
        # raw characters: non-ASCII as UTF-8, unsafe ASCII escaped
        ("https://a.gov.cn/附件 1.doc", "https://a.gov.cn/%E9%99%84%E4%BB%B6%201.doc"),
        ('https://a.gov.cn/a"b<c>', "https://a.gov.cn/a%22b%3Cc%3E"),
        # query: a form, byte-exact
        ("https://a.gov.cn/s?q=%C3%C0%B9%FA", "https://a.gov.cn/s?q=%C3%C0%B9%FA"),
        ("https://a.gov.cn/s?q=a%20b", "https://a.gov.cn/s?q=a+b"),
        ("https://a.gov.cn/s?q=a+b", "https://a.gov.cn/s?q=a+b"),
        ("https://a.gov.cn/s?q=中国", "https://a.gov.cn/s?q=%E4%B8%AD%E5%9B%BD"),
        ("https://a.gov.cn/s?flag&b=", "https://a.gov.cn/s?b=&flag="),
        # not canonicalisable: returned as given (stripped), never an exception
        ("http://[::1/x", "http://[::1/x"),
        ("http://a.gov.cn:99999/x", "http://a.gov.cn:99999/x"),
    ],
)
def test_escapes_are_kept_byte_exact(url: str, expected: str) -> None:
    assert canonicalize(url) == expected


@pytest.mark.parametrize(
    "urls",
    [
        # GBK-escaped file names (附件.doc vs 中文.doc), the collision the issue found
        ["https://a.gov.cn/att/%B8%BD%BC%FE.doc", "https://a.gov.cn/att/%D6%D0%CE%C4.doc"],
        # an escaped slash is not a slash
        ["https://a.gov.cn/a%2Fb", "https://a.gov.cn/a/b"],
        ["https://a.gov.cn/a%3Fb", "https://a.gov.cn/a?b"],
        ["https://a.gov.cn/a%23b", "https://a.gov.cn/a#b"],
        ["https://a.gov.cn/x%2541", "https://a.gov.cn/x%41"],
        ["https://a.gov.cn/a%2Bb", "https://a.gov.cn/a+b"],
        # GBK and UTF-8 spellings of 中国 in a query are different requests
        ["https://a.gov.cn/s?q=%D6%D0%B9%FA", "https://a.gov.cn/s?q=%E4%B8%AD%E5%9B%BD"],
        ["https://a.gov.cn/s?q=%C3%C0%B9%FA", "https://a.gov.cn/s?q=%D6%D0%CE%C4"],
        # a literal plus is not a space
        ["https://a.gov.cn/s?q=a%2Bb", "https://a.gov.cn/s?q=a+b"],
        ["https://a.gov.cn/s?a=1&b=2", "https://a.gov.cn/s?a=1%26b%3D2"],
        # IPv6 hosts keep their brackets: host ::1 port 8080 is not host ::1:8080
        ["http://[::1]:8080/a", "http://[::1:8080]/a"],
        # port 0 is a port, not the default one
        ["http://a.gov.cn:0/", "http://a.gov.cn/"],
        # plain HTTP on port 443 is not HTTPS on its default port
        ["http://a.gov.cn:443/x", "https://a.gov.cn/x"],
    ],
)
def test_different_resources_never_merge(urls: list[str]) -> None:
    assert len({canonicalize(u) for u in urls}) == len(urls), [canonicalize(u) for u in urls]


@pytest.mark.parametrize(
    "urls",
    [
        [
            "https://a.gov.cn/%E4%B8%AD.html",
            "https://a.gov.cn/%e4%b8%ad.html",
            "https://a.gov.cn/中.html",
        ],
        ["https://a.gov.cn/a~b", "https://a.gov.cn/a%7Eb", "https://a.gov.cn/a%7eb"],
        ["http://A.gov.cn:80/x/index.html?utm_source=x#f", "https://a.gov.cn/x/"],
        ["https://a.gov.cn/s?b=2&a=%31", "https://a.gov.cn/s?a=1&b=2"],
    ],
)
def test_one_resource_one_key(urls: list[str]) -> None:
    assert len({canonicalize(u) for u in urls}) == 1, [canonicalize(u) for u in urls]


@pytest.mark.parametrize(
    "url",
    [
        "https://www.ccdi.gov.cn/yaowenn/202304/t20230411_257982.html",
        "https://jjc.cq.gov.cn/html/2024-06/30/content_53012345.htm",
        "https://jjc.cq.gov.cn/html/col609191.htm",
        "http://www.zjsjw.gov.cn/art/2024/6/3/art_123_456.html?id=7&page=2",
        "https://a.gov.cn/list.jsp?cat=%E4%B8%AD%E6%96%87&page=3",
        "https://a.gov.cn/中文/附件.pdf",
        "https://a.gov.cn/a%20b/c;v=1/(x)*!'$,@:",
    ],
)
def test_keys_of_ordinary_urls_did_not_change(url: str) -> None:
    """Stored keys stay valid: ordinary URLs canonicalise as the earlier version did."""
    from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)  # the earlier function, for these URLs (no tracking, no index)
    earlier = urlunsplit(
        (
            "https",
            parts.netloc.lower(),
            quote(unquote(parts.path), safe="/%:@!$&'()*+,;=-._~"),
            urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True))),
            "",
        )
    )
    assert canonicalize(url) == earlier


@pytest.mark.parametrize(
    "url",
    [
        "https://a.gov.cn/att/%b8%bd%bc%fe.doc",
        "https://a.gov.cn/a%2fb%25%41%zz/中文 x.html?q=%C3%C0+b&a=%E4%B8%AD&utm_source=1",
        "HTTP://A.gov.cn.:80/x/Index.HTML?b=&a",
        "https://a.gov.cn/s?q=%D6%D0%B9%FA#frag",
        "http://a.gov.cn:443/x",
        "HTTP://user@中央纪委.中国:443/a",
        "http://[::1]:8080/a",
        "http://[fe80::1%25eth0]/",
        "https://a.gov.cn:0/",
    ],
)
def test_canonical_form_is_a_fixed_point(url: str) -> None:
    once = canonicalize(url)
    assert canonicalize(once) == once


def test_canonical_form_is_a_fixed_point_over_random_urls() -> None:
    """A seeded fuzz (stdlib ``random``): no input crashes, every key is its own key."""
    import random

    rng = random.Random(11)
    schemes = ["http", "https", "HTTP", "ftp", ""]
    hosts = ["a.gov.cn", "A.Gov.CN.", "[::1]", "[::1:8080]", "中央纪委.中国", "u:p@h", "", "[::1"]
    ports = ["", ":80", ":443", ":8080", ":0", ":99999", ":", ":-1"]
    pieces = [*"/a%+?&=#;.\\~'\"<> \t\n\x00", "%2f", "%25", "%41", "%e4%b8%ad", "中", "%zz"]
    pieces += ["index.html", "utm_source=x", "%2B", "%26", "%3D", "\u202e", ".."]
    for _ in range(20000):
        path = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        url = f"{rng.choice(schemes)}://{rng.choice(hosts)}{rng.choice(ports)}/{path}"
        once = canonicalize(url)
        assert canonicalize(once) == once, url
