"""HTML of the fake www.ccdi.gov.cn pages: chrome, article, list (see ``sitegen_ccdi``).

Modelled on saved ccdi pages: relative links (``../../images/…``), whitespace inside
``<title>``, ``h2.tit`` and ``em.e2`` as the CMS writes it, meta ``ArticleTitle`` sometimes
empty and ``PubDate`` sometimes a few minutes off, two body styles (styled ``<p>`` with
full-width indentation, or ``div.TRS_Editor``), a share widget and a related list.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote

from tests.sitegen_common import FakeArticle, Page, esc, static_page

SITE_NAME = "中央纪委国家监委网站"
# channel -> breadcrumb (the last crumb is the column name used in <title>)
CHANNELS: dict[str, tuple[str, ...]] = {
    "yaowenn": ("要闻",),
    "toutiaon": ("头条",),
    "pln": ("评论",),
    "scdcn/zggb/zjsc": ("审查调查", "中管干部", "执纪审查"),
    "scdcn/zggb/djcf": ("审查调查", "中管干部", "党纪政务处分"),
    "scdcn/zyyj/zjsc": ("审查调查", "中央一级党和国家机关、国企和金融单位干部", "执纪审查"),
    "scdcn/sggb/zjsc": ("审查调查", "省管干部", "执纪审查"),
    "scdcn/sggb/djcf": ("审查调查", "省管干部", "党纪政务处分"),
}
EXTERNAL = "http://www.12388.gov.cn/"
_P_STYLE = (
    'style="text-align: left; font-family: 微软雅黑, &quot;Microsoft YaHei&quot;; '
    'font-size: 16px; margin-bottom: 16px; line-height: 2em;"'
)


def rel_root(path: str) -> str:
    """Relative prefix from ``path``'s directory to the site root ("../../", or "./")."""
    return "../" * (path.count("/") - 1) or "./"


def crumbs(channel: str) -> tuple[str, ...]:
    return CHANNELS.get(channel, (channel,))


def _head(title: str, column: str, root: str, meta: str, charset: str) -> str:
    return f"""<!DOCTYPE html>
<html><head>
        {charset}
        <meta name="SiteName" content="{SITE_NAME}">
        <meta name="SiteDomain" content="www.ccdi.gov.cn">
        <meta name="SiteIDCode" content="CA330000000604648580001">
        <meta name="ColumnName" content="{column}">
        <meta name="ColumnType" content="{column}">
{meta}
        <title>
            {title}
        </title>
        <link rel="shortcut icon" href="{root}images/favicon.ico" type="image/x-icon">
        <link type="text/css" rel="stylesheet" href="{root}images/public.css">
        <link type="text/css" rel="stylesheet" href="{root}images/common.css">
        <script type="text/javascript" src="{root}images/jquery.js"></script>
        <script type="text/javascript" src="{root}images/common.js"></script>
"""


def _top(root: str) -> str:
    return f"""    <body class="other_bg min_body other_body">
        <header class="other_header fixed">
<div class="top">
    <div class="top_warp">
    <a href="{root}">返回首页</a>
        <a href="https://mail.ncs.gov.cn" target="_blank">工作邮箱</a>
        <a href="{root}special/jdbg3/" target="_blank">专题</a>
    </div>
    <div class="search">
        <form name="searchFrom" action="/was5/web/search" method="post" target="_blank"
          onsubmit="return advsearch()">
        <input name="channelid" id="channelid" value="298814" type="hidden">
        <input type="text" name="searchword" id="searchword" value="输入关键字" class="search_key">
        <input type="submit" class="but_search" value="">
        </form>
    </div>
    <script>
        function advsearch() {{
            var w = document.getElementById("searchword").value.replace(/(^\\s*)|(\\s*$)/g, "");
            if (w == '' || w == '输入关键字') {{ alert('关键字不能为空！'); return false; }}
            return true;
        }}
    </script>
</div>
<div class="header_warp"><div class="logo"><img src="{root}images/logo.png"></div></div>
<div class="nav_bg">
    <nav>
        <span><a href="{root}" target="_blank">首页</a></span>
        <span><a href="{root}special/jdbg3/" target="_blank">曝光专区</a></span>
        <span><a href="{EXTERNAL}" target="_blank">监督举报</a></span>
    </nav>
</div>
        </header>
        <div class="clear"></div>
"""


