"""Boilerplate at the body's edges: one test per kind of rule, on small hand-written pages
modelled on how real article pages are built (a ccdi headline block, a people.cn follow box,
a sina topic link, a sohu back-link, a WeChat reprint, a 网易号 notice)."""

from __future__ import annotations

import pytest

from crawler.extract.article import extract_article
from crawler.extract.boilerplate import edge_kind, trim_edges

_PARA_1 = "近日，某市纪委监委通报了三起违反中央八项规定精神的典型问题，要求各级党组织引以为戒。"
_PARA_2 = "通报指出，这些问题反映出一些党员干部纪律意识淡薄，必须坚决纠治，绝不手软。"
_PARA_3 = "各级纪检监察机关要紧盯重要节点，持续加大监督检查力度，推动作风建设常态化长效化。"
_PARAS = [_PARA_1, _PARA_2, _PARA_3]


def _page(inner: str, *, title: str = "某市通报三起违反中央八项规定精神问题") -> str:
    return f"""<html><head><title>{title}_某某网</title></head><body>
<div class="nav"><a href="/">首页</a> <a href="/news/">新闻</a></div>
<div class="article"><h1>{title}</h1>
<div class="info">来源：某某日报 发布时间：2024-05-10 09:30</div>
<div class="text">{inner}</div></div>
<div class="footer">版权所有 某某网 京ICP备12345678号</div>
</body></html>"""


def _body(inner: str, **kw: str) -> list[str]:
    art = extract_article(_page(inner, **kw), "https://news.example.cn/2024/0510/a.html")
    return art.body.split("\n")


def _paras() -> str:
    return "".join(f"<p>　　{p}</p>" for p in _PARAS)


@pytest.mark.parametrize(
    "tail",
    [
        "<p>来源：无锡交警</p>",
        "<p>（责任编辑：张三）</p>",
        "<p>编辑丨李四 审核丨王五</p>",
        "<p>一审：赵六 二审：钱七 三审：孙八</p>",
        "<p>来源：某某日报</p><p>编辑：李四</p><p>审核：王五</p>",
    ],
)
def test_credit_lines_at_the_end_are_dropped(tail: str) -> None:
    assert _body(_paras() + tail) == _PARAS


def test_a_credit_line_naming_the_writer_is_left_to_the_byline_reader() -> None:
    # "（本文来源：经济日报 作者：…）" closes sohu reprints; the truth keeps it as text
    assert edge_kind("（本文来源：经济日报 作者：中国国际经济交流中心研究员徐占忱）") is None
    assert edge_kind("医技药剂党支部、药剂科供稿 摄影/张艳 编辑/苏芳") is None
    assert edge_kind("编辑丨李四 审核丨王五") == "credit"


def test_share_and_follow_prompts_and_a_like_counter_are_dropped() -> None:
    # people.cn's follow box (class "tjewm" names nothing), a xinhua like widget ("+1")
    tail = (
        '<div class="tjewm cf"><span><img src="/qr.jpg" alt="关注公众号：人民网财经">'
        "关注公众号：人民网财经</span></div>"
        '<div class="tadd"><div class="zan-wap"><a class="zan" href="#"> </a>'
        '<div class="zan-i">+1</div></div></div>'
    )
    assert _body(_paras() + tail) == _PARAS


def test_wechat_page_menus_are_dropped_at_both_ends() -> None:
    head = "<p>▲点击上方蓝字关注我们</p>"
    tail = (
        "<p>- END -</p><p>长按识别二维码关注我们</p><p>预览时标签不可点</p>"
        "<p>微信扫一扫关注该公众号</p><p>继续滑动看下一个</p><p>轻触阅读原文</p>"
        "<p>视频 小程序 赞，轻点两下取消赞 在看，轻点两下取消在看</p><p>分享 留言 收藏</p>"
    )
    assert _body(head + _paras() + tail) == _PARAS


def test_a_topic_link_and_a_related_list_of_titles_are_dropped() -> None:
    # sina's "点击进入专题：" box, then a "相关阅读" heading over plain-text titles
    tail = (
        '<div class="wap_special"><div class="tlt">点击进入专题：</div>'
        '<a href="http://news.example.cn/zt/">聚焦作风建设</a></div>'
        "<p>相关阅读：</p><p>某县通报两起违规吃喝问题</p><p>某区开展节前廉政提醒</p>"
    )
    assert _body(_paras() + tail) == _PARAS


