"""A fake jjc.cq.gov.cn (重庆市纪委监委) list, built as ``dict[str, Page]``.

Structure as on the real site (DESIGN.md): list ``/html/col609191.htm`` and further pages
``/html/col609191_2.htm`` … linked from ``ul.pages li a``; items
``#list > ul > li > h1 > a`` with the date in ``li > div``; articles at
``/html/YYYY-MM/DD/content_NNNNNNNN.htm`` with a 引题 above ``#text h1``, source and time in
``.ls`` and the body in ``.nr``. Every article page carries the "Baidu map" widget and an
``<iframe src="/dead-embed/map.html">`` that 404s with nginx's page: the newest article is
the one in ``/work/shared/samples/cq-jjc-article-as-crawled.txt`` (text copied here, so the
tests do not read outside the repository).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from tests.sitegen_common import CST, FakeArticle, Page, asset_pages, esc, static_page
from tests.sitegen_text import (
    KICKERS,
    TOPICS,
    cq_district,
    make_paragraphs,
    make_title,
    person,
)

COLUMN = "col609191"
COLUMN_NAME = "要闻"
DEAD_EMBED = "/dead-embed/map.html"
SAMPLE_TITLE = "重庆基层书记积极探索基层治理走出新路子取得新成效"
SAMPLE_KICKER = "找准“问题眼” 用活“穿针法” 下足“绣花功”"
SAMPLE_SOURCE = "重庆日报"
SAMPLE_TIME = datetime(2024, 6, 30, 10, 6, tzinfo=CST)
SAMPLE_ID = 51234567
# Section headings inside the sample body (rendered bold, still body paragraphs).
SAMPLE_HEADINGS = frozenset(
    {
        "从贫困到致富,改革求变是真出路",
        "“三找五必到”,切实帮居民解决麻烦事",
        "基层治理创新,居民满意度是检验标准",
        "“金边银角”智囊团深挖城市“边角余料”",
        "理顺“线头”后再“落针”“穿针”",
    }
)
SAMPLE_PARAGRAPHS: tuple[str, ...] = (
    (
        "基层治理是国家治理的基石,基层强则国家强,基层安则天下安。为深入学习贯彻习近平总"
        "书记视察重庆重要讲话重要指示精神,广泛宣传学习贯彻《习近平关于基层治理论述摘编》"
        "和基层治理典型经验,重庆启动“百名基层书记话基层治理”活动。"
    ),
    (
        "6月28日,市委社会工作部、市委组织部,重庆日报、当代党员杂志社、华龙网组织开展"
        "“‘民生为大’基层书记话基层治理媒体见面会”,5名来自农村、山区、库区、城市的基"
        "层书记深入浅出地分享了对基层治理工作的认识、感受和探索,他们的生动实践充分展示了"
        "重庆基层治理勇于突破的创新之路和取得的最新成效。"
    ),
    "从贫困到致富,改革求变是真出路",
    (
        "石柱县中益乡华溪村党支部书记、村委会主任王祥生在农村生活了61年,见证了华溪村改"
        "革求变的方方面面,也切身体会到村子从贫困到致富的幸福转身。"
    ),
    (
        "“党的领导是乡村振兴的灵魂,是推动基层治理体系和治理能力现代化的根本保障。”他介"
        "绍说,华溪村始终将党的建设贯穿于基层治理全过程,通过一系列创新模式,着力强化干部"
        "队伍理论武装,切实提高党员干部的思想觉悟和行动力。"
    ),
    (
        "“如何治理?改革求变才是真出路!”王祥生介绍,华溪村地处武陵山深处,曾经村民依靠"
        "在“鸡爪地”“巴掌田”里种植玉米、洋芋、红苕勉强度日。这些年来,通过“三变改革”"
        "试点(资源变资产、资金变股金、农民变股东),他们积极组建和壮大村集体经济实体,成"
        "功调整了产业结构,发展特色产业经济,村集体经济五年累计收入达到3049.6万元。"
        "他们还进一步完善了“两不愁三保障”机制。如今,华溪村是“全国脱贫攻坚考察点”,也"
        "是“全国基层治理示范村”“全国乡村旅游重点村”“全国民主法治示范村”“全国一村一"
        "品示范村镇”,还入选第一批“全国农村集体经济发展村级典型案例”、全国2023“和"
        "美乡村百佳范例”。"
    ),
    ("“如今的华溪村,村民保障一年更比一年好!幸福生活更托底了。”言语中,王祥生充满了底气。"),
    "“三找五必到”,切实帮居民解决麻烦事",
    (
        "南川区东城街道灌坝社区党委书记、居委会主任杨勇从事基层工作32年。他所在的社区,"
        "位于南川老城区和农村的接合部,属于典型的老旧无物业管理社区,社区治理难度大。"
    ),
    (
        "“社区是基层基础,‘小社区’关联着‘大民生’。”杨勇在访谈中分享了一套“三找五必"
        "到”工作法。“三找”,就是充分发挥社区平台作用,一找骨干力量,二找群众需求(设置"
        "“邻里汇”心愿墙、意见箱等居民需求“气象站”,广泛搜集居民需求,破解社区服务不聚"
        "焦的瓶颈),三找措施办法(设立“民情恳谈日”)。“五必到”,就是矛盾纠纷必到、困"
        "难诉求必到、大病住院必到、“微家”需求必到、突发事件必到。比如,要求困难诉求必到"
        ",是把居民困难诉求按“大事、小事、私事”分类处理。政府公共服务之类的“大事”,由"
        "小区“吹哨”部门合力解决;楼道卫生等“小事”,由“微家”骨干共商共解;赡养老人等"
        "“私事”,由邻里互帮互助解决。通过这一工作机制,有效提升了基层精细化治理、精准化"
        "服务水平。"
    ),
    "“落脚点就是帮居民切实解决麻烦事和疑难问题。”他说。",
    "基层治理创新,居民满意度是检验标准",
    (
        "九龙坡区谢家湾街道民主村社区位于万象城和杨家坪步行街两大商圈之间,是“百年兵工”"
        "重庆建设厂家属区。2022年以前,民主村社区配套不足、功能缺失、交通拥堵、环境脏"
        "乱,居民生活面临诸多不便。如今,上述问题解决了,还成了人气打卡点。"
    ),
    "在推动城市更新进程中,民主村是老旧小区改造的典范,有哪些经验值得借鉴?",
    (
        "“基层治理创新,一定是在结合社区的历史沿革、地理位置、人员构成等因素的基础上,因"
        "地制宜出台相应的治理举措,其检验标准就是居民的满意度,最终的落脚点是提升居民幸福"
        "指数。我们社区干部要把居民当家人,要想办法激活居民参与基层治理活力,聚众智合众力"
        ",推动基层治理‘向阳’而行。”民主村社区党委书记、居委会主任伍成莉说。2022年"
        "初,在市委、市政府支持下,民主村社区启动了更新改造项目,通过“问需于民、找准定位"
        "”,广泛听取居民意见建议,形成“三师进社区”和“五议聚民意”常态化工作方法,按照"
        "“留、改、拆、增”思路推进社区更新改造,全面解决社区房屋老旧、停车困难、配套缺失"
        "等痛点问题,让社区成为居民放心、安心的港湾。"
    ),
    "“金边银角”智囊团深挖城市“边角余料”",
    "探索超大城市现代化治理新路子是奋力谱写中国式现代化重庆篇章的必答题。",
    (
        "渝中区上清寺街道辖区企事业单位众多、流动人口大、建筑密度高,具有超大城市的普遍特"
        "性,存在诉求多样、隐患较多等问题。在基层治理实践中,上清寺街道如何探索超大城市现"
        "代化治理新路子?"
    ),
    (
        "“我们传承红岩精神,以新时代‘红岩先锋’变革型组织建设为抓手,不断增强街道社区党"
        "组织的领导力和组织力,构建区域统筹、共建共享的新格局。”该街道党工委书记杨沁说,"
        "在治理实践中,他们组建了“金边银角”三师智囊团打造完整社区。践行“一切空间皆可产"
        "生效益”理念,联动规划师、设计师、建筑师,挖掘城市“边角余料”57处,完善桥下停"
        "车场、崖边游乐园等7处“金边银角”,破解老旧小区配套不全、功能缺失等难题。同时,"
        "打造“银发生活”助理团破题居家养老。街道整合专业养老、辖区医院资源,推进7个社区"
        "医护站点全覆盖,建起社区食堂、老年大学社区站点,形成社区“看病+护理+吃饭+交友"
        "娱乐”全链条的居家养老服务供给,获评“全国示范性老年友好型社区”。"
    ),
    "理顺“线头”后再“落针”“穿针”",
    (
        "奉节县夔门街道因“巍巍夔门”而得名。辖区既有农业生产,也有城市管理、景区服务,同"
        "时还是重大项目的“主战场”,在基层治理中面临着工作体量大、历史遗留问题多等突出问"
        "题,如何下足“绣花功”,有针对性分类施策?"
    ),
    (
        "奉节县夔门街道党工委书记彭燏介绍,近年来,夔门街道不断整合资源、汇聚力量,聚焦居"
        "民群众及游客朋友所需,有效提升服务与治理水平。首先,理顺“穿线头”。建立社区“大"
        "党委”,在职党员实行双报到;划细社区小网格,配备网格长及网格员86人;统筹用好N"
        "大员,即能人乡贤、红白喜事总管、群众自治组织成员、业委会委员等,参与社区治理。接"
        "着,找准“落针点”。在基层治理方面,把群众反映的热点难点问题找准找实,坚持有解思"
        "维,不推不拖不躲。最后,用活“穿针法”。强化大数据、云平台等信息技术在基层治理中"
        "的结合和运用,联动公安、应急、景区平台等多个单位,加强游客车流量拥堵预警、长江三"
        "峡地灾危岩风险监测等隐患分析和应急处理能力,增强基层治理效率。"
    ),
)

SOURCES = ("重庆市纪委监委", "中国纪检监察报", "华龙网", "重庆日报")
_SLOTS = ((9, 30), (16, 12), (11, 45))


@dataclass
class CqSite:
    """A built 重庆市纪委监委 column; ``articles`` newest first (the sample article first)."""

    pages: dict[str, Page]
    articles: list[FakeArticle]
    list_paths: list[str]

    @property
    def start_path(self) -> str:
        return self.list_paths[0]


def list_path(page: int) -> str:
    """Path of list page ``page`` (1-based, as the site numbers them)."""
    return f"/html/{COLUMN}.htm" if page == 1 else f"/html/{COLUMN}_{page}.htm"


def _article_path(when: datetime, article_id: int) -> str:
    return f"/html/{when:%Y-%m}/{when:%d}/content_{article_id}.htm"


def _sample_article() -> FakeArticle:
    return FakeArticle(
        path=_article_path(SAMPLE_TIME, SAMPLE_ID),
        title=SAMPLE_TITLE,
        publish_time=SAMPLE_TIME,
        source=SAMPLE_SOURCE,
        author=None,
        paragraphs=list(SAMPLE_PARAGRAPHS),
        kicker=SAMPLE_KICKER,
        embeds=(DEAD_EMBED,),
    )


def _generated_article(j: int) -> FakeArticle:
    """The article ``j`` places below the sample in the list (j >= 1)."""
    hour, minute = _SLOTS[j % len(_SLOTS)]
    day = SAMPLE_TIME - timedelta(days=j)
    when = day.replace(hour=hour, minute=minute)
    place = cq_district(j * 5)
    topic = TOPICS[(j * 3) % len(TOPICS)]
    seed = f"cq:{j}"
    name = person(random.Random(f"name:{seed}"))
    return FakeArticle(
        path=_article_path(when, SAMPLE_ID - j * 2311),
        title=make_title(seed, place, topic, when, name),
        publish_time=when,
        source=SOURCES[j % len(SOURCES)],
        author=None,
        paragraphs=make_paragraphs(seed, place, topic, when, 2048, name),
        kicker=KICKERS[j % len(KICKERS)] if j % 3 == 0 else None,
        embeds=(DEAD_EMBED,),
    )


def _head(title: str) -> str:
    return f"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
 "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8" />
<title>{title}</title>
<meta name="keywords" content="重庆市纪委监委,清风巴渝" />
<link href="/images/common.css" rel="stylesheet" type="text/css" />
<script type="text/javascript" src="/images/jquery.js"></script>
</head>
<body>
"""