def _footer(root: str) -> str:
    return f"""        <div class="clear"></div>
        <footer class="in_footer fixed" style="text-align:center;">
    <div class="footer_warp">
        <div class="foot_con">
            <span>&copy;中共中央纪律检查委员会 中华人民共和国国家监察委员会 版权所有</span>
            <span>主办单位：中央纪委国家监委</span>
            <span>备案序号：<a href="https://beian.miit.gov.cn"
              target="_blank">京ICP备 15039510号</a></span>
            <span><a href="{root}gywmn/201412/t20141201_17827.html"
              target="_blank">关于我们</a></span>
            <span><a href="{root}wzsmn/201412/t20141201_17826.html"
              target="_blank">网站声明</a></span>
        </div>
    </div>
</footer>
    <script id="_trs_ta_js" src="//ta.trs.cn/c/js/ta.js?mpid=5312" async="" defer=""></script>
</body></html>
"""


def _location(root: str, names: tuple[str, ...], prefix: str = "") -> str:
    trail = "&nbsp;&nbsp;&gt;&nbsp;".join(names)
    return f"""<div class="other_Location fixed">
    <div class="fl">
        <span>
            {prefix}<a href="{root}">首页</a>&nbsp;&nbsp;&gt;&nbsp;{trail}
        </span>
    </div>
</div>
"""


def _share(path: str, page_title: str) -> str:
    url = quote(f"https://www.ccdi.gov.cn{path}", safe="")
    t = quote(page_title, safe="")
    return f"""<div class="share_box"><div class="slideDown"><span class="share">分享<b></b></span>
<div class="bdsharebuttonbox"><div class="selectBox social-share" data-sites="wechat,qq,weibo">
<a class="social-share-icon icon-wechat" href="javascript:;"><div class="wechat-qrcode bottom">
<h4>微信扫一扫：分享</h4><div class="help"><p>微信里点“发现”，扫一下</p>
<p>二维码便可将本文分享至朋友圈。</p></div></div></a>
<a class="social-share-icon icon-qq" target="_blank"
 href="http://connect.qq.com/widget/shareqq/index.html?url={url}&amp;title={t}"></a>
<a class="social-share-icon icon-weibo" target="_blank"
 href="http://service.weibo.com/share/share.php?url={url}&amp;title={t}&amp;appkey="></a>
</div></div></div></div>"""


