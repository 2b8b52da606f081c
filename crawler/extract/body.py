"""Finding an article's body on a page and turning it into clean paragraphs.

Two steps, both plain lxml:

1. :func:`find_body_container`: the page's text is cut into lines at block boundaries; each
   line that reads as prose (long enough, with sentence punctuation, not link text) scores
   for the element holding its paragraph, and by a half and a quarter for that element's
   parent and grandparent; each element's score is then discounted by the share of link
   text under it.  The best element is the body container: the one whose own paragraphs
   are the article, not a distant ancestor that also holds the sidebars.
2. :func:`body_lines` walks the container and cuts its text into lines, leaving out share
   widgets, related lists, comment boxes and pagination (by class/id words, unless the
   element holds a lot of prose), hidden elements and embedded error-page text;
   :func:`clean_paragraphs` then drops furniture lines, the headline repeat (and a kicker
   above it), the information line and byline at the top, and the tail boilerplate.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher

import lxml.etree
from lxml.html import HtmlElement

from crawler.extract.boilerplate import trim_edges
from crawler.extract.byline import byline_names
from crawler.extract.dom import (
    BLOCK_TAGS,
    INVISIBLE_TAGS,
    collapse_ws,
    has_unwalked_nodes,
    is_hidden,
    remembered,
    tag_of,
)
from crawler.extract.furniture import SENTENCE_PUNCT_RE, is_furniture_block

EMPHASIS_TAGS = frozenset({"strong", "b", "h1", "h2", "h3", "h4", "h5", "h6"})
_PARAGRAPH_TAGS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre"})
SKIP_TAGS = frozenset({"nav", "footer", "aside", "header", "menu"})

# Whole lines that are page furniture or the text of an embedded error page.
_FURNITURE_LINE_RE = re.compile(
    r"^(?:[【\[(（]?\s*(?:打印|关闭|打印本页|关闭窗口|打印文章|收藏|纠错|返回顶部|回到顶部|TOP|"
    r"字号|字体|大|中|小|分享到?|分享|扫一扫|微信扫一扫|微信|微博|QQ空间|复制链接|"
    r"上一篇|下一篇|上一条|下一条|返回|返回列表|更多)\s*[】\])）]?\s*[:：]?\s*)+$"
    r"|^(?:404 Not Found|403 Forbidden|500 Internal Server Error|502 Bad Gateway|"
    r"503 Service (?:Temporarily )?Unavailable|nginx(?:/[\d.]+)?|Apache(?:/[\d.]+.*)?|"
    r"Not Found|Forbidden|Baidu ?map|百度地图|Microsoft-IIS/[\d.]+|"
    r"The requested URL .* was not found on this server\.?|"
    r"(?:分享|扫码|扫一扫)(?:到|分享)?[:：].*|.*扫一扫.*分享.*|.*分享到(?:微信|微博|朋友圈).*|"
    r"(?:字号|字体)[:：]?\s*[【\[]?\s*大\s*[】\]]?\s*[【\[]?\s*中.*|"
    r"(?:上一篇|下一篇)[:：].*|返回(?:搜狐|腾讯网|网易|新浪)?[,，]?\s*查看更多.*|"
    r"(?:责任编辑|责编)\s*[:：].{0,20}|[（(\[【]\s*(?:责任编辑|责编|编辑)\s*[:：].{0,20}[）)\]】]"
    r")$",
    re.I,
)
_INFO_LABEL_RE = re.compile(
    r"(?:来源|发布时间|发表时间|发布日期|时间|日期|作者|记者|编辑|浏览|点击|阅读|字号)\s*[:：]"
)
_DATE_RE = re.compile(r"(?:19|20)\d{2}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}")
# A line that is only a credit is dropped when it is among the first lines of the body.
_HEAD_CREDIT_LINES = 8
_SENTENCE_END_RE = re.compile(r"[。！？!?…”」』]")
_NON_WORD_RE = re.compile(r"[\W_]+")
_HEADLINE_SIMILARITY = 0.8
_HEADLINE_BLOCK_MAX = 4  # lines of a bold/centered headline block after the repeat


@dataclass(slots=True)
class Line:
    """One line of body text and how much of it was link text."""

    text: str
    link_chars: int = 0
    emphasis: bool = False  # entirely inside <strong>/<b>/a heading, or centered
    block: HtmlElement | None = None  # the innermost block element the line starts in


class LineCutter:
    """Text gathered into :class:`Line` objects: a walk adds text and cuts at blocks."""

    __slots__ = ("block", "buf", "container", "emph_chars", "line_block", "lines",
                 "link_chars", "plain_chars")  # fmt: skip

    def __init__(self, container: HtmlElement) -> None:
        self.container = container
        self.block: HtmlElement = container  # the innermost block element open
        self.lines: list[Line] = []
        self.buf: list[str] = []
        self.link_chars = self.plain_chars = self.emph_chars = 0
        self.line_block: HtmlElement | None = None

    def cut(self) -> None:
        buf = self.buf
        if buf:
            text = collapse_ws("".join(buf))
            if text:
                total = max(1, self.link_chars + self.plain_chars)
                line_block = self.line_block
                self.lines.append(
                    Line(
                        text,
                        self.link_chars,
                        self.emph_chars >= 0.9 * total,
                        line_block if line_block is not None else self.container,
                    )
                )
            buf.clear()
        self.link_chars = self.plain_chars = self.emph_chars = 0
        self.line_block = None

    def enter(
        self, node: HtmlElement, tag: str, in_link: bool, emph: bool
    ) -> tuple[bool, bool, bool]:
        """Start element ``node``: whether it is a block, and its link and emphasis state."""
        emph = emph or tag in EMPHASIS_TAGS or _is_centered(node)
        return self.enter_known(node, tag, node.text, in_link, emph)

    def enter_known(
        self, node: HtmlElement, tag: str, text: str | None, in_link: bool, emph: bool
    ) -> tuple[bool, bool, bool]:
        """:meth:`enter` with the element's text and emphasis (its parent's, or its own
        tag's, or its centring) already known."""
        block = tag in BLOCK_TAGS and tag != "br"
        if block:
            self.cut()
            self.block = node
        in_link = in_link or tag == "a"
        if tag == "br":
            self.cut()
        else:
            self.add(text, in_link, emph)
        return block, in_link, emph

    def add(self, text: str | None, in_link: bool, emph: bool) -> None:
        if not text:
            return
        self.buf.append(text)
        n = len(text.strip())
        if n and self.line_block is None:
            self.line_block = self.block
        if in_link:
            self.link_chars += n
        else:
            self.plain_chars += n
        if emph:
            self.emph_chars += n


