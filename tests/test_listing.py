from __future__ import annotations

import re

from lxml import html

from crawler.listing import find_next_page, parse_list_page
from crawler.site import Site

CCDI_LIST = """<html><body>
<div class="nav"><a href="/">首页</a><a href="../special/x/">专题</a>
<a href="./202406/t20240601_100001.html">导航里的文章</a></div>
<ul class="list_news_dl2">
<li><a href="./202406/t20240630_123456.html">文章一</a><span class="more">2024-06-30</span></li>
<li><a href="./202406/t20240629_123455.html">文章二</a><span class="more">2024-06-29</span></li>
<li><a href="./202406/t20240630_123456.html#c">文章一（重复）</a></li>
</ul>
<script>createPageHTML(4, 1, "index", "html");</script>
</body></html>"""


def site(**changes: object) -> Site:
    values: dict[str, object] = {
        "name": "t",
        "title": "t",
        "start_urls": ("https://www.ccdi.gov.cn/yaowenn/",),
        "article_url_pattern": re.compile(r"/\d{6}/t\d{8}_\d+\.html$"),
    }
    values.update(changes)
    return Site(**values)  # type: ignore[arg-type]


def test_ccdi_list_links_and_create_page_html() -> None:
    tree = html.document_fromstring(CCDI_LIST)
    page = parse_list_page(
        tree,
        "https://www.ccdi.gov.cn/yaowenn/index_1.html",
        site(list_link_selector=".list_news_dl2 li a"),
        1,
    )
    assert page.article_urls == (
        "https://www.ccdi.gov.cn/yaowenn/202406/t20240630_123456.html",
        "https://www.ccdi.gov.cn/yaowenn/202406/t20240629_123455.html",
    )
    assert page.next_url == "https://www.ccdi.gov.cn/yaowenn/index_2.html"
    assert page.warnings == ()


def test_last_create_page_html_page_has_no_next() -> None:
    tree = html.document_fromstring(CCDI_LIST.replace("(4, 1,", "(4, 3,"))
    assert find_next_page(tree, "https://www.ccdi.gov.cn/yaowenn/index_3.html", site(), 3) is None


def test_selector_drift_warns_and_falls_back_to_all_links() -> None:
    tree = html.document_fromstring(CCDI_LIST)
    page = parse_list_page(
        tree, "https://www.ccdi.gov.cn/yaowenn/", site(list_link_selector=".gone li a"), 0
    )
    assert len(page.article_urls) == 3  # the nav link matches the pattern too
    assert len(page.warnings) == 1 and ".gone li a" in page.warnings[0]


def test_next_link_by_text_and_by_pager_number() -> None:
    cq = """<html><body><div id="list"><ul>
    <li><h1><a href="/html/2024-06/30/content_1.htm">一</a></h1><div>2024-06-30</div></li>
    </ul></div><ul class="pages"><li><a href="col1.htm">1</a></li>
    <li><a href="col1_2.htm">2</a></li><li><a href="col1_3.htm">3</a></li>{next}</ul>
    </body></html>"""
    with_next = html.document_fromstring(cq.format(next='<li><a href="col1_2.htm">下一页</a></li>'))
    s = site(pagination_selector=".pages li")
    base = "https://jjc.cq.gov.cn/html/col1.htm"
    assert find_next_page(with_next, base, s, 0) == "https://jjc.cq.gov.cn/html/col1_2.htm"
    numbers_only = html.document_fromstring(cq.format(next=""))
    assert (
        find_next_page(numbers_only, "https://jjc.cq.gov.cn/html/col1_2.htm", s, 1)
        == "https://jjc.cq.gov.cn/html/col1_3.htm"
    )
    assert find_next_page(numbers_only, base, site(), 0) is None  # no pager configured
