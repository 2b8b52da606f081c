"""crawler.extract.article: article records from realistic pages, written here by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crawler.extract.article import extract_article, extract_links
from crawler.extract.errors import ExtractError
from crawler.extract.pubtime import BEIJING, labeled_time, parse_time, url_date
from crawler.extract.records import Selectors

CCDI_URL = "https://www.ccdi.gov.cn/yaowenn/202412/t20241231_400123.html"

CCDI_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head>
<meta charset="utf-8">
<meta name="ArticleTitle" content="">
<meta name="PubDate" content="2024-12-30 18:12">
<meta name="SiteDomain" content="www.ccdi.gov.cn">
<title>严查节日期间“四风”问题————要闻——中央纪委国家监委网站</title>
</head>
<body class="in_bg">
<script>(function () {
document.cookie = "HOY_TR=UQMNRSXOICWYAHVD; max-age=31536000; path=/"; })()</script>
<header class="in_header"><div class="logo"><h1>中央纪委国家监委网站</h1></div>
<ul class="nav"><li><a href="/">首页</a></li><li><a href="/yaowenn/">要闻</a></li>
<li><a href="/scdcn/">审查调查</a></li><li><a href="/pln/">评论</a></li></ul></header>
<div class="weizhi">当前位置：<a href="../../">首页</a> &gt; <a href="../">要闻</a></div>
<div class="Article_61">
  <h2 class="tit"><p><span style="font-size: 23px;">严查节日期间“四风”问题</span></p></h2>
  <h3 class="daty"><div class="daty_con">
    <em class="e e1">来源：中央纪委国家监委网站</em>
    <em class="e e2">发布时间：
        2024-12-31 07:00
    </em>
    <em class="e e3"><div class="share_box"><span class="share">分享</span>
      <div class="bdsharebuttonbox"><a href="#" class="bds_weixin">微信</a>
      <a href="#" class="bds_tsina">微博</a></div></div></em>
  </div></h3>
  <div class="content">
    <p style="text-align: center;"><strong>纠“四风”树新风<br>严查节日期间“四风”问题</strong></p>
    <p style="text-align: center;"><span style="font-family: 楷体;">中央纪委国家监委网站 张三</span>
</p>
    <p>　　元旦、春节将至，各级纪检监察机关紧盯节点，严查违规吃喝、违规收送礼品礼金等问题，
    推动作风建设常态长效。</p>
    <p>　　<strong>紧盯关键节点</strong></p>
    <p>　　某省纪委监委组织开展明察暗访，对发现的问题线索快查快办，并对典型问题点名道姓通报曝光，
    持续释放越往后执纪越严的强烈信号。</p>
    <p>　　“节日是检验作风的‘试金石’。”该省纪委监委相关负责同志表示，将持续加大监督检查力度。</p>
  </div>
  <div class="page"><script>createPageHTML_ZW(1, 0, "t20241231_400123", "html");</script></div>
</div>
<div class="xgwz"><h4>相关文章</h4><ul>
  <li><a href="/yaowenn/202412/t20241230_400100.html">以严的基调强化正风肃纪</a></li>
  <li><a href="/yaowenn/202412/t20241229_400090.html">持续深化纠治“四风”</a></li></ul></div>
<footer class="in_footer"><div class="foot_con">
<span>©中共中央纪律检查委员会 中华人民共和国国家监察委员会
版权所有</span><span><a href="https://beian.miit.gov.cn">京ICP备 15039510号</a></span></div>
</footer>
</body></html>"""

JJC_URL = "https://jjc.cq.gov.cn/html/2024-06/30/content_53012345.htm"