def body_lines(container: HtmlElement, *, skip_furniture_root: bool = False) -> list[Line]:
    """The container's text cut into lines at block boundaries, furniture left out.

    The container itself is never treated as furniture unless ``skip_furniture_root``.
    Walked by lxml's ``iterwalk`` (in C), not by Python recursion; a tree with comments
    (whose tails ``iterwalk`` does not report; :func:`parse_html` drops them) is walked
    recursively.
    """
    if has_unwalked_nodes(container):
        return _body_lines_recursive(container, skip_furniture_root)
    out = LineCutter(container)
    # per open element: its parent's link and emphasis state and block, whether a block
    open_: list[tuple[bool, bool, HtmlElement, bool]] = []
    in_link = emph = False  # the innermost open element's state
    skipped = None
    walker = lxml.etree.iterwalk(container, events=("start", "end"))
    for event, node in walker:
        if event == "start":
            tag = node.tag.lower()
            if (
                tag in INVISIBLE_TAGS
                or is_hidden(node)
                or (
                    (node is not container or skip_furniture_root)
                    and (tag in SKIP_TAGS or is_furniture_block(node))
                )
            ):
                walker.skip_subtree()
                skipped = node
                continue
            outer_block = out.block
            block, link, em = out.enter(node, tag, in_link, emph)
            open_.append((in_link, emph, outer_block, block))
            in_link, emph = link, em
        else:
            if node is skipped:
                skipped = None
            else:
                in_link, emph, outer_block, block = open_.pop()
                if block:
                    out.cut()
                    out.block = outer_block
            if node is not container:
                out.add(node.tail, in_link, emph)
    out.cut()
    return out.lines


def _body_lines_recursive(container: HtmlElement, skip_furniture_root: bool) -> list[Line]:
    """:func:`body_lines` by Python recursion, for a tree with comments."""
    out = LineCutter(container)

    def walk(node: HtmlElement, in_link: bool, emph: bool) -> None:
        tag = tag_of(node)
        if not tag or tag in INVISIBLE_TAGS or is_hidden(node):
            return
        if (node is not container or skip_furniture_root) and (
            tag in SKIP_TAGS or is_furniture_block(node)
        ):
            return
        outer_block = out.block
        block, link, em = out.enter(node, tag, in_link, emph)
        for child in node:
            walk(child, link, em)
            out.add(child.tail, link, em)
        if block:
            out.cut()
            out.block = outer_block

    walk(container, False, False)
    out.cut()
    return out.lines


