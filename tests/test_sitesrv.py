"""The test site server and the fake-site builders, checked over real local HTTP."""

from __future__ import annotations

import http.client
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from urllib.parse import urljoin, urlsplit

import pytest

from tests.sitesrv import (
    NGINX_404,
    CcdiSite,
    CqSite,
    Page,
    SiteServer,
    build_ccdi_site,
    build_cq_site,
)

Response = tuple[int, dict[str, str], bytes]
Site = CcdiSite | CqSite


def fetch(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> Response:
    """One raw request (no redirects followed): status, lower-cased headers, body."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, target, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


def items(html: str) -> list[str]:
    return re.findall(r'<li><a href="(\./\d{6}/t\d{8}_\d+\.html)"', html)


@pytest.fixture(scope="module")
def ccdi() -> CcdiSite:
    return build_ccdi_site(n_articles=23, per_page=10, gbk_every=4)


@pytest.fixture
def srv(ccdi: CcdiSite) -> Iterator[SiteServer]:
    with SiteServer(ccdi.pages) as server:
        yield server


def test_ccdi_list_pages_render_items_and_pagination_script(
    srv: SiteServer, ccdi: CcdiSite
) -> None:
    assert ccdi.list_paths == [
        "/yaowenn/index.html",
        "/yaowenn/index_1.html",
        "/yaowenn/index_2.html",
    ]
    with urllib.request.urlopen(srv.url("/yaowenn/"), timeout=5) as resp:
        first = resp.read().decode()
    assert first.encode() == ccdi.pages["/yaowenn/index.html"].body
    assert 'createPageHTML(3, 0, "index", "html");' in first
    assert "当前位置：" in first and '<ul class="list_news_dl2' in first
    expected = [a.path.removeprefix("/yaowenn/") for a in ccdi.articles[:10]]
    assert [h.removeprefix("./") for h in items(first)] == expected
    assert f'<span class="more">{ccdi.articles[0].publish_time:%Y-%m-%d}</span>' in first
    last = fetch(srv.url("/yaowenn/index_2.html"))[2].decode()
    assert len(items(last)) == 3
    assert 'createPageHTML(3, 2, "index", "html");' in last
    # non-article links for link filtering: home, a special page, an external site
    for href in ('href="../"', 'href="../special/jdbg3/"', 'href="http://www.12388.gov.cn/"'):
        assert href in first


def test_ccdi_article_page_shows_its_truth(srv: SiteServer, ccdi: CcdiSite) -> None:
    art = next(a for a in ccdi.articles if a.encoding == "utf-8" and a.author)
    status, headers, body = fetch(srv.url(art.path))
    html = body.decode()
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert re.search(
        rf"<title>\s*{re.escape(art.title)}————要闻——中央纪委国家监委网站\s*</title>", html
    )
    assert re.search(rf'<h2 class="tit">\s*{re.escape(art.title)}\s*</h2>', html)
    assert f"来源：{art.source}</em>" in html
    assert re.search(rf"发布时间：\s*{art.publish_time:%Y-%m-%d %H:%M}\s*</em>", html)
    assert f"中央纪委国家监委网站 {art.author}</span>" in html
    assert all(p in html for p in art.paragraphs)
    assert "主办单位：中央纪委国家监委" in html and "京ICP备" in html
    assert art.publish_time.utcoffset() is not None
    assert art.publish_time.utcoffset().total_seconds() == 8 * 3600  # type: ignore[union-attr]


def test_gbk_article_needs_gb18030_not_its_declared_gb2312(srv: SiteServer, ccdi: CcdiSite) -> None:
    gbk = [a for a in ccdi.articles if a.encoding == "gbk"]
    assert len(gbk) == 23 // 4
    status, headers, body = fetch(srv.url(gbk[0].path))
    assert status == 200 and headers["content-type"] == "text/html"
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    with pytest.raises(UnicodeDecodeError):
        body.decode("gb2312")  # the meta tag lies: GBK-only characters are in there
    html = body.decode("gb18030")
    assert '<meta charset="gb2312">' in html
    assert gbk[0].title in html and gbk[0].paragraphs[0] in html


def test_unknown_path_and_dead_embed_get_nginx_404(srv: SiteServer, ccdi: CcdiSite) -> None:
    assert ccdi.articles[1].embeds == ("/dead-embed/x.html",)
    assert 'src="/dead-embed/x.html"' in ccdi.pages[ccdi.articles[1].path].body.decode()
    for path in ("/dead-embed/x.html", "/no/such/page.html"):
        status, headers, body = fetch(srv.url(path))
        assert (status, body) == (404, NGINX_404)
        assert headers["server"] == "nginx"
    assert fetch(srv.url("/status/410"))[0] == 410
    assert b"<title>410 Gone</title>" in fetch(srv.url("/status/410"))[2]


def test_head_has_headers_but_no_body(srv: SiteServer) -> None:
    get_status, get_headers, get_body = fetch(srv.url("/yaowenn/index_1.html"))
    status, headers, body = fetch(srv.url("/yaowenn/index_1.html"), method="HEAD")
    assert (status, body) == (get_status, b"")
    assert headers["content-length"] == str(len(get_body)) == get_headers["content-length"]
    assert headers["etag"] == get_headers["etag"]
    assert srv.requests[-1].method == "HEAD"


def test_conditional_requests_get_304_until_the_article_changes() -> None:
    site = build_ccdi_site(n_articles=3)
    with SiteServer(site.pages) as srv:
        path = site.articles[0].path
        _, headers, body = fetch(srv.url(path))
        etag, modified = headers["etag"], headers["last-modified"]
        status, _, empty = fetch(srv.url(path), headers={"If-None-Match": etag})
        assert (status, empty) == (304, b"")
        assert fetch(srv.url(path), headers={"If-Modified-Since": modified})[0] == 304
        assert fetch(srv.url(path), headers={"If-None-Match": '"other"'})[0] == 200

        edited = site.edit_article(path)  # the server serves site.pages live
        assert edited.paragraphs != site.articles[1].paragraphs and edited.revision == 1
        status, headers, new_body = fetch(srv.url(path), headers={"If-None-Match": etag})
        assert status == 200 and headers["etag"] != etag and new_body != body
        assert fetch(srv.url(path), headers={"If-Modified-Since": modified})[0] == 200


def test_add_article_goes_on_top_and_grows_pagination() -> None:
    site = build_ccdi_site(n_articles=4, per_page=2)
    with SiteServer(site.pages) as srv:
        new = site.add_article(title="新发布的测试文章")
        assert new.publish_time > site.articles[1].publish_time
        first = fetch(srv.url(site.start_path))[2].decode()
        assert "新发布的测试文章" in first and 'createPageHTML(3, 0, "index", "html")' in first
        assert fetch(srv.url("/yaowenn/index_2.html"))[0] == 200
        assert fetch(srv.url(new.path))[0] == 200
        gone = site.remove_article(new.path)
        assert fetch(srv.url(gone.path))[0] == 404
        assert fetch(srv.url("/yaowenn/index_2.html"))[0] == 404


def test_flaky_route_fails_k_times_then_succeeds(srv: SiteServer) -> None:
    statuses = [fetch(srv.url("/flaky/list?fail=2"))[0] for _ in range(4)]
    assert statuses == [503, 503, 200, 200]
    assert fetch(srv.url("/flaky/other?fail=1"))[0] == 503  # counted per name
    assert srv.count("/flaky/list") == 4


def test_redirects_and_redirect_loop(srv: SiteServer) -> None:
    with urllib.request.urlopen(srv.url("/redirect?to=/yaowenn/"), timeout=5) as resp:
        assert resp.geturl() == srv.url("/yaowenn/")
    status, headers, _ = fetch(srv.url("/redirect301?to=/robots.txt"))
    assert (status, headers["location"]) == (301, "/robots.txt")
    srv.clear_log()
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(srv.url("/redirect-loop/a"), timeout=5)
    caught.value.close()
    assert caught.value.code == 302
    assert srv.count("/redirect-loop/") >= 4
    assert srv.count("/redirect-loop/") == srv.count()


def test_drop_slow_and_anti_bot_routes(srv: SiteServer) -> None:
    with pytest.raises(http.client.RemoteDisconnected):
        fetch(srv.url("/drop"))
    assert srv.requests[-1].status == 0
    began = time.monotonic()
    assert fetch(srv.url("/slow?ms=60"))[0] == 200
    assert time.monotonic() - began >= 0.06
    challenge = fetch(srv.url("/challenge"))
    assert challenge[0] == 200 and b"HOY_TR=" in challenge[2] and b"window.open(" in challenge[2]
    captcha = fetch(srv.url("/captcha"))[2]
    assert b"captchaPage" in captcha and b"seccaptcha.haplat.net" in captcha
    assert fetch(srv.url("/status/420"))[0] == 420
    soft = fetch(srv.url("/soft404"))
    assert soft[0] == 200 and "您访问的页面不存在或已被删除" in soft[2].decode()


def test_request_log_pages_override_and_robots(srv: SiteServer, ccdi: CcdiSite) -> None:
    srv.clear_log()
    fetch(srv.url("/robots.txt?x=1"), headers={"User-Agent": "govwatch-test"})
    log = srv.requests[-1]
    assert (log.method, log.path, log.status) == ("GET", "/robots.txt?x=1", 200)
    assert log.header("User-Agent") == "govwatch-test" == log.headers["user-agent"]
    assert b"Disallow: /private/" in ccdi.pages["/robots.txt"].body
    srv.pages["/status/404?x=1"] = Page(b"exact query first", content_type="text/plain")
    try:
        assert fetch(srv.url("/status/404?x=1"))[2] == b"exact query first"
        assert fetch(srv.url("/status/404"))[0] == 404
    finally:
        del srv.pages["/status/404?x=1"]
    assert srv.count("/status/") == 2 and srv.errors == []


def test_keep_alive_serves_many_requests_on_one_connection(srv: SiteServer) -> None:
    port = urlsplit(srv.base_url).port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        for path in ("/yaowenn/", "/nope", "/yaowenn/index_1.html"):
            conn.request("GET", path)
            conn.getresponse().read()
    finally:
        conn.close()
    assert [r.status for r in srv.requests[-3:]] == [200, 404, 200]


def test_cq_site_reproduces_the_sample_article() -> None:
    site = build_cq_site(n_articles=8, per_page=5)
    assert site.list_paths == ["/html/col609191.htm", "/html/col609191_2.htm"]
    sample = site.articles[0]
    assert sample.kicker == "找准“问题眼” 用活“穿针法” 下足“绣花功”"
    assert sample.title == "重庆基层书记积极探索基层治理走出新路子取得新成效"
    with SiteServer(site.pages) as srv:
        listing = fetch(srv.url(site.start_path))[2].decode()
        hrefs = re.findall(r'<li><h1><a href="(/html/\d{4}-\d\d/\d\d/content_\d{8}\.htm)"', listing)
        assert hrefs == [a.path for a in site.articles[:5]]
        assert '<ul class="pages">' in listing and 'href="/html/col609191_2.htm">2</a>' in listing
        html = fetch(srv.url(sample.path))[2].decode()
        assert '<div class="ls">来源:重庆日报 时间:2024-06-30 10:06</div>' in html
        assert "所在位置: " in html and "渝ICP备07000348号" in html and "Baidu" in html
        assert all(p in html for p in sample.paragraphs) and len(sample.paragraphs) == 22
        assert fetch(srv.url("/dead-embed/map.html"))[2] == NGINX_404
        assert len(fetch(srv.url(site.list_paths[1]))[2].decode().split("<li><h1>")) == 4


def test_builders_are_deterministic() -> None:
    a, b = build_ccdi_site(gbk_every=3), build_ccdi_site(gbk_every=3)
    assert a.pages.keys() == b.pages.keys()
    assert all(a.pages[k].body == b.pages[k].body for k in a.pages)
    assert len({x.title for x in a.articles}) == len(a.articles)
    assert len({x.body for x in a.articles}) == len(a.articles)
    assert all(len(x.body.encode()) >= 4096 for x in a.articles)
    cq1, cq2 = build_cq_site(), build_cq_site()
    assert all(cq1.pages[k].body == cq2.pages[k].body for k in cq1.pages)


@pytest.mark.parametrize("build", [build_ccdi_site, build_cq_site])
def test_only_the_embeds_are_dead_among_internal_links(build: Callable[[], Site]) -> None:
    site = build()
    dead = set()
    for path, page in site.pages.items():
        if not page.content_type.startswith("text/html"):
            continue
        html = page.body.decode("utf-8" if "utf-8" in page.content_type else "gb18030")
        for ref in re.findall(r'(?:href|src)="([^"#]+)"', html):
            target = urlsplit(urljoin("http://site" + path, ref))
            if target.netloc == "site" and target.path not in site.pages:
                dead.add(target.path)
    assert dead == {e for a in site.articles for e in a.embeds}
    assert all(a.path in site.pages for a in site.articles)


def test_lying_charset_routes(srv: SiteServer) -> None:
    _, headers, body = fetch(srv.url("/lying-charset/gbk"))
    assert headers["content-type"] == "text/html; charset=utf-8" and b'charset="utf-8"' in body
    assert "王堃" in body.decode("gb18030")
    _, headers, body = fetch(srv.url("/lying-charset/utf8"))
    assert headers["content-type"] == "text/html" and b'charset="gb2312"' in body
    assert "王堃" in body.decode("utf-8")