JJC_PAGE = """<!DOCTYPE html>
<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>重庆基层书记积极探索基层治理走出新路子取得新成效_重庆市纪委监委</title></head>
<body>
<div class="top"><iframe src="/maps/baidu_map.html" width="0" height="0"></iframe>
<div class="BMap_cpyCtrl">Baidu map</div></div>
<div class="deadembed"><h1>404 Not Found</h1><hr><center>nginx</center></div>
<div class="position">所在位置: <a href="/">重庆市纪委监委</a></div>
<div id="text">
  <h3 class="yt">找准“问题眼” 用活“穿针法” 下足“绣花功”</h3>
  <h1>重庆基层书记积极探索基层治理走出新路子取得新成效</h1>
  <div class="ls">来源:重庆日报 时间:2024-06-30 10:06</div>
  <div class="nr">
    <p>基层治理是国家治理的基石，基层强则国家强，基层安则天下安。重庆启动“百名基层书记话基层治理”活动。</p>
    <p>6月28日，市委社会工作部、市委组织部等组织开展媒体见面会，5名来自农村、山区、库区、城市的基层书记分享了对基层治理工作的认识。</p>
    <p><img src="/images/2024-06/30/pic1.jpg" alt="媒体见面会现场"></p>
    <p>从贫困到致富，改革求变是真出路</p>
    <p>石柱县中益乡华溪村党支部书记王祥生在农村生活了61年，见证了华溪村改革求变的方方面面。</p>
    <p>责任编辑：李四</p>
  </div>
</div>
<div class="footer"><a href="/about.htm">关于我们</a> | <a href="/sm.htm">网站声明</a> |
<a href="/">返回首页</a><br>主办单位:中共重庆市纪律检查委员会 重庆市监察委员会<br>
版权所有:中共重庆市纪律检查委员会 重庆市监察委员会,未经许可,不得复制.<br>
备案序号:<a href="https://beian.miit.gov.cn/">渝ICP备07000348号</a></div>
<script src="/js/common.js"></script>
<div class="BMap_cpyCtrl">Baidu map</div>
</body></html>"""

GBK_PAGE = """<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>朱镕基同志生平展开展_浙江省纪委省监委</title></head><body>
<div class="nav"><a href="/">首页</a> <a href="/col/col1.html">要闻</a></div>
<h1 class="artTitle">朱镕基同志生平展开展</h1>
<div class="artInfo">发布时间：2023年06月30日 10:06 来源：浙江日报 作者：王堃</div>
<div class="artCon">
<p>　　本报讯 展览通过大量珍贵图片和实物，全面回顾了朱镕基同志的光辉一生，观众络绎不绝。</p>
<p>　　展览将持续至年底，市民可通过预约免费参观，现场还设有讲解服务和志愿者引导。</p></div>
</body></html>"""


def test_ccdi_page() -> None:
    art = extract_article(CCDI_PAGE.encode("utf-8"), CCDI_URL)
    assert art.title == "严查节日期间“四风”问题"
    assert art.publish_time == datetime(2024, 12, 31, 7, 0, tzinfo=BEIJING)
    assert art.source == "中央纪委国家监委网站"
    assert art.author == "张三"
    paragraphs = art.body.split("\n")
    assert paragraphs[0].startswith("元旦、春节将至")
    assert "紧盯关键节点" in paragraphs
    assert paragraphs[-1].endswith("将持续加大监督检查力度。")
    for noise in ("分享", "微信", "相关文章", "版权所有", "京ICP备", "当前位置", "纠“四风”树新风"):
        assert noise not in art.body
    assert art.page_kind == "article"
    assert art.warnings == ()
    assert art.encoding == "utf-8"


def test_ccdi_page_without_url_is_read_by_the_generic_extractor() -> None:
    art = extract_article(CCDI_PAGE.encode("utf-8"), "")
    assert art.title == "严查节日期间“四风”问题"
    assert art.publish_time == datetime(2024, 12, 31, 7, 0, tzinfo=BEIJING)
    assert art.source == "中央纪委国家监委网站"
    assert art.body.split("\n")[0].startswith("元旦、春节将至")


