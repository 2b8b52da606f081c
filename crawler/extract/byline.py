"""The byline fields of an article: 来源 (source), 作者/记者 (author), 责任编辑 (editor).

They are written as labelled values on the page's information line ("来源：重庆日报 时间：
2024-06-30 10:06 作者：张三"), sometimes glued together without spaces, sometimes in
brackets ("（责任编辑：李四）", "[责编：王五]").  Each function reads one field from one line
of text and returns ``None`` when the line does not carry it.
"""

from __future__ import annotations

import re

from crawler.extract.credits import credit_line_names, credit_names

# Labels of the other fields on an information line; a value stops where one begins.
_NEXT_LABEL = (
    r"(?:作者|记者|通讯员|责任编辑|责编|编辑|发布时间|发表时间|发布日期|时间|日期|浏览|点击|"
    r"阅读|字号|来源|打印|分享|访问量|浏览次数|阅读量|编审|审核|校对|摄影|供稿|稿源)"
)
_SOURCE_RE = re.compile(
    r"(?<![\u4e00-\u9fff])(?:信息|文章|稿件|新闻|本文|内容|消息)?(?P<l>来源(?:于|单位)?|来自|稿源|出处)"
    r"\s*(?:[:：]|(?<=源)\s*[|丨｜])\s*(?:[\[【]\s*)?(?P<v>[^\s|丨｜/（）()【】\[\]，,。;；]{1,60})"
)
# "来自：呼和浩特市" is where the poster was, not a source.
_PLACE_RE = re.compile(r"^[\u4e00-\u9fff]{2,8}(?:省|市|州|盟|县|区|自治区|特别行政区)$")
# Not a source: the poster's IP location ("来自内蒙古自治区", "IP属地：北京"), or a weekday.
_GEO_LABEL_RE = re.compile(
    r"^(?:来自|发布于|发自|IP\s*属地\s*[:：]?|属地\s*[:：]?)"
    r"|^(?:中国)?(?:北京|天津|上海|重庆|河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|"
    r"河南|湖北|湖南|广东|海南|四川|贵州|云南|陕西|甘肃|青海|台湾|内蒙古|广西|西藏|宁夏|新疆|香港|"
    r"澳门)(?:省|市|(?:壮族|回族|维吾尔)?自治区|特别行政区)?$"
    r"|^(?:星期|礼拜|周)[一二三四五六日天]$",
    re.I,
)
# "作者：张三" after a space, a bracket or a separator; the strong labels also glued to the
# value before them ("来源：证券时报网作者：李在山").
_AUTHOR_RE = re.compile(
    r"(?:(?:^|(?<=[\s(（\[【|丨/｜]))(?:作者|撰稿|撰文|执笔人?|记者|通讯员|文)\s*[:：/]"
    r"|(?:作者|撰稿|撰文|执笔人?|记者|通讯员)\s*[:：])\s*"
    r"(?P<v>[^|丨｜/（）()【】\[\]。;；:：]{1,60})"
)
# Where an author's value ends: the next field that is not another credit.
_AUTHOR_END_RE = re.compile(
    r"\s*(?:责任编辑|责编|编辑|来源|稿源|发布|发表|时间|日期|浏览|点击|阅读|字号|打印|分享|审核|校对|"
    r"编审|摄影|供稿)|(?:19|20)\d{2}\s*[-/.年]"
)
_EDITOR_RE = re.compile(
    r"(?:责任编辑|责编|编辑)\s*[:：]?\s*(?P<v>[^\s|丨｜/（）()【】\[\]，,。;；:：]{1,20})"
)
# Author fields that name nobody.
_NO_AUTHOR = frozenset(
    {"本站", "本网", "本台", "本刊", "编辑部", "佚名", "未知", "匿名", "管理员", "系统管理员",
     "网站管理员", "admin", "administrator", "null", "none"}
)  # fmt: skip
_GLUED_LABEL_RE = re.compile(_NEXT_LABEL + r"\s*[:：]")
_DATE_START_RE = re.compile(r"(?:19|20)\d{2}\s*[-/.年]")
# Link texts glued to the value on the line ("来源：求是网参与互动")
_UI_TAIL_RE = re.compile(r"(?:参与互动|我要评论|评论\d*|分享到?|打印|收藏|手机看新闻|手机版|纠错)$")
_TRAIL_PUNCT = "　 :：,，.。;；、|丨｜·-—"


def _cut(value: str) -> str:
    m = _GLUED_LABEL_RE.search(value)
    if m:
        value = value[: m.start()]  # at 0 the field was empty: "来源： 访问量：199"
    m = _DATE_START_RE.search(value)
    if m and m.start() > 0:
        value = value[: m.start()]
    value = _UI_TAIL_RE.sub("", value)
    return value.strip(_TRAIL_PUNCT)


def find_source(line: str) -> str | None:
    """The 来源 named on ``line`` ("来源：新华社" → "新华社"), or ``None``."""
    m = _SOURCE_RE.search(line)
    if not m:
        return None
    value = _cut(m["v"])
    if not value or is_geo_label(value) or (m["l"] == "来自" and _PLACE_RE.match(value)):
        return None
    return value


def is_geo_label(value: str) -> bool:
    """True for a place shown where a source could be: an IP-location label ("来自内蒙古自治区",
    "IP属地：北京"), a bare province, or a weekday ("星期一")."""
    return bool(_GEO_LABEL_RE.search(value.strip()))


def find_author(line: str) -> str | None:
    """The author named on ``line``, names only ("作者：张三 李四" → "张三 李四"), or ``None``.

    Roles and titles go ("记者：本报记者 王五 通讯员 李四" → "王五 李四"); a value that is
    not names (an organisation: "作者：某党支部") is returned as written when it is short.
    """
    m = _AUTHOR_RE.search(line)
    if not m:
        return None
    value = m["v"]
    em = _AUTHOR_END_RE.search(value)
    if em:
        value = value[: em.start()]
    value = _UI_TAIL_RE.sub("", value).strip(_TRAIL_PUNCT)
    if not value:
        return None
    names = credit_names(value, strict=False)
    if names:
        return names
    if value.lower() in _NO_AUTHOR or len(value) > 30 or re.search(r"[，,。！？、\s]", value):
        return None
    return value


def find_editor(line: str) -> str | None:
    """The 责任编辑 named on ``line`` ("（责任编辑：李四）" → "李四"), or ``None``."""
    m = _EDITOR_RE.search(line)
    if not m:
        return None
    value = _cut(m["v"])
    return value or None


def byline_names(line: str, source: str | None = None) -> str | None:
    """The author name(s) when ``line`` is a byline and nothing else, else ``None``.

    "本报记者 王五" → "王五"; "中央纪委国家监委网站 张三" (after the page's ``source``) →
    "张三"; "文/李四 摄" → "李四" (see :func:`crawler.extract.credits.credit_line_names`).
    """
    return credit_line_names(line, source)
