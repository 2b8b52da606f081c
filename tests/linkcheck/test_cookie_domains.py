"""The link checker's jar keeps a cookie to its host (crawler.net.hostcookies.CheckerCookies)."""

from __future__ import annotations

from crawler.net.hostcookies import CheckerCookies


def test_a_cookie_for_a_country_code_second_level_domain_goes_to_no_other_site() -> None:
    # www.ccdi.gov.cn setting a cookie for .gov.cn (a header or a page script) must not have
    # it sent to every other gov.cn site the checker fetches (another commission's)
    cookies = CheckerCookies({"www.ccdi.gov.cn": "ccdi"})
    body = b'<script>document.cookie = "a=1; domain=.gov.cn; path=/";</script>'
    cookies.learn("https://www.ccdi.gov.cn/p", ["e=5; Domain=.gov.cn; Path=/"], body)
    cookies.learn("https://www.ccdi.gov.cn/p", ["c=3; Domain=.ccdi.gov.cn; Path=/"], None)
    assert cookies.header("https://www.hbjwjc.gov.cn/") is None
    assert cookies.header("https://www.ccdi.gov.cn/") == "c=3"


def test_the_crawls_jar_keeps_no_cookie_for_gov_cn_either() -> None:
    # the crawl saves its jar in host_cookies, and every gov.cn site's crawl loads '.gov.cn'
    from scrapy.http import HtmlResponse, Request

    from crawler.guards.cookiejar import ReplayCookiesMiddleware

    mw = ReplayCookiesMiddleware()
    request = Request("https://www.ccdi.gov.cn/p")
    response = HtmlResponse(
        "https://www.ccdi.gov.cn/p",
        headers={"Set-Cookie": ["e=5; Domain=.gov.cn; Path=/", "c=3; Domain=.ccdi.gov.cn"]},
        body=b"<html></html>",
        request=request,
    )
    jar = mw.jars[None]
    jar.extract_cookies(response, request)
    assert sorted(c.domain for c in jar) == [".ccdi.gov.cn"]