_MAP = '<div class="BMap_cpyCtrl"><span>Baidu</span><br /><span>map</span></div>'
_HEADER = """<div class="header"><div class="logo"><a href="/"><img src="/images/logo.png"
 alt="重庆市纪委监委" /></a></div></div>
"""
_FOOTER = f"""<div class="footer">
<div class="ft_logo">纪委</div>
<p><a href="/html/gywm.htm">关于我们</a> | <a href="/html/wzsm.htm">网站声明</a> |
 <a href="/">返回首页</a></p>
<p>主办单位:中共重庆市纪律检查委员会 重庆市监察委员会</p>
<p>版权所有:中共重庆市纪律检查委员会 重庆市监察委员会,未经许可,不得复制.</p>
<p>备案序号:<a href="https://beian.miit.gov.cn/" target="_blank">渝ICP备07000348号</a></p>
</div>
<div class="bdmap">{_MAP}</div>
<div class="bdmap">{_MAP}</div>
</body>
</html>
"""


def _article_html(art: FakeArticle) -> str:
    paragraphs = "\n".join(
        f"<p><strong>{esc(p)}</strong></p>"
        if p in SAMPLE_HEADINGS
        else f'<p style="text-indent:2em;">{esc(p)}</p>'
        for p in art.paragraphs
    )
    embeds = "\n".join(
        f'<iframe src="{e}" width="100%" height="30" frameborder="0" scrolling="no"></iframe>'
        for e in art.embeds
    )
    kicker = f'<h3 class="yt">{esc(art.kicker)}</h3>\n' if art.kicker else ""
    return (
        _head(f"{esc(art.title)}_重庆市纪委监委")
        + f"""<div class="bdmap" id="topmap">{_MAP}
{embeds}
{_MAP}</div>
"""
        + _HEADER
        + f"""<div class="position">所在位置: <a href="/">重庆市纪委监委</a></div>
<div class="main">
<div id="text">
{kicker}<h1>{esc(art.title)}</h1>
<div class="ls">来源:{esc(art.source)} 时间:{art.publish_time:%Y-%m-%d %H:%M}</div>
<div class="nr">
{paragraphs}
</div>
</div>
</div>
"""
        + _FOOTER
    )


