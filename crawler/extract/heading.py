"""Finding an article's headline, with its 引题 (pretitle) and 副标题 (subtitle).

The ``<title>`` element is a poor headline on Chinese sites: it carries the column and site
name ("标题————栏目——中央纪委国家监委网站", "标题_新闻频道_中国青年网"), and on some templates it
is only the column name.  The headline is the heading element on the page that best agrees
with the ``<title>`` and meta titles, is marked up as a heading (h1 before h2 …, or a class
such as ``title``), and sits just before the article body.  Its neighbours that are short,
heading-like and not the body are the pretitle (before) and subtitle (after).
"""

from __future__ import annotations

import bisect
import copy
import re
import unicodedata
from dataclasses import dataclass

from lxml.html import HtmlElement

from crawler.extract.dom import class_id, is_hidden, tag_of, text_lines, visible_text

_TITLE_CLASS_RE = re.compile(
    r"(?:^|[\s_-])(?:title|tit|headline|heading|bt|biaoti|arttitle|art_title|article-title|"
    r"articletitle|news_title|newstitle|detail-title|detailtitle|main-title|maintitle|h_title|"
    r"con_title|contitle|text_title|xl_title|show_title|zw_title|tt)(?:$|[\s_-])",
    re.I,
)
_TITLE_CLASS_LOOSE_RE = re.compile(r"title|tit\b|headline|biaoti", re.I)
_SUBTITLE_CLASS_RE = re.compile(r"sub|fbt|futi|subhead|vice", re.I)
_PRETITLE_CLASS_RE = re.compile(r"pre|yt|yinti|kicker|intro|shoulder", re.I)
_DOC_TITLE_SPLIT_RE = re.compile(r"\s*(?:[_|｜]|--+|—+|－{2,}|-\s|\s-|\s+–\s+)\s*")
_INFO_LINE_RE = re.compile(r"来源|时间|日期|作者|编辑|记者|浏览|点击|\d{4}\s*[-年/.]\s*\d{1,2}")
_NAME_LINE_RE = re.compile(
    r"^(?:(?:作者|记者|文|撰文)\s*[:：/|丨]?\s*)?[\u4e00-\u9fff·]{2,4}(?:[\s、，,]+[\u4e00-\u9fff·]{2,4}){0,3}$"
)
_NOT_TITLE_RE = re.compile(
    r"^(?:正文|相关|推荐|热点|热门|图片|视频|专题|排行|评论|分享|导航|首页).{0,4}$"
    r"|^(?:当前位置|您的位置|您现在的位置|所在位置|现在位置)|^首页[-－>＞»›/|]|>>|＞＞"
    r"|^(?:\d{3}\s*)?(?:NotFound|Forbidden|nginx|BadGateway|ServerError)|页面不存在|已被?删除",
    re.I,
)

# A "listen to this article" widget inside the headline element: its controls by tag or
# class/id, and the texts it shows ("播报文章", "语音播报文章", "00:00 / 03:12").
_WIDGET_TAGS = frozenset({"audio", "button", "video", "svg", "canvas"})
_WIDGET_CLASS_RE = re.compile(
    r"audio|voice|speech|tts|listen|bobao|broadcast|player|read-?aloud|langdu|yuyin", re.I
)
_WIDGET_TEXT_RE = re.compile(
    r"(?:\s*(?:(?:语音)?播报(?:这篇|本篇)?(?:文章|本文|全文)|语音播报|(?:朗读|收听|听)(?:全文|本文|文章)|"
    r"\d{1,2}:\d{2}(?:\s*/\s*\d{1,2}:\d{2})?))+\s*$"
)
_WIDGET_WORD_RE = re.compile(r"播报|朗读|收听|听全文|听本文|听文章")

HEADING_TAGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_TAG_WEIGHT = {"h1": 3.0, "h2": 2.2, "h3": 1.4, "h4": 0.8, "h5": 0.4, "h6": 0.3}


@dataclass(frozen=True, slots=True)
class Headline:
    """The headline found on a page and the element it came from (``None`` if from meta)."""

    title: str | None
    element: HtmlElement | None
    pretitle: str | None = None
    subtitle: str | None = None
    position: int | None = None  # document position of the headline, when found on the page
    byline: str | None = None  # an author line printed inside the headline element


