"""Boilerplate at the edges of an article's body, as named rules of five kinds.

What sites print above the first and below the last paragraph of an article, inside the
element that holds it, once the share widgets and related lists named as such by class/id
(:func:`crawler.extract.furniture.is_furniture_block`) are gone:

- ``credit``: production credits that are not the article's author: ``来源：新华社``,
  ``责任编辑：张三``, ``编辑丨李四 审核丨王五``, ``一审：… 二审：… 三审：…``.  A line
  that also names a writer (文、作者、记者、摄影 …) is left to the byline reader.
- ``share``: follow-us and share prompts, a WeChat page's own menus, like counters
  (``关注公众号：人民网财经``, ``长按识别二维码``, ``预览时标签不可点``, ``+1``).
- ``related``: a related-content heading (``相关阅读``, ``推荐阅读``, ``点击进入专题：``), with
  the list under it when that is a list of titles rather than prose.
- ``copyright``: notices (``版权所有``, ``未经授权不得转载``, ``特别声明：以上内容…``).
- ``teaser``: pointers away from the article (``下一篇：…``, ``阅读原文``, ``打开APP阅读全文``,
  ``- END -``) and a platform's link glued to the last paragraph (``返回搜狐，查看更多``).

:func:`trim_edges` applies them: lines are dropped from the bottom while the last one is
boilerplate (a related heading takes its list along), and from the top while the first one
is a share prompt or widget label.  Lines in the middle of the body are never touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["credit", "share", "related", "copyright", "teaser"]

# Roles in production credits that are not the writer's (editors, reviewers, producers).
_CREDIT_ROLE = (
    r"(?:责任编辑|值班编辑|网络编辑|新媒体编辑|编辑|责编|编审|审核|审校|审稿|校对|核稿|"
    r"监制|总监制|制片|制作|出品|统筹|策划|主编|美编|设计|排版|视觉|海报|"
    r"[一二三]审|初审|复审|终审|签发|"
    r"(?:信息|文章|稿件|新闻|本文|内容|图片|视频)?来源|稿源|转自|转载自)"
)
_CREDIT_SEP = r"\s*(?:[:：|丨｜/]|\s)\s*"
_CREDIT_VALUE = r"[^:：|丨｜/。！？!?]{1,30}?"
_CREDIT_FIELD = _CREDIT_ROLE + _CREDIT_SEP + _CREDIT_VALUE
_CREDIT_LINE_RE = re.compile(
    r"^[（(【\[]?\s*" + _CREDIT_FIELD + r"(?:\s*[，,;；]?\s*" + _CREDIT_FIELD + r")*"
    r"\s*[）)】\]]?$"
)
# A credit line that also names a writer belongs to the byline reader, not to these rules.
_WRITER_RE = re.compile(
    r"作者|记者|通讯员|撰稿|撰文|执笔|摄影|摄像|供稿|整理|(?:^|[\s（(【\[])[文图]\s*[:：/|丨｜]"
)

_SHARE_RE = re.compile(
    r"^[▲▼△↑↓☝👆👇\s]*(?:"
    r"(?:点击|戳)?(?:上方|下方)?(?:蓝字|名片)?\s*关注(?:我们|公众号)?(?:[:：].{0,20})?|"
    r"关注公众号[:：].{0,20}|(?:欢迎|记得)?关注.{0,12}(?:公众号|微信号|视频号|抖音号)|"
    r"(?:长按|扫描|扫码)(?:识别|下方|上方)?(?:二维码)?.{0,10}(?:关注|下载|阅读|加入).{0,15}|"
    r"长按识别二维码.{0,15}|微信扫一扫.{0,20}|"
    r"预览时标签不可点|继续滑动看下一个|向上滑动看下一个|轻触阅读原文|知道了|"
    r"微信扫一扫(?:关注该公众号|使用小程序|可打开此内容.*)|"
    r"视频\s*小程序\s*赞.*|分享\s*留言\s*收藏.*|喜欢此内容的人还喜欢|名称已清空|"
    r"(?:点个?|点亮)?(?:赞|在看|点赞|分享)(?:[、，,和\s]*(?:赞|在看|点赞|分享|转发|收藏))*"
    r"(?:[，,]?.{0,10}(?:最好看|支持|鼓励|吧))?[!！~～。]*|"
    r"(?:分享|转发)(?:到|给)?(?:朋友圈|好友|微信|微博).{0,10}|"
    r"图集|语音播报|播报文章|听全文|[+＋]?\d{1,4}"
    r")[\s!！。~～]*$"
)
_RELATED_HEADING_RE = re.compile(
    r"^[【\[〖■●◆▌|\s]*(?:相关新闻|相关阅读|相关文章|相关报道|相关链接|相关推荐|延伸阅读|"
    r"推荐阅读|热点推荐|热门推荐|精彩推荐|猜你喜欢|往期回顾|往期推荐|往期精彩|更多阅读|更多精彩|"
    r"点击进入专题|进入专题|专题链接|相关专题)\s*[】\]〗]?\s*[:：]?\s*$"
)
_COPYRIGHT_RE = re.compile(
    r"版权所有|版权归.{0,20}所有|Copyright|©|\(c\)\s*\d{4}|"
    r"未经.{0,12}(?:授权|许可|同意).{0,12}(?:转载|使用|复制)|(?:转载|引用)(?:请|须|需)?注明|"
    r"如需转载|禁止转载|谢绝转载|如有侵权|侵权(?:请)?联系|"
    r"^[【\[(（]?\s*(?:特别|免责|版权|平台)?声明\s*[:：]|"
    r"^[【\[(（]?\s*本文(?:系|为).{0,20}(?:原创|独家)",
    re.I,
)
_TEASER_RE = re.compile(
    r"^[▲▼►▶>\s【\[]*(?:"
    r"(?:上一篇|下一篇|上一条|下一条|下一页|上一页|阅读下一篇|看下一篇)\s*[】\]]?\s*[:：]?.{0,80}|"
    r"(?:点击|戳)?(?:阅读|查看)(?:原文|全文)(?:链接)?.{0,20}|原文链接\s*[:：].{0,200}|"
    r"展开全文|(?:打开|下载).{0,12}(?:APP|App|app|客户端).{0,15}|返回.{0,6}[，,]?\s*查看更多|"
    r"[-—–_=\s]*(?:END|THE\s*END|完)[-—–_=\s]*"
    r")$"
)
# A platform's own link glued to the end of the last paragraph.
_GLUED_TEASER_RE = re.compile(r"\s*(?:返回(?:搜狐|腾讯网|网易首页|新浪)[，,]?\s*查看更多)$")
_SENTENCE_END_RE = re.compile(r"[。！？!?]")
_LIST_ITEM_MAX = 80
_CREDIT_LINE_MAX = 60
_NOTICE_MAX = 300


@dataclass(frozen=True, slots=True)
class EdgeRule:
    """One rule: the kind of boilerplate, a name for it, and the lines it matches."""

    kind: Kind
    name: str
    pattern: re.Pattern[str]
    max_len: int


RULES: tuple[EdgeRule, ...] = (
    EdgeRule("share", "follow, share and WeChat prompts", _SHARE_RE, 60),
    EdgeRule("teaser", "next story, read more, end marker", _TEASER_RE, 120),
    EdgeRule("related", "related-content heading", _RELATED_HEADING_RE, 30),
    EdgeRule("copyright", "copyright and reprint notice", _COPYRIGHT_RE, _NOTICE_MAX),
    EdgeRule("credit", "editor, reviewer and 来源 credits", _CREDIT_LINE_RE, _CREDIT_LINE_MAX),
)
_HEAD_KINDS = frozenset({"share"})


def edge_kind(line: str) -> Kind | None:
    """The kind of boilerplate ``line`` is when it stands at an edge of the body, or ``None``."""
    text = line.strip()
    if not text:
        return None
    for rule in RULES:
        if len(text) <= rule.max_len and rule.pattern.search(text):
            if rule.kind == "credit" and _WRITER_RE.search(text):
                return None
            return rule.kind
    return None


def _is_title_list(lines: list[str]) -> bool:
    """True when ``lines`` read as a list of headlines, not as paragraphs."""
    return all(len(ln) <= _LIST_ITEM_MAX and not _SENTENCE_END_RE.search(ln) for ln in lines)


def trim_edges(paragraphs: list[str]) -> list[str]:
    """``paragraphs`` without the boilerplate at their top and bottom (see module doc)."""
    out = list(paragraphs)
    while out:
        last = out[-1]
        glued = _GLUED_TEASER_RE.search(last)
        if glued and glued.start() > 0:
            out[-1] = last[: glued.start()]
            continue
        if edge_kind(last) is not None:
            out.pop()
            continue
        cut = _related_cut(out)
        if cut is None:
            break
        del out[cut:]
    while out and edge_kind(out[0]) in _HEAD_KINDS:
        out.pop(0)
    return out


def _related_cut(paragraphs: list[str]) -> int | None:
    """Where a related-content heading near the end starts a list of titles, if one does."""
    lowest = len(paragraphs) // 2
    for i in range(len(paragraphs) - 2, lowest - 1, -1):
        text = paragraphs[i].strip()
        if _RELATED_HEADING_RE.match(text):
            return i if _is_title_list(paragraphs[i + 1 :]) else None
    return None
