"""crawler.extract.pagekind: challenge and error pages served with status 200 are not articles."""

from __future__ import annotations

import pytest

from crawler.extract.article import extract_article
from crawler.extract.pagekind import classify_page, error_page_reason, is_challenge_page

HOY_TR_SCRIPT = (
    '<script>(function () { document.cookie = "HOY_TR=UQMNRSXOICWYAHVD,8976ABC354DEF012,'
    'vwhgujlopfbmcine; max-age=31536000; path=/";document.cookie = "HBB_HC=62113c25a9413720d3e'
    "fa96ad2e71d531f89a2627b028c318f5d5355e4e5baeb82132aa6ba70d6e9ca285c3f76813b51e0; "
    'max-age=86400; path=/"; })()</script><script src="/_ws_sbu/sbu_hc.js"></script>'
)

CCDI_CHALLENGE = f"""<!DOCTYPE html><html><head><meta charset="utf-8"></head>
<body>{HOY_TR_SCRIPT}<script>window.location.reload();</script></body></html>"""

SLIDER_CAPTCHA = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>安全验证</title>
<script src="https://seccaptcha.haplat.net/static/js/captcha.min.js"></script></head>
<body><div id="captchaPage" class="captcha-wrap"><h3>请完成安全验证</h3>
<p>拖动下方滑块完成拼图</p><div class="slider"><span class="btn"></span></div></div></body>
</html>"""

PARAGRAPH = (
    "<p>　　日前，中央纪委国家监委对10起违反中央八项规定精神典型问题进行公开通报，"
    "释放了一刻不停歇推进作风建设的强烈信号。各级纪检监察机关要紧盯重要节点，"
    "严查享乐主义、奢靡之风，推动党风政风持续向好。</p>"
)
CCDI_ARTICLE_WITH_COOKIE_SCRIPT = f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<title>作风建设永远在路上————要闻——中央纪委国家监委网站</title></head>
<body class="in_bg">{HOY_TR_SCRIPT}
<div class="Article_61"><h2 class="tit">作风建设永远在路上</h2>
<h3 class="daty"><div class="daty_con"><em class="e e1">来源：中央纪委国家监委网站</em>
<em class="e e2">发布时间：2024-12-31 07:00</em></div></h3>
<div class="content">{PARAGRAPH * 6}</div></div></body></html>"""

NGINX_404 = """<html>
<head><title>404 Not Found</title></head>
<body>
<center><h1>404 Not Found</h1></center>
<hr><center>nginx/1.20.1</center>
</body>
</html>"""

IIS_404 = """<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html;
charset=gb2312"/><title>404 - 找不到文件或目录。</title></head><body><div id="header">
<h1>服务器错误</h1></div><div id="content"><div class="content-container"><fieldset>
<h2>HTTP 错误 404.0 - Not Found</h2><h3>您要找的资源已被删除、已更名或暂时不可用。</h3>
</fieldset></div></div></body></html>"""

GOV_SOFT_404 = """<html><head><meta charset="utf-8"><title>重庆市纪委监委</title></head><body>
<div class="nav"><a href="/">首页</a><a href="/html/col609191.htm">要闻</a>
<a href="/html/col610287.htm">
审查调查</a><a href="/html/col616462.htm">党纪政务处分</a></div>
<div class="box"><img src="/images/404.png"><p>您访问的页面不存在或已被删除！</p>
<a href="/">返回首页</a></div>
<div class="footer">主办单位：中共重庆市纪律检查委员会 重庆市监察委员会
备案序号：渝ICP备07000348号</div>
</body></html>"""

DELETED_NOTICE = """<html><head><meta charset="utf-8"><title>提示信息</title></head><body>
<div class="main"><div class="tip">该信息已删除</div></div></body></html>"""

ARTICLE_WITH_DEAD_EMBED = f"""<html><head><meta charset="utf-8">
<title>基层治理 - 重庆市纪委监委</title>
</head><body><div class="map">Baidu map</div>
<div class="embed"><h1>404 Not Found</h1><hr><center>nginx</center></div>
<div id="text"><h1>基层治理走出新路子</h1><div class="ls">来源:重庆日报 时间:2024-06-30 10:06</div>
<div class="nr">{PARAGRAPH * 5}</div></div></body></html>"""

ARTICLE_ABOUT_DELETED_PAGES = f"""<html><head><meta charset="utf-8"><title>网络清朗</title></head>
<body><h1>清理违法信息</h1><div class="content">{PARAGRAPH * 3}
<p>　　有网民反映，点击链接后提示“页面不存在”，相关信息已被删除。</p>{PARAGRAPH * 3}</div>
</body></html>"""


def test_ccdi_cookie_challenge_is_a_challenge() -> None:
    assert is_challenge_page(CCDI_CHALLENGE)
    assert classify_page(CCDI_CHALLENGE) == "challenge"


def test_ccdi_article_carrying_the_cookie_script_is_an_article() -> None:
    assert not is_challenge_page(CCDI_ARTICLE_WITH_COOKIE_SCRIPT)
    assert classify_page(CCDI_ARTICLE_WITH_COOKIE_SCRIPT) == "article"


def test_slider_captcha_is_a_challenge() -> None:
    assert classify_page(SLIDER_CAPTCHA) == "challenge"


def test_page_with_only_captcha_page_marker() -> None:
    html = '<html><body><div id="captchaPage"></div><script src="/c.js"></script></body></html>'
    assert is_challenge_page(html)


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        (NGINX_404, "404 Not Found"),
        (IIS_404, "HTTP 错误 404"),
        (GOV_SOFT_404, "您访问的页面不存在"),
        (DELETED_NOTICE, "该信息已删除"),
    ],
)
def test_error_pages_served_with_200(html: str, reason: str) -> None:
    assert classify_page(html) == "error"
    art = extract_article(html.encode("utf-8"), "https://jjc.cq.gov.cn/html/x.htm")
    assert art.page_kind == "error"
    assert art.error_reason is not None
    assert reason in art.error_reason


def test_article_with_a_dead_embedded_page_is_an_article() -> None:
    assert classify_page(ARTICLE_WITH_DEAD_EMBED) == "article"
    art = extract_article(ARTICLE_WITH_DEAD_EMBED, "https://jjc.cq.gov.cn/html/2024-06/30/a.htm")
    assert art.page_kind == "article"
    assert art.title == "基层治理走出新路子"
    assert "404" not in art.body and "nginx" not in art.body and "Baidu" not in art.body


def test_article_that_mentions_deleted_pages_is_an_article() -> None:
    assert classify_page(ARTICLE_ABOUT_DELETED_PAGES) == "article"


def test_error_page_reason_reads_title_then_short_text() -> None:
    assert error_page_reason("", title="页面不存在 - 中央纪委国家监委网站") == "页面不存在"
    assert error_page_reason("抱歉，您访问的页面不存在 返回首页") is not None
    long_text = "正文" * 400 + " 404 Not Found "
    assert error_page_reason(long_text) is None
    assert error_page_reason("信息公开 政策解读 互动交流", title="重庆市纪委监委") is None


def test_heading_with_error_counts_only_on_short_pages() -> None:
    assert error_page_reason("页面未找到 返回首页", headings=("页面未找到",)) == "页面未找到"
    assert error_page_reason("文" * 3000, headings=("404 Not Found",)) is None


def test_empty_or_broken_input_is_not_an_article() -> None:
    assert classify_page("") == "error"
    assert classify_page("   ") == "error"