def _pager(cur: int, n_pages: int) -> str:
    def li(text: str, page: int | None, cls: str = "") -> str:
        attr = f' class="{cls}"' if cls else ""
        href = f' href="{list_path(page)}"' if page is not None else ""
        return f"<li{attr}><a{href}>{text}</a></li>"

    items = [li("首页", 1), li("上一页", cur - 1 if cur > 1 else None)]
    items += [
        li(str(p), None if p == cur else p, "on" if p == cur else "") for p in range(1, n_pages + 1)
    ]
    items += [li("下一页", cur + 1 if cur < n_pages else None), li("尾页", n_pages)]
    return '<ul class="pages">\n' + "\n".join(items) + "\n</ul>"


def _list_html(items: list[FakeArticle], cur: int, n_pages: int) -> str:
    lis = "\n".join(
        f'<li><h1><a href="{a.path}" target="_blank">{esc(a.title)}</a></h1>'
        f"<div>{a.publish_time:%Y-%m-%d}</div></li>"
        for a in items
    )
    return (
        _head(f"{COLUMN_NAME}_重庆市纪委监委")
        + _HEADER
        + f"""<div class="position">所在位置: <a href="/">重庆市纪委监委</a> &gt;
 <a href="{list_path(1)}">{COLUMN_NAME}</a></div>
<div class="main">
<div id="list">
<ul>
{lis}
</ul>
</div>
{_pager(cur, n_pages)}
</div>
"""
        + _FOOTER
    )