def test_a_related_heading_over_prose_and_headings_mid_body_are_kept() -> None:
    prose = "延伸阅读的内容是一段完整的说明文字，介绍了八项规定精神的由来，以及它的主要内容。"
    inner = f"<p>{_PARA_1}</p><p>延伸阅读</p><p>{prose}</p><p>{_PARA_2}</p>"
    assert _body(inner) == [_PARA_1, "延伸阅读", prose, _PARA_2]
    assert trim_edges(["相关阅读", "一段正文，说明了事情的来龙去脉。"]) == [
        "相关阅读",
        "一段正文，说明了事情的来龙去脉。",
    ]


@pytest.mark.parametrize(
    "tail",
    [
        "<p>特别声明：以上内容(如有图片或视频亦包括在内)为自媒体平台用户上传并发布，"
        "本平台仅提供信息存储服务。</p>",
        "<p>本文为某某网原创，未经授权不得转载。</p>",
        "<p>Copyright © 2024 某某网 All Rights Reserved</p>",
    ],
)
def test_copyright_notices_at_the_end_are_dropped(tail: str) -> None:
    assert _body(_paras() + tail) == _PARAS


def test_teasers_and_a_glued_back_link_are_dropped() -> None:
    # sohu glues "返回搜狐，查看更多" to the last paragraph; then a next-story teaser
    last = (
        f"<p>{_PARA_3}<a href='https://www.sohu.com/' id='backsohucom'>"
        "<span class='backword'>返回搜狐，查看更多</span></a></p>"
    )
    tail = "<p>下一篇：某县开展节前廉政提醒</p><p>打开APP阅读全文</p>"
    assert _body(f"<p>{_PARA_1}</p><p>{_PARA_2}</p>{last}{tail}") == _PARAS


def test_a_headline_block_that_differs_slightly_from_the_headline_is_dropped() -> None:
    # ccdi: a kicker, the headline again with other quotes and without the column name,
    # the writers' credit, all centered and bold, above the text
    centered = 'style="text-align: center;"'
    inner = (
        f"<p {centered}><strong>擅改行程、假借培训、下属支付……近期公开通报多起问题</strong></p>"
        f"<p {centered}><strong>严查公款旅游披上“隐身衣”</strong></p>"
        f"<p {centered}><span>中央纪委国家监委网站 吴晶 薛鹏</span></p>" + _paras()
    )
    assert _body(inner, title='深度关注|严查公款旅游披上"隐身衣"') == _PARAS


def test_a_multi_line_headline_block_is_dropped() -> None:
    # xinhua copy on kepu.gov.cn: 主题 with a word more, then two 副题 and a line of names
    centered = 'style="text-align: center;"'
    lines = [
        "某某主持召开推进区域一体化发展座谈会强调",
        "推动区域一体化发展取得新的重大突破",
        "在现代化建设中更好发挥引领示范作用",
        "某某某某出席",
    ]
    block = "".join(f"<p {centered}><strong>{ln}</strong></p>" for ln in lines)
    assert _body(block + _paras(), title="某某主持召开推进区域一体化发展座谈会") == _PARAS


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("来源：新华社", "credit"),
        ("【责编：张三】", "credit"),
        ("关注公众号：人民网财经", "share"),
        ("点赞、在看、分享", "share"),
        ("图集", "share"),
        ("相关新闻", "related"),
        ("【推荐阅读】", "related"),
        ("版权所有：某某市纪委监委", "copyright"),
        ("转载请注明出处", "copyright"),
        ("下一篇：某县开展节前廉政提醒", "teaser"),
        ("阅读原文", "teaser"),
        ("返回搜狐，查看更多", "teaser"),
        ("—— END ——", "teaser"),
        (_PARA_1, None),
        ("来源于群众的意见建议，我们认真梳理，逐条研究。", None),
        ("下一步，我区将持续推进营商环境建设。", None),
    ],
)
def test_edge_kind(line: str, kind: str | None) -> None:
    assert edge_kind(line) == kind


def test_a_second_bold_line_after_a_br_that_differs_slightly_is_dropped() -> None:
    # the headline block in one paragraph: a kicker, <br>, the headline with a word changed
    inner = (
        "<p><strong>节前纪律提醒</strong><br/><strong>严查节假日期间“四风”问题</strong></p>"
        + _paras()
    )
    assert _body(inner, title="严查节日期间“四风”问题") == _PARAS


def test_a_bold_first_paragraph_unlike_the_headline_is_kept() -> None:
    inner = "<p><strong>纪律规矩面前没有例外</strong></p>" + _paras()
    assert _body(inner) == ["纪律规矩面前没有例外", *_PARAS]
