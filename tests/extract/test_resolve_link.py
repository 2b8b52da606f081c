"""Links resolved once per directory of pages give what joining each page's URL gives."""

from __future__ import annotations

import itertools
import random

from crawler.extract import links
from crawler.extract.links import resolve_link

BASES = [
    "http://www.ccdi.gov.cn/yaowenn/202406/t20240601_1.html",
    "http://www.ccdi.gov.cn/yaowenn/202406/t20240601_2.html?from=list&x=/a/b",
    "http://www.ccdi.gov.cn/yaowenn/202406/#top/x",
    "http://www.ccdi.gov.cn/yaowenn/202406/index_3.html#p?q",
    "https://jjc.cq.gov.cn:8443/html/2024-06/30/content_1.htm",
    "https://jjc.cq.gov.cn:8443/html/2024-06/30/content_2.htm?a=1",
    "http://user@[::1]:8080/a/../b/c.html",
    "http://user@[::1]:8080/a/../b/d.html",
    "http://host",
    "http://host/",
    "http://host/a;p/b/c.html",  # path parameters: not remembered
    "http://host/a;p/b/d.html",
    "http://host/a/b;p",
    "http://host/a/b;q",
    "HTTP://Host/A/B",
    "HTTP://Host/A/C",
    "javascript:void(0)",
]
HREFS = [
    "t1.html", "./t1.html", "../index.html", "../../", "..", ".", "/", "/a/b.html",
    "//other.gov.cn/x", "http://abs.gov.cn/p#frag", "https:rel.html", "http:rel.html",
    "?page=2", "#top", "", "  ", " ../x.html ", " ?q=1", "\n?q", "a\tb.html", "g;x", ";x",
    "a/./b/../c.html", "%2e%2e/x", "..\\x.html", "a?b#c", "mailto:x@y.cn", "javascript:;",
    "ftp://f.gov.cn/a", "weixin://x", "中文.html", "http://[::1", "//", "///x",
]  # fmt: skip


def test_every_href_against_every_base_as_joined_alone() -> None:
    links._resolved.clear()
    pairs = list(itertools.product(BASES, HREFS))
    random.Random(7).shuffle(pairs)  # each directory's entry made by any of its pages
    for _ in range(2):  # the second time, every remembered answer is read back
        for base, href in pairs:
            assert resolve_link(base, href) == links._resolve(base, href), (base, href)
    assert links._resolved  # the navigation links were remembered


def test_the_memory_is_bounded() -> None:
    links._resolved.clear()
    for n in range(links._RESOLVED + 10):
        resolve_link("http://host/a/b.html", f"p{n}.html")
    assert len(links._resolved) <= links._RESOLVED
    long = "x" * (links._REMEMBERED_HREF + 1)
    assert resolve_link("http://host/a/b.html", long) == "http://host/a/" + long
    assert ("http://host/a/", long) not in links._resolved


def test_random_hrefs_against_pages_of_shared_directories() -> None:
    rng = random.Random(11)
    pieces = ["a", "..", ".", "", "b.html", ";p", "?q=1", "#f", "//h.cn", "http:", "https:",
              " ", "%2F", "\\", "中", "x?y#z", "//", "?", "#"]  # fmt: skip
    directories = [
        "http://h.gov.cn/", "http://h.gov.cn/a/", "http://h.gov.cn/a/b/", "https://h.gov.cn:81/a/",
        "http://h.gov.cn/a/../c/",
    ]  # fmt: skip
    pages = [d + name for d in directories for name in ("", "p.html", "q.htm?x=1", "r#s")]
    links._resolved.clear()
    for _ in range(20_000):
        href = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 4)))
        base = rng.choice(pages)
        assert resolve_link(base, href) == links._resolve(base, href), (base, href)