def test_jjc_page_with_pretitle_breadcrumb_map_and_dead_embed() -> None:
    art = extract_article(JJC_PAGE.encode("utf-8"), JJC_URL)
    assert art.title == "重庆基层书记积极探索基层治理走出新路子取得新成效"
    assert art.pretitle == "找准“问题眼” 用活“穿针法” 下足“绣花功”"
    assert art.source == "重庆日报"
    assert art.publish_time == datetime(2024, 6, 30, 10, 6, tzinfo=BEIJING)
    assert art.editor == "李四"
    paragraphs = art.body.split("\n")
    assert paragraphs[0].startswith("基层治理是国家治理的基石")
    assert "从贫困到致富，改革求变是真出路" in paragraphs
    for noise in ("Baidu", "map", "404", "Not Found", "nginx", "所在位置", "主办单位", "备案序号",
                  "责任编辑", "关于我们"):  # fmt: skip
        assert noise not in art.body
    assert art.page_kind == "article"
    embeds = {(link.url, link.kind) for link in art.links}
    assert ("https://jjc.cq.gov.cn/maps/baidu_map.html", "iframe") in embeds
    assert ("https://jjc.cq.gov.cn/images/2024-06/30/pic1.jpg", "img") in embeds
    assert ("https://jjc.cq.gov.cn/js/common.js", "script") in embeds
    about = [link for link in art.links if link.url == "https://jjc.cq.gov.cn/about.htm"]
    assert about and about[0].text == "关于我们"


def test_gbk_page_decoded_and_extracted() -> None:
    art = extract_article(GBK_PAGE.encode("gbk"), "http://www.zjsjw.gov.cn/art/2023/6/30/a.html")
    assert art.encoding == "gb18030"
    assert art.title == "朱镕基同志生平展开展"
    assert art.publish_time == datetime(2023, 6, 30, 10, 6, tzinfo=BEIJING)
    assert art.source == "浙江日报"
    assert art.author == "王堃"
    assert art.body.startswith("本报讯 展览通过大量珍贵图片")


def test_page_declaring_gb2312_but_utf8() -> None:
    art = extract_article(GBK_PAGE.encode("utf-8"), "http://example.cn/a.html")
    assert art.encoding == "utf-8"
    assert art.title == "朱镕基同志生平展开展"


def test_bom_page_with_content_type_header() -> None:
    raw = b"\xef\xbb\xbf" + GBK_PAGE.encode("utf-8")
    art = extract_article(raw, "http://example.cn/a.html", content_type="text/html; charset=gbk")
    assert art.encoding == "utf-8"
    assert art.title == "朱镕基同志生平展开展"


def test_configured_selectors_are_used() -> None:
    sel = Selectors(title="#text h1", publish_time=".ls", source=".ls", body=".nr")
    art = extract_article(JJC_PAGE.encode("utf-8"), "https://example.org/a.htm", selectors=sel)
    assert art.warnings == ()
    assert art.title == "重庆基层书记积极探索基层治理走出新路子取得新成效"
    assert art.source == "重庆日报"
    assert art.publish_time == datetime(2024, 6, 30, 10, 6, tzinfo=BEIJING)
    assert art.body.startswith("基层治理是国家治理的基石")


def test_selectors_that_stop_matching_warn_and_fall_back() -> None:
    sel = Selectors(title="h1.article-title", publish_time="#pubtime", body="div.TRS_Editor")
    art = extract_article(JJC_PAGE.encode("utf-8"), "https://example.org/a.htm", selectors=sel)
    assert len(art.warnings) == 3
    assert any("title selector 'h1.article-title' matched nothing" in w for w in art.warnings)
    assert any("body selector 'div.TRS_Editor'" in w for w in art.warnings)
    assert any("publish_time selector '#pubtime'" in w for w in art.warnings)
    # the generic extractor still finds everything
    assert art.title == "重庆基层书记积极探索基层治理走出新路子取得新成效"
    assert art.publish_time == datetime(2024, 6, 30, 10, 6, tzinfo=BEIJING)
    assert art.body.startswith("基层治理是国家治理的基石")


