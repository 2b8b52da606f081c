from __future__ import annotations

import pytest

from crawler.canonical import canonicalize


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
