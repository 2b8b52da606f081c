"""The link checker's jar keeps a cookie to its host (crawler.hostcookies.CheckerCookies)."""

from __future__ import annotations

from crawler.hostcookies import CheckerCookies


def test_a_cookie_for_a_country_code_second_level_domain_goes_to_no_other_site() -> None:
    # www.ccdi.gov.cn setting a cookie for .gov.cn (a header or a page script) must not have
    # it sent to every other gov.cn site the checker fetches (another commission's)
    cookies = CheckerCookies({"www.ccdi.gov.cn": "ccdi"})
    body = b'<script>document.cookie = "a=1; domain=.gov.cn; path=/";</script>'
    cookies.learn("https://www.ccdi.gov.cn/p", ["e=5; Domain=.gov.cn; Path=/"], body)
    cookies.learn("https://www.ccdi.gov.cn/p", ["c=3; Domain=.ccdi.gov.cn; Path=/"], None)
    assert cookies.header("https://www.hbjwjc.gov.cn/") is None
    assert cookies.header("https://www.ccdi.gov.cn/") == "c=3"