def test_selector_matching_an_element_without_a_time_warns() -> None:
    sel = Selectors(publish_time="#text h1")
    art = extract_article(JJC_PAGE, "https://example.org/a.htm", selectors=sel)
    assert art.warnings == ("publish_time selector '#text h1' matched no usable publish_time",)
    assert art.publish_time == datetime(2024, 6, 30, 10, 6, tzinfo=BEIJING)


def test_invalid_and_xpath_selectors() -> None:
    bad = extract_article(JJC_PAGE, "https://example.org/a", selectors=Selectors(title="h1[["))
    assert bad.warnings and "invalid selector" in bad.warnings[0]
    assert bad.title == "重庆基层书记积极探索基层治理走出新路子取得新成效"
    sel = Selectors(title="//div[@id='text']/h3", source="//div[@class='ls']/text()")
    art = extract_article(JJC_PAGE, "https://example.org/a", selectors=sel)
    assert art.warnings == ()
    assert art.title == "找准“问题眼” 用活“穿针法” 下足“绣花功”"
    assert art.source == "重庆日报"


def test_several_body_matches_are_joined() -> None:
    html = """<html><body><h1>两段正文</h1><div class="part">
<p>第一部分的正文内容，写得比较长一些。</p></div>
    <div class="ad">广告</div><div class="part"><p>第二部分的正文内容，同样写得比较长。</p></div>
</body></html>"""
    art = extract_article(html, "https://example.org/a", selectors=Selectors(body="div.part"))
    assert art.body == "第一部分的正文内容，写得比较长一些。\n第二部分的正文内容，同样写得比较长。"


NEWS_PAGE = """<html><head><meta charset="utf-8">
<meta property="article:published_time" content="2024-05-01T00:00:00+08:00">
<title>山区学校用上智慧课堂_教育_某某网</title></head><body>
<div class="nav"><a href="/">首页</a><a href="/edu/">教育</a></div>
<div class="main"><div class="left">
<h1 class="title">山区学校用上智慧课堂</h1>
<div class="info">2024年05月10日 06:58 | 来源：人民网－人民日报 | 作者：记者 王五</div>
<div class="rm_txt_con">
<p>　　本报记者 王五</p>
<p>　　5月9日，记者走进山区的一所小学，看到孩子们正在用平板电脑上课，课堂气氛活跃。</p>
<p>　　“以前想都不敢想。”校长说，学校今年接入了远程教学平台，城里的老师可以同步授课。</p>
<p>　　（责编：赵六）</p>
</div></div>
<div class="right"><h3>热点推荐</h3><ul><li><a href="/a1.html">城市更新有了新样本，居民拍手称快</a>
</li>
<li><a href="/a2.html">夏粮丰收在望，各地抢抓农时</a></li></ul>
<div class="hot"><p>2024年05月09日</p>
<a href="/a3.html">一条很长很长的推荐标题文字，写得像正文一样，还带有逗号，以及句号。</a></div>
</div></div></body></html>"""


def test_generic_news_page() -> None:
    art = extract_article(NEWS_PAGE, "http://edu.example.com.cn/n1/2024/0510/c1006-40232587.html")
    assert art.title == "山区学校用上智慧课堂"
    assert art.publish_time == datetime(2024, 5, 10, 6, 58, tzinfo=BEIJING)
    assert art.source == "人民网－人民日报"
    assert art.editor == "赵六"
    assert art.body.split("\n") == [
        "5月9日，记者走进山区的一所小学，看到孩子们正在用平板电脑上课，课堂气氛活跃。",
        "“以前想都不敢想。”校长说，学校今年接入了远程教学平台，城里的老师可以同步授课。",
    ]