def _is_centered(el: HtmlElement) -> bool:
    return centered_by(el.get("style"), el.get("align"), tag_of(el))


def centered_by(style: str | None, align: str | None, tag: str) -> bool:
    """Whether an element with this inline style, ``align`` and tag is centred."""
    if style and "text-align" in style:
        return _centers(style)
    return (align or "").lower() == "center" and tag in {"p", "div"}


def _style_centers(style: str) -> bool:
    return "center" in style.replace(" ", "").split("text-align:", 1)[-1][:7]


# whether a ``text-align`` style centres, remembered per style text
_centers = remembered(_style_centers)


def _line_score(ln: Line) -> float:
    """How much a line looks like article text (0 for links, labels and short bits)."""
    text = ln.text
    n = len(text) - text.count(" ")
    plain = n - ln.link_chars
    if plain < 10 or ln.link_chars >= 0.5 * n:
        return 0.0
    punct = len(SENTENCE_PUNCT_RE.findall(text))
    if punct == 0 and plain < 40:
        return 0.0
    return plain / 20.0 + min(punct, 20)


def find_body_container(root: HtmlElement, lines: list[Line] | None = None) -> HtmlElement | None:
    """The element that holds the article body, or ``None`` when the page has no text.

    ``lines`` are the :func:`body_lines` of the page's ``<body>`` (of ``root`` without one),
    when the caller has them.

    Each line of sentence-like text scores for the element that holds its paragraph (fully),
    and for that element's parent and grandparent (half, a quarter); an element's score is
    then discounted by the share of link text under it.  The best element wins.
    """
    body = root.find("body")
    if body is None:
        body = root
    if lines is None:
        lines = body_lines(body)
    scores: dict[HtmlElement, float] = {}
    chars: dict[HtmlElement, list[int]] = {}
    for ln in lines:
        block = ln.block if ln.block is not None else body
        n = len(ln.text)
        # totals of text and link text under every ancestor, for link density
        el: HtmlElement | None = block
        while el is not None:
            tot = chars.setdefault(el, [0, 0])
            tot[0] += n
            tot[1] += ln.link_chars
            if el is body:
                break
            el = el.getparent()
        score = _line_score(ln)
        if score <= 0:
            continue
        target = block.getparent() if tag_of(block) in _PARAGRAPH_TAGS else block
        weight = 1.0
        for _ in range(3):
            if target is None:
                break
            scores[target] = scores.get(target, 0.0) + score * weight
            if target is body:
                break
            weight /= 2
            target = target.getparent()
    best: HtmlElement | None = None
    best_score = 0.0
    for el, score in scores.items():
        tot = chars.get(el, [1, 0])
        density = tot[1] / max(1, tot[0])
        final = score * (1.0 - density)
        if final > best_score:
            best, best_score = el, final
    return best


def squash(text: str) -> str:
    """Text without any whitespace, for comparisons."""
    return re.sub(r"\s+", "", text)


def is_info_line(text: str) -> bool:
    """True for a short line carrying the page's labelled metadata (来源、时间、作者 …)."""
    if len(text) > 120:
        return False
    labels = len(_INFO_LABEL_RE.findall(text))
    return (
        labels >= 2
        or (labels == 1 and bool(_DATE_RE.search(text)))
        or (labels == 1 and len(text) <= 40 and not _SENTENCE_END_RE.search(text))
    )