def article_html(channel: str, art: FakeArticle, k: int, related: list[FakeArticle]) -> str:
    root = rel_root(art.path)
    trail = crumbs(channel)
    page_title = f"{art.title}————{trail[-1]}——{SITE_NAME}"
    pub = art.publish_time + timedelta(minutes=6 if k % 4 == 1 else 0)
    meta = (
        f'        <meta name="ArticleTitle" content="{"" if k % 3 == 0 else esc(art.title)}">\n'
        f'        <meta name="PubDate" content="{pub:%Y-%m-%d  %H:%M} ">\n'
        f'        <meta name="ContentSource" content="{esc(art.source)}">'
    )
    if art.encoding == "gbk":
        charset = '<meta charset="gb2312">'
    else:
        charset = '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
    mobile = art.path.rsplit("/", 1)[1].replace(".html", "_m.html")
    parts: list[str] = []
    if art.author:
        parts.append(
            '<p style="text-align: center; font-size: 16px; line-height: 2em;">'
            f'<span style="font-family: 楷体, SimKai;">{SITE_NAME} {esc(art.author)}</span></p>'
        )
    for n, text in enumerate(art.paragraphs):
        if k % 2:
            parts.append(f'<p style="text-indent: 2em;">{esc(text)}</p>')
        else:
            parts.append(f"<p {_P_STYLE}>　　{esc(text)}</p>")
        if n == 1:
            for image in art.images:
                name = image.rsplit("/", 1)[1]
                parts.append(
                    f'<p style="text-align: center;"><img src="./{name}" oldsrc="{name}"'
                    ' style="width: 600px;" alt=""></p>'
                )
            for embed in art.embeds:
                parts.append(
                    f'<p style="text-align: center;"><iframe src="{embed}" width="640" '
                    'height="360" frameborder="0" allowfullscreen="true"></iframe></p>'
                )
    content = "\n".join(parts)
    if k % 2:
        content = f'<div class="TRS_Editor">\n{content}\n</div>'
    rel = "\n".join(
        f'<li><a href="../{r.path.split("/")[-2]}/{r.path.split("/")[-1]}" target="_blank">'
        f"{esc(r.title)}</a><span>{r.publish_time:%Y-%m-%d}</span></li>"
        for r in related
    )
    stem = mobile.replace("_m.html", "")
    return (
        _head(esc(page_title), trail[-1], root, meta, charset)
        + f"""        <script type="text/javascript">uaredirect('./{mobile}')</script>
    </head>
"""
        + _top(root)
        + """        <section class="main fixed">
"""
        + _location(root, trail)
        + f"""            <div class="flater_tab">
                <div class="Article_61">
                    <h2 class="tit">
                        {esc(art.title)}
                    </h2>
                    <h3 class="daty">
                        <div class="daty_con">
                            <em class="e e1">来源：{esc(art.source)}</em>
                            <em class="e e2">发布时间：
                         {art.publish_time:%Y-%m-%d %H:%M}
                        </em>
                            <em class="e e3">
{_share(art.path, page_title)}
                            </em>
                        </div>
                    </h3>
                    <div class="content">
{content}
                    </div>
                </div>
                <div class="clear"></div>
                <div class="page">
                    <script type="text/javascript">
                        createPageHTML_ZW(1, 0, "{stem}", "html");
                    </script>
                </div>
                <script language="javascript">
                var file_appendix='';
                if(file_appendix!=""){{ document.write('<div class="xgwjxz"></div>'); }}
                </script>
                <div class="xgyd fixed">
                    <h4 class="tit">相关阅读</h4>
                    <ul>
{rel}
                    </ul>
                </div>
            </div>
        </section>
"""
        + _footer(root)
    )


def list_html(
    channel: str,
    private_dirs: tuple[str, ...],
    path: str,
    items: list[FakeArticle],
    n_pages: int,
    cur: int,
) -> str:
    root = rel_root(path)
    trail = crumbs(channel)
    lis = "\n".join(
        f'<li><a href="./{a.path.split("/")[-2]}/{a.path.split("/")[-1]}" target="_blank">'
        f'{esc(a.title)}</a><span class="more">{a.publish_time:%Y-%m-%d}</span></li>'
        for a in items
    )
    meta = '        <meta name="Keywords" content="">'
    private = "\n".join(
        f'            <li><a href="{root}{d.lstrip("/")}index.html">内部通知</a></li>'
        for d in private_dirs
    )
    charset = '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
    return (
        _head(f"{trail[-1]}_{SITE_NAME}", trail[-1], root, meta, charset)
        + "    </head>\n"
        + _top(root)
        + '        <section class="main fixed">\n'
        + _location(root, trail, prefix="当前位置：")
        + f"""<div class="clear"></div>
<div class="other_center fixed">
    <div class="other_left">
        <ul class="left_nav">
            <li><a href="{root}special/jdbg3/" target="_blank">曝光专区</a></li>
{private}
            <li><a href="{EXTERNAL}" target="_blank">中央纪委国家监委举报网站</a></li>
        </ul>
    </div>
    <div class="other_right">
        <h2 class="tith2">{trail[-1]}</h2>
        <ul class="list_news_dl2 fixed">
{lis}
        </ul>
        <div class="page">
            <script>createPageHTML({n_pages}, {cur}, "index", "html");</script>
        </div>
    </div>
</div>
        </section>
"""
        + _footer(root)
    )


def simple_page(path: str, heading: str, text: str, modified: datetime) -> Page:
    root = rel_root(path)
    charset = '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
    html = (
        _head(f"{heading}_{SITE_NAME}", heading, root, "", charset)
        + "    </head>\n"
        + _top(root)
        + f'<section class="main fixed"><h2 class="tith2">{heading}</h2><p>{text}</p></section>\n'
        + _footer(root)
    )
    return static_page(html.encode(), modified, "text/html; charset=utf-8")