def test_visible_time_beats_meta_and_url_cross_checks() -> None:
    html = """<html><head><meta name="PubDate" content="2023-01-01 00:00"></head><body>
    <h1>标题在这里的一篇文章</h1><p class="time">2024-06-30 10:06</p>
    <div><p>这是正文的第一段，内容比较充实，有逗号，也有句号。</p>
<p>这是正文的第二段，同样比较长，读起来像正文。</p></div>
    </body></html>"""
    art = extract_article(html, "https://example.gov.cn/xw/202406/t20240630_1.html")
    assert art.publish_time == datetime(2024, 6, 30, 10, 6, tzinfo=BEIJING)
    # no time on the page: the URL's date beats a meta tag that disagrees with it
    bare = html.replace('<p class="time">2024-06-30 10:06</p>', "")
    art = extract_article(bare, "https://example.gov.cn/xw/202406/t20240630_1.html")
    assert art.publish_time == datetime(2024, 6, 30, tzinfo=BEIJING)
    # and with no URL date, the meta tag is the last resort
    art = extract_article(bare, "https://example.gov.cn/xw/a.html")
    assert art.publish_time == datetime(2023, 1, 1, tzinfo=BEIJING)


def test_publish_time_is_always_timezone_aware() -> None:
    for page, url in ((CCDI_PAGE, CCDI_URL), (JJC_PAGE, JJC_URL), (NEWS_PAGE, "http://x.cn/a")):
        art = extract_article(page, url)
        assert art.publish_time is not None
        assert art.publish_time.utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("发布时间：2024-06-30 10:06", datetime(2024, 6, 30, 10, 6)),
        ("2024年06月30日 10:06", datetime(2024, 6, 30, 10, 6)),
        ("2024年6月30日10时06分", datetime(2024, 6, 30, 10, 6)),
        ("2024/6/30", datetime(2024, 6, 30)),
        ("2022.01.20 16:31", datetime(2022, 1, 20, 16, 31)),
        ("时间:2019-02-29", None),  # not a date
        ("电话：2024-1234-5678", None),
    ],
)
def test_parse_time(text: str, want: datetime | None) -> None:
    got = parse_time(text)
    assert got == (want.replace(tzinfo=BEIJING) if want else None)


def test_iso_time_with_offset_is_kept_as_an_instant() -> None:
    got = parse_time("2024-06-30T02:06:00Z")
    assert got is not None
    assert got == datetime(2024, 6, 30, 2, 6, tzinfo=UTC)


def test_labeled_time_prefers_publish_label_over_document_date() -> None:
    ft = labeled_time("成文日期：2022年01月27日 发布日期：2022年01月28日")
    assert ft is not None
    assert ft.value.date().isoformat() == "2022-01-28"


@pytest.mark.parametrize(
    ("url", "want"),
    [
        ("https://www.ccdi.gov.cn/yaowenn/202304/t20230411_257982.html", "2023-04-11"),
        ("https://jjc.cq.gov.cn/html/2024-06/30/content_53012345.htm", "2024-06-30"),
        ("http://www.news.cn/politics/20240509/3dd6e33c/c.html", "2024-05-09"),
        ("http://finance.people.com.cn/n1/2024/0510/c1004-40232587.html", "2024-05-10"),
        ("https://jjc.cq.gov.cn/html/col609191.htm", None),
    ],
)
def test_url_date(url: str, want: str | None) -> None:
    got = url_date(url)
    assert (got.isoformat() if got else None) == want


def test_not_html_at_all_raises() -> None:
    with pytest.raises(ExtractError):
        extract_article(b"", "https://example.org/a")
    with pytest.raises(ExtractError):
        extract_article(b"   \n ", "https://example.org/a")
    with pytest.raises(ExtractError):
        extract_article(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "https://example.org/a.pdf")
    with pytest.raises(ExtractError):
        extract_article("just some plain text, no markup", "https://example.org/a.txt")


@pytest.mark.parametrize(
    "html",
    [
        "<html>",
        "<p>只有一段",
        "<html><body><div><div><p>未闭合<table><tr><td>表格",
        "<<<>>><</p></div></html></body>",
        "<html><head><title>只有标题</title></head></html>",
        '<?xml version="1.0" encoding="utf-8"?><html><body><p>正文，内容。</p></body></html>',
        "<html><body>"
        + "<div>" * 400
        + "深层嵌套的正文，内容。"
        + "</div>" * 400
        + "</body></html>",
        "<html><body><p>含有\x00空字符和\ufffd替换字符的正文。</p></body></html>",
    ],
)
def test_bad_html_never_raises(html: str) -> None:
    art = extract_article(html.encode("utf-8"), "https://example.org/a")
    assert isinstance(art.body, str)