def _simple(title: str, text: str, modified: datetime) -> Page:
    html = _head(f"{title}_重庆市纪委监委") + _HEADER + f"<h1>{title}</h1><p>{text}</p>" + _FOOTER
    return static_page(html.encode(), modified, "text/html; charset=utf-8")


def build_cq_site(n_articles: int = 8, per_page: int = 5) -> CqSite:
    """Build the 重庆市纪委监委 column: the sample article first, then older ones.

    Also served: ``/`` (home page), ``/html/gywm.htm`` and ``/html/wzsm.htm`` (footer
    links) and ``/images/*``. No ``/robots.txt`` (it 404s: crawling is allowed).
    """
    if per_page < 1:
        raise ValueError("per_page must be at least 1")
    articles = [_sample_article()] if n_articles > 0 else []
    articles += [_generated_article(j) for j in range(1, n_articles)]
    pages: dict[str, Page] = {}
    for art in articles:
        pages[art.path] = static_page(
            _article_html(art).encode(), art.publish_time, "text/html; charset=utf-8"
        )
    n_pages = max(1, -(-len(articles) // per_page))
    list_paths = [list_path(p) for p in range(1, n_pages + 1)]
    modified = SAMPLE_TIME + timedelta(minutes=5)
    for p, path in enumerate(list_paths, start=1):
        body = _list_html(articles[(p - 1) * per_page : p * per_page], p, n_pages).encode()
        pages[path] = static_page(body, modified, "text/html; charset=utf-8")
    pages.update(asset_pages(modified))
    home = f'<a href="{list_paths[0]}">{COLUMN_NAME}</a>'
    pages["/"] = _simple("重庆市纪委监委", home, modified)
    pages["/html/gywm.htm"] = _simple("关于我们", "关于我们正文", modified)
    pages["/html/wzsm.htm"] = _simple("网站声明", "网站声明正文", modified)
    return CqSite(pages=pages, articles=articles, list_paths=list_paths)
