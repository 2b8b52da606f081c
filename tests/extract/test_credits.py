"""crawler.extract.article: author, 来源 and title on hand-written pages built the way news and
government sites print credits, sources and headline widgets."""

from __future__ import annotations

import pytest

from crawler.extract.article import extract_article
from crawler.extract.credits import closing_names, credit_line_names, credit_names, dateline_names
from crawler.extract.records import ExtractedArticle

P1 = "近日，某市纪委监委通报三起违反中央八项规定精神典型问题，要求各级党组织引以为戒。"
P2 = "通报指出，这三起问题反映出一些党员干部纪律意识淡薄，必须严肃查处、绝不姑息。"
P3 = "该市纪委监委表示，将持续紧盯节点，对顶风违纪问题发现一起、查处一起、通报一起。"


def page(
    body: str,
    *,
    info: str = "来源：中央纪委国家监委网站 发布时间：2024-05-13 08:49",
    head: str = "",
    h1: str = "某市纪委监委通报三起典型问题",
    after: str = "",
    before: str = "",
) -> str:
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8">{head}
<title>某市纪委监委通报三起典型问题_某市纪委监委</title></head><body>
<div class="nav"><a href="/">首页</a> <a href="/gzdt/">工作动态</a></div>
{before}
<div class="article"><h1>{h1}</h1>
<div class="info">{info}</div>
<div class="content">{body}</div></div>
{after}
<div class="footer">版权所有：某市纪委监委</div></body></html>"""


def extract(html: str) -> ExtractedArticle:
    return extract_article(
        html.encode("utf-8"), "https://jw.example.gov.cn/gzdt/202405/t20240513_1.html"
    )


def paras(*texts: str) -> str:
    return "".join(f"<p>{t}</p>" for t in texts)


@pytest.mark.parametrize(
    ("credit", "names"),
    [
        ("中央纪委国家监委网站 李云舒", "李云舒"),
        ("文/栗思", "栗思"),
        ("文丨栗思", "栗思"),
        ("作者：王五", "王五"),
        ("（总台央视记者 张三 李四）", "张三 李四"),
        ("新华社记者 王五", "王五"),
        ("执笔人：张三", "张三"),
        ("本报记者 王五 通讯员 李四", "王五 李四"),
        ("《棱镜》作者 周纯", "周纯"),
        ("新京报记者 张三 编辑 李四 校对 王五", "张三"),
    ],
)
def test_a_credit_line_at_the_top_gives_the_author_and_leaves_the_body(
    credit: str, names: str
) -> None:
    art = extract(page(paras(credit, P1, P2, P3)))
    assert art.author == names
    assert art.body.split("\n") == [P1, P2, P3]


def test_a_credit_line_after_a_summary_box_is_still_a_credit() -> None:
    box = "".join(f"<li>{t}</li>" for t in ("要点一：监督前移。", "要点二：查处从严。"))
    art = extract(page(f"<p>划重点：</p><ol>{box}</ol>" + paras("本报记者 葛灵丹", P1, P2, P3)))
    assert art.author == "葛灵丹"
    assert "葛灵丹" not in art.body


def test_a_dateline_names_the_author_and_stays_in_the_body() -> None:
    first = "新华社北京5月19日电（记者 王五、赵六）" + P1
    art = extract(page(paras(first, P2, P3), info="2024-05-19 10:06 来源：新华网"))
    assert art.author == "王五 赵六"
    assert art.body.split("\n")[0] == first
    assert art.source == "新华网"


def test_an_unlabelled_credit_on_the_information_line() -> None:
    info = "2024-05-13 08:49 来源：重庆日报 记者 王五 通讯员 李四"
    art = extract(page(paras(P1, P2, P3), info=info))
    assert art.author == "王五 李四"
    assert art.source == "重庆日报"


@pytest.mark.parametrize("nobody", ["本站", "admin", "佚名"])
def test_an_author_field_that_names_nobody_gives_none(nobody: str) -> None:
    info = f"2024-05-13 08:49 来源：某市纪委监委 作者：{nobody}"
    assert extract(page(paras(P1, P2, P3), info=info)).author is None


def test_an_organisation_as_the_labelled_author_is_kept() -> None:
    info = "2024-05-13 08:49 来源：某市纪委监委 作者：医技药剂党支部"
    assert extract(page(paras(P1, P2, P3), info=info)).author == "医技药剂党支部"


def test_a_newspaper_dateline_without_a_role_word() -> None:
    art = extract(page(paras("本报讯（记者叶婉）" + P1, P2, P3)))
    assert art.author == "叶婉"


def test_names_closing_the_last_paragraph_are_the_author() -> None:
    art = extract(page(paras(P1, P2, P3 + "（钟才文）")))
    assert art.author == "钟才文"
    assert art.body.endswith("（钟才文）")


def test_a_bracketed_closing_credit_with_the_site_name_stays_in_the_body() -> None:
    art = extract(page(paras(P1, P2, P3, "（中央纪委国家监委网站 斯凌整理）")))
    assert art.author == "斯凌"
    assert art.body.split("\n")[-1] == "（中央纪委国家监委网站 斯凌整理）"


def test_a_closing_credit_line_with_the_source_gives_the_author() -> None:
    art = extract(page(paras(P1, P2, P3, "中青报·中青网记者 魏其濛 来源：中国青年报"), info=""))
    assert art.author == "魏其濛"
    assert art.source == "中国青年报"
    assert "魏其濛" not in art.body


def test_an_author_with_titles_in_a_closing_source_line() -> None:
    closing = "（本文来源：经济日报 作者：某研究中心世界经济研究部部长、研究员徐占忱）"
    art = extract(page(paras(P1, P2, P3, closing), info="2024-05-13 08:49"))
    assert art.author == "徐占忱"


def test_a_photo_credit_is_not_the_author() -> None:
    caption = "该市纪委监委干部在监督检查现场。新华社记者 谢环驰 摄"
    art = extract(page(paras(caption, P1, P2, P3, "新华社记者 谢环驰 摄")))
    assert art.author is None


def test_the_editor_goes_to_editor_never_to_author() -> None:
    art = extract(page(paras(P1, P2, P3, "（责任编辑：李四）")))
    assert art.author is None
    assert art.editor == "李四"


def test_an_author_label_run_together_with_the_source() -> None:
    info = "2019-09-26 12:11<span>来源：证券时报网</span><span>作者：李在山</span>"
    art = extract(page(paras(P1, P2, P3), info=info))
    assert art.author == "李在山"
    assert art.source == "证券时报网"


def test_an_author_element_in_the_information_line() -> None:
    info = (
        '<span class="time">2020-06-05 20:35</span> <span class="original">'
        "<span>叨叨姐</span> <span>胡一刀</span></span>"
    )
    art = extract(page(paras(P1, P2, P3), info=info))
    assert art.author == "叨叨姐 胡一刀"
    assert art.source is None  # the writers' element is not the source


def test_the_author_meta_tag_when_it_names_a_person_other_than_the_editor() -> None:
    art = extract(page(paras(P1, P2, P3), head='<meta name="author" content="王堃">'))
    assert art.author == "王堃"
    edited = page(
        paras(P1, P2, P3) + "<p>【责任编辑：刘峻凌】</p>",
        head='<meta name="author" content="刘峻凌">',
    )
    art = extract(edited)
    assert art.editor == "刘峻凌"
    assert art.author is None
    site = page(paras(P1, P2, P3), head='<meta name="author" content="某市纪委监委">')
    assert extract(site).author is None


def test_a_bracketed_source_in_the_header() -> None:
    art = extract(page(paras(P1, P2, P3), info="2024-05-13 08:49 来源：[ 人民网 ]"))
    assert art.source == "人民网"


@pytest.mark.parametrize(
    ("info", "source"),
    [
        ("来源｜新华网 2024-05-13 08:49", "新华网"),
        ("人民日报 2024年05月13日", "人民日报"),
        ("新华网 | 2024-05-13 08:49", "新华网"),
        ("来源单位：某市财政局 发布日期：2024-05-13", "某市财政局"),
    ],
)
def test_other_header_forms_of_the_source(info: str, source: str) -> None:
    assert extract(page(paras(P1, P2, P3), info=info)).source == source


def test_a_source_run_together_with_the_time() -> None:
    info = "<span>2020-03-04 04:29:44</span><span>39健康网</span>"
    art = extract(page(paras(P1, P2, P3), info=info))
    assert art.source == "39健康网"


@pytest.mark.parametrize(
    "info",
    [
        '2024-05-13 08:49 <span class="source">来自内蒙古自治区</span>',
        "2024-05-13 08:49 来自内蒙古自治区",
        "2024-05-13 08:49 IP属地：北京",
        "2024-05-13 星期一",
        "2024-05-13 08:49 来自：呼和浩特市",
        "2024-05-13 08:49 语音播报",
    ],
)
def test_an_ip_location_weekday_or_widget_label_is_not_the_source(info: str) -> None:
    art = extract(page(paras(P1, P2, P3), info=info))
    assert art.source is None


def test_a_page_without_a_source_gets_none_from_related_and_navigation_blocks() -> None:
    before = '<div class="hot-news"><p>2024-05-12 全省纪检监察工作会议召开</p></div>'
    after = (
        '<div class="related"><h3>相关阅读</h3><ul><li><a href="/a/2.html">持续深化纠治四风'
        '</a><span class="source">人民网</span></li></ul></div>'
    )
    art = extract(page(paras(P1, P2, P3), info="2024-05-13 08:49", before=before, after=after))
    assert art.source is None


def test_an_unlabelled_source_in_a_list_of_articles_before_the_body_is_not_taken() -> None:
    before = (
        '<ul class="latest"><li><a href="/a/3.html">全省纪检监察工作会议召开</a>'
        '<span class="source">人民网</span></li></ul>'
    )
    art = extract(page(paras(P1, P2, P3), info="2024-05-13 08:49", before=before))
    assert art.source is None


def test_a_headline_in_a_source_classed_element_is_not_the_source() -> None:
    before = (
        '<div class="source-box"><a href="/a/5.html">某市纪委监委召开全会，部署全年工作任务'
        "</a></div>"
    )
    art = extract(page(paras(P1, P2, P3), info="2024-05-13 08:49", before=before))
    assert art.source is None


def test_an_editor_line_in_a_source_classed_element_is_not_the_source() -> None:
    after = '<div class="pageSource">（责任编辑：系统管理员）</div>'
    art = extract(page(paras(P1, P2, P3), info="2024-05-13 08:49", after=after))
    assert art.source is None
    assert art.editor == "系统管理员"


@pytest.mark.parametrize(
    "widget",
    [
        '<div class="audio-box"><span>播报文章</span><audio src="/a.mp3"></audio>'
        "<span>语音播报文章</span><span>00:00 / 03:12</span></div>",
        "<span>播报文章</span> <span>语音播报文章</span>",
    ],
)
def test_an_audio_widget_in_the_headline_is_not_part_of_the_title(widget: str) -> None:
    art = extract(page(paras(P1, P2, P3), h1=f"某市纪委监委通报三起典型问题{widget}"))
    assert art.title == "某市纪委监委通报三起典型问题"


def test_a_title_ending_in_a_time_keeps_it() -> None:
    art = extract(page(paras(P1, P2, P3), h1="某市纪委监委新闻发布会今日10:00举行"))
    assert art.title == "某市纪委监委新闻发布会今日10:00举行"


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("顶端新闻·河南商报记者马俊峰/文", "马俊峰"),
        ("新华网黑龙江频道\u00a0 记者\u00a0 伊琳\u00a0 李清芬", "伊琳 李清芬"),
        ("执笔/叨叨姐、胡一刀&李小飞刀", "叨叨姐 胡一刀 李小飞刀"),
        ("文/李四 摄", "李四"),
        ("图/文 张三", "张三"),
        ("新华社记者 谢环驰 摄", None),
        ("记者手记", None),
        ("责任编辑：李四", None),
        ("原标题：反腐", None),
    ],
)
def test_credit_names(text: str, want: str | None) -> None:
    assert credit_names(text) == want


def test_bare_names_on_a_line_are_not_taken_for_a_credit() -> None:
    assert credit_line_names("张三 李四") is None
    assert credit_line_names("结语") is None
    assert credit_line_names("中央纪委国家监委网站 张三", "中央纪委国家监委网站") == "张三"


@pytest.mark.parametrize(
    ("paragraph", "want"),
    [
        ("新华社巴黎12月9日电（记者唐霁）法国9日再次爆发全国跨行业大罢工。", "唐霁"),
        ("新华社北京5月19日电（刘艺、杨吉）中国科学院专家19日介绍。", "刘艺 杨吉"),
        ("（一）加强日常监督，做到早发现早处置。", None),
        ("近日（5月9日），某县召开警示教育大会。", None),
        ("央视网消息（新闻联播）：今天，全国纪检监察工作会议召开。", None),
        ("本报讯 记者 王五 通讯员 李四 近日，某市召开警示教育大会。", "王五 李四"),
        ("本报讯 近日，某市召开警示教育大会。", None),
    ],
)
def test_dateline_names(paragraph: str, want: str | None) -> None:
    assert dateline_names(paragraph) == want


@pytest.mark.parametrize(
    ("paragraph", "want"),
    [
        ("过一个廉洁的新春佳节。（常书香 马丹阳 ）", "常书香 马丹阳"),
        ("绿色发展的底色更亮。（经济日报评论员）", None),
        ("目前组合体运行正常。（完）", None),
        ("目前组合体运行正常。（新华社）", None),
        ("目前组合体运行正常。（来源：新华社）", None),
        ("目前组合体运行正常。（本报综合）", None),
        ("目前组合体运行正常。（图源网络）", None),
    ],
)
def test_closing_names(paragraph: str, want: str | None) -> None:
    assert closing_names(paragraph) == want