def squash(text: str | None) -> str:
    """Text reduced for comparison: NFKC, no whitespace."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


def doc_title_segments(doc_title: str) -> list[str]:
    """The ``<title>`` split at its separators ("标题_栏目_网站" → three segments)."""
    return [s for s in _DOC_TITLE_SPLIT_RE.split(doc_title.strip()) if s.strip()]


def _likeness(a: str, b: str) -> float:
    """How alike two titles are: the shared part (substring, common prefix or common suffix)
    over the longer one (1.0 when equal)."""
    if not a or not b:
        return 0.0
    longer = max(len(a), len(b))
    if a in b or b in a:
        return min(len(a), len(b)) / longer
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    m = 0
    for x, y in zip(reversed(a), reversed(b), strict=False):
        if x != y:
            break
        m += 1
    return max(n, m) / longer


def _candidates(root: HtmlElement) -> list[HtmlElement]:
    seen: set[HtmlElement] = set()
    out: list[HtmlElement] = []
    body = root.find("body")
    scope = body if body is not None else root
    for el in scope.iter(*HEADING_TAGS, "div", "p", "span", "td", "strong", "b", "font"):
        tag = tag_of(el)
        if tag not in HEADING_TAGS:
            ci = class_id(el)
            if not ci or not (_TITLE_CLASS_RE.search(ci) or _TITLE_CLASS_LOOSE_RE.search(ci)):
                continue
        if el in seen:
            continue
        seen.add(el)
        out.append(el)
    return out


def _is_widget(el: HtmlElement) -> bool:
    if tag_of(el) in _WIDGET_TAGS:
        return True
    ci = class_id(el)
    return bool(ci and _WIDGET_CLASS_RE.search(ci))


def _heading_lines(el: HtmlElement) -> list[str]:
    """The element's text lines without an audio widget's controls and labels."""
    widgets = [d for d in el.iterdescendants() if isinstance(d.tag, str) and _is_widget(d)]
    if widgets:
        el = copy.deepcopy(el)
        for d in [d for d in el.iterdescendants() if isinstance(d.tag, str) and _is_widget(d)]:
            if d.getparent() is not None:
                d.drop_tree()  # keeps the text after it
    lines = []
    for line in text_lines(el):
        if _WIDGET_WORD_RE.search(line):
            line = _WIDGET_TEXT_RE.sub("", line).strip()
        if line and not _WIDGET_TEXT_RE.fullmatch(line):
            lines.append(line)
    return lines


def _hidden_or_in_hidden(el: HtmlElement) -> bool:
    if is_hidden(el):
        return True
    return any(is_hidden(a) for a in el.iterancestors())


def _in_link(el: HtmlElement) -> bool:
    if tag_of(el) == "a":
        return True
    return any(tag_of(a) == "a" for a in el.iterancestors("a"))


def _last_position(el: HtmlElement, order: dict[HtmlElement, int]) -> int:
    last = el
    for last in el.iter():  # noqa: B007 - want the last descendant
        pass
    return order.get(last, order.get(el, -1))


def _info_follows(lines: list[tuple[int, str]], after: int) -> bool:
    """True when one of the three lines after position ``after`` looks like an info line."""
    idx = bisect.bisect_right(lines, after, key=lambda ln: ln[0])
    return any(_INFO_LINE_RE.search(text) for _, text in lines[idx : idx + 3])


def find_headline(
    root: HtmlElement,
    doc_title: str,
    meta_titles: list[str],
    order: dict[HtmlElement, int],
    lines: list[tuple[int, str]],
    body_span: tuple[int, int] | None,
) -> Headline:
    """Find the headline on the page.

    ``order`` maps elements to their document position, ``lines`` are the page's text lines
    with their positions, ``body_span`` the positions of the article body's first paragraph
    and last element when known (headlines sit before the body, info lines right after them).
    """
    segs = doc_title_segments(doc_title)
    first_seg = squash(segs[0]) if segs else ""
    whole = squash(doc_title)
    tail_segs = {squash(s) for s in segs[1:]}
    metas = [squash(t) for t in meta_titles if t and len(squash(t)) >= 4 and "<" not in t]

    def similarity(sq: str) -> float:
        sim = _likeness(sq, first_seg)
        if sim < 0.6 and len(sq) >= 4 and sq in whole and sq not in tail_segs:
            sim = 0.6
        score = 4.0 * sim
        if metas:
            score += 2.0 * max(_likeness(sq, m) for m in metas)
        return score

    def placement(pos: int, end: int) -> float:
        score = 0.0
        if body_span is not None and pos >= 0:
            if pos < body_span[0]:
                score += 1.5
            elif pos > body_span[1]:
                score -= 2.0
            else:
                score -= 1.0
        if _info_follows(lines, end):
            score += 2.0
        return score

    best: tuple[float, HtmlElement | None, int, str, str | None] | None = None
    for el in _candidates(root):
        kept = [ln for ln in _heading_lines(el) if not _INFO_LINE_RE.search(ln)]
        byline = None
        if len(kept) >= 2 and _NAME_LINE_RE.match(kept[-1]):
            byline = kept.pop()  # "标题 / 王诗雨": the author under the headline
        text = " ".join(kept)
        sq = squash(text)
        if not (4 <= len(sq) <= 160) or _NOT_TITLE_RE.match(sq):
            continue
        if _hidden_or_in_hidden(el):
            continue
        if sq in tail_segs and sq != first_seg:
            continue  # the site or column name
        tag = tag_of(el)
        score = _TAG_WEIGHT.get(tag, 0.0)
        ci = class_id(el)
        if ci and _TITLE_CLASS_RE.search(ci):
            score += 1.5
        elif ci and _TITLE_CLASS_LOOSE_RE.search(ci):
            score += 0.8
        score += similarity(sq)
        if _in_link(el):
            score -= 2.0
        if len(sq) < 6:
            score -= 1.0
        pos = order.get(el, -1)
        score += placement(pos, _last_position(el, order))
        if best is None or score > best[0]:
            best = (score, el, pos, text, byline)

    # A plain line of text that is the <title> without its site suffix can be the headline
    # on table layouts without heading markup.
    if first_seg and len(first_seg) >= 6:
        for pos, text in lines:
            sq = squash(text)
            if len(sq) < 6 or len(sq) > 160 or not first_seg.startswith(sq):
                continue
            if len(sq) < 0.5 * len(first_seg):
                continue
            score = similarity(sq) + placement(pos, pos)
            if best is None or score > best[0]:
                best = (score, None, pos, text, None)
            break

    if best is not None and best[0] >= 3.0:
        _, el, pos, text, byline = best
        pre, sub = neighbour_titles(el) if el is not None else (None, None)
        return Headline(
            title=text.strip(),
            element=el,
            pretitle=pre,
            subtitle=sub,
            position=pos,
            byline=byline,
        )
    fallback = _meta_fallback(segs, meta_titles)
    return Headline(title=fallback, element=None)


def _meta_fallback(segs: list[str], meta_titles: list[str]) -> str | None:
    for t in meta_titles:
        if t and "<" not in t and len(t.strip()) >= 4:
            return t.strip()
    if segs:
        return segs[0].strip()
    return None


def _heading_like(el: HtmlElement) -> bool:
    tag = tag_of(el)
    if tag in HEADING_TAGS:
        return True
    ci = class_id(el)
    return bool(ci and (_SUBTITLE_CLASS_RE.search(ci) or _PRETITLE_CLASS_RE.search(ci)))


def neighbour_titles(el: HtmlElement) -> tuple[str | None, str | None]:
    """The pretitle just before and the subtitle just after the headline element."""
    pre = sub = None
    prev = el.getprevious()
    while prev is not None and not isinstance(prev.tag, str):
        prev = prev.getprevious()
    if prev is not None and _heading_like(prev) and not is_hidden(prev):
        text = visible_text(prev)
        if 2 <= len(text) <= 80 and not _INFO_LINE_RE.search(text):
            pre = text
    nxt = el.getnext()
    while nxt is not None and not isinstance(nxt.tag, str):
        nxt = nxt.getnext()
    if nxt is not None and _heading_like(nxt) and not is_hidden(nxt):
        text = visible_text(nxt)
        ci = class_id(nxt)
        if (
            2 <= len(text) <= 80
            and not _INFO_LINE_RE.search(text)
            and (tag_of(nxt) in HEADING_TAGS or (ci and _SUBTITLE_CLASS_RE.search(ci)))
        ):
            sub = text
    return pre, sub