def test_content_after_a_stray_html_end_tag_is_kept() -> None:
    html = """<html><body><div class="header"><a href="/">首页</a></div></html>
    <div class="content"><h1>正文在结束标签之后</h1>
    <p>这一段正文出现在一个多余的结束标签之后，浏览器照样显示，提取也不能丢。</p>
    <p>第二段正文，同样要被提取出来，内容要完整。</p></div></body></html>"""
    art = extract_article(html, "https://example.org/a")
    assert art.title == "正文在结束标签之后"
    assert "第二段正文" in art.body


def test_extract_links_on_a_list_page() -> None:
    html = """<html><head><base href="https://www.ccdi.gov.cn/scdcn/zggb/zjsc/">
    <link rel="stylesheet" href="/css/main.css"></head><body>
    <ul class="list_news_dl2">
      <li><a href="./202412/t20241231_1.html">某某严重违纪违法被开除党籍</a>
<span class="more">2024-12-31</span></li>
      <li><a href="./202412/t20241230_2.html" title="另一条">另一条</a>
<span class="more">2024-12-30</span></li>
      <li><a href="./202412/t20241231_1.html">重复的链接</a></li>
    </ul>
    <a href="javascript:void(0)">分享</a><a href="#top">顶部</a><a href="mailto:a@b.cn">邮件</a>
    <a href="/files/通报.pdf">下载通报</a><img data-src="x.jpg" src="/images/logo.png" alt="标志">
    <iframe src="//map.baidu.com/embed"></iframe></body></html>"""
    links = extract_links(html, "https://www.ccdi.gov.cn/scdcn/zggb/zjsc/index_1.html")
    got = [(link.url, link.kind, link.text) for link in links]
    base = "https://www.ccdi.gov.cn/scdcn/zggb/zjsc/"
    assert got == [
        ("https://www.ccdi.gov.cn/css/main.css", "link", ""),
        (base + "202412/t20241231_1.html", "a", "某某严重违纪违法被开除党籍"),
        (base + "202412/t20241230_2.html", "a", "另一条"),
        ("https://www.ccdi.gov.cn/files/通报.pdf", "attachment", "下载通报"),
        ("https://www.ccdi.gov.cn/images/logo.png", "img", "标志"),
        (base + "x.jpg", "img", "标志"),  # lazy-loaded: the real image is in data-src
        ("https://map.baidu.com/embed", "iframe", ""),
    ]


def test_extract_links_accepts_bytes() -> None:
    links = extract_links(GBK_PAGE.encode("gbk"), "http://www.zjsjw.gov.cn/art/a.html")
    assert ("http://www.zjsjw.gov.cn/col/col1.html", "a", "要闻") in {
        (link.url, link.kind, link.text) for link in links
    }


def test_page_with_no_date_has_no_publish_time() -> None:
    html = """<html><head><title>关于调整办事指南的说明_某某县人民政府</title></head><body>
    <div class="nav">首页 &gt; 通知公告</div>
    <div class="article"><h1>关于调整办事指南的说明</h1>
    <div class="info">来源：县政务服务中心</div>
    <div class="content"><p>为进一步方便群众办事，现将有关事项说明如下。</p>
    <p>一、办理地点调整至政务服务中心二楼。</p><p>二、办理时限由五个工作日缩短为三个工作日。</p>
    </div></div><div class="footer">主办单位：某某县人民政府办公室</div></body></html>"""
    article = extract_article(html.encode(), "https://www.example.gov.cn/zwgk/notice/42.html")
    assert article.title == "关于调整办事指南的说明"
    assert article.publish_time is None
    assert article.source == "县政务服务中心"
    assert article.body.splitlines()[0] == "为进一步方便群众办事，现将有关事项说明如下。"
    assert "主办单位" not in article.body