def clean_paragraphs(
    lines: list[Line], title: str | None, source: str | None
) -> tuple[list[str], list[str]]:
    """Drop furniture, the headline repeat, the top information line and bylines.

    Returns the paragraphs and the lines removed as bylines (for the author field).
    """
    kept: list[Line] = []
    for ln in lines:
        text = ln.text
        if _FURNITURE_LINE_RE.match(text):
            continue
        n = len(text)
        if ln.link_chars >= 0.6 * n and n < 200:
            continue
        kept.append(ln)

    sq_title = squash(title or "")
    bylines: list[str] = []
    # The head: everything before the first real paragraph.
    head_end = 0
    for i, ln in enumerate(kept):
        if _is_real_paragraph(ln, sq_title):
            head_end = i
            break
    else:
        head_end = len(kept)
    # A headline repeat within the first lines takes the lines above it (kicker) along.
    cut = 0
    loose_title = _loose(title or "")
    for i, ln in enumerate(kept[: min(len(kept), 6)]):
        if _is_headline_repeat(ln, loose_title) and all(len(k.text) <= 80 for k in kept[:i]):
            cut = i + 1
            # heading-like lines right after the repeat (subtitle, byline) go too, and the
            # rest of a headline block set in bold or centered (引题、主题、副题)
            while (
                cut < len(kept)
                and (cut <= i + 2 or (cut <= i + _HEADLINE_BLOCK_MAX and kept[cut].emphasis))
                and _is_display_line(kept[cut])
            ):
                cut += 1
    out: list[str] = []
    for i, ln in enumerate(kept):
        if i < cut:
            if byline_names(ln.text, source):
                bylines.append(ln.text)
            continue
        text = ln.text
        if i < _HEAD_CREDIT_LINES and i < len(kept) - 2 and byline_names(text, source):
            bylines.append(text)  # a credit line among the first lines ("《棱镜》作者 周纯")
            continue
        if i <= max(head_end, cut) + 1:
            if is_info_line(text) and not _SENTENCE_END_RE.search(text):
                continue
            if byline_names(text, source) and (i <= head_end or not out):
                bylines.append(text)
                continue
            if sq_title and squash(text) == sq_title:
                continue
        out.append(text)
    # The tail: trailing editor lines, info lines, a closing byline, and boilerplate at
    # both edges (:mod:`crawler.extract.boilerplate`), until none is left.
    while True:
        before = (len(out), out[-1] if out else "")
        _trim_tail(out, source, bylines)
        out = trim_edges(out)
        if (len(out), out[-1] if out else "") == before:
            break
    return _drop_repeated_block(out), bylines


def _trim_tail(out: list[str], source: str | None, bylines: list[str]) -> None:
    while out:
        last = out[-1]
        if _FURNITURE_LINE_RE.match(last) or (is_info_line(last) and len(last) < 40):
            out.pop()
        elif not last.startswith(("（", "(")) and byline_names(last, source):
            # a bare closing byline; a bracketed credit "（记者 某某）" stays with the text
            bylines.append(out.pop())
        else:
            break


def _loose(text: str) -> str:
    """Text for comparing headlines: NFKC, without whitespace, punctuation or symbols."""
    return _NON_WORD_RE.sub("", unicodedata.normalize("NFKC", text))


def _is_headline_repeat(ln: Line, loose_title: str) -> bool:
    """True when the line repeats the headline, maybe with other quotes or a column name
    ("深度关注|"), a word more ("…座谈会强调") or, set in bold, a character or two changed."""
    if not loose_title:
        return False
    loose = _loose(ln.text)
    if not loose:
        return False
    if loose == loose_title or (len(loose) >= 4 and loose in loose_title):
        return True
    if len(loose_title) >= 6 and loose_title in loose and len(loose) <= len(loose_title) + 4:
        return True
    return ln.emphasis and len(ln.text) <= 80 and _similar(loose, loose_title)


def _similar(a: str, b: str) -> bool:
    """``SequenceMatcher(None, a, b).ratio() >= _HEADLINE_SIMILARITY``, its two cheap upper
    bounds (lengths, shared characters) tried first."""
    matcher = SequenceMatcher(None, a, b)
    return (
        matcher.real_quick_ratio() >= _HEADLINE_SIMILARITY
        and matcher.quick_ratio() >= _HEADLINE_SIMILARITY
        and matcher.ratio() >= _HEADLINE_SIMILARITY
    )


def _is_real_paragraph(ln: Line, sq_title: str) -> bool:
    text = ln.text
    if len(text) < 20 or not SENTENCE_PUNCT_RE.search(text):
        return False
    if sq_title and squash(text) in sq_title:
        return False
    return not is_info_line(text)


def _is_display_line(ln: Line) -> bool:
    text = ln.text
    return (
        len(text) <= 50 and not _SENTENCE_END_RE.search(text) and (ln.emphasis or len(text) <= 30)
    )


def _drop_repeated_block(paras: list[str]) -> list[str]:
    """Drop a second copy of the body (some templates print it twice, once per layout)."""
    n = len(paras)
    if n < 2:
        return paras
    total = sum(len(p) for p in paras)
    seen: dict[str, int] = {}
    for i, p in enumerate(paras):
        if len(p) >= 20 and p in seen and seen[p] == 0:
            # paragraph i starts a repeat of paragraph 0: is the rest a copy?
            copy = paras[i:]
            if (
                sum(len(p) for p in copy) >= 0.4 * total
                and copy[: min(3, len(copy))] == paras[: min(3, len(copy))]
            ):
                return paras[:i]
        seen.setdefault(p, i)
    return paras
