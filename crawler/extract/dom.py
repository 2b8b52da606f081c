"""Parsing HTML text into an lxml tree, and reading text out of its elements.

Shared by the extractor modules so that a page is parsed once.  Nothing here knows about
articles; it knows about HTML: which tags are blocks, which elements are hidden, how to get
an element's visible text with whitespace collapsed.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TypeVar

import lxml.etree
import lxml.html
from lxml.html import HtmlElement

from crawler.extract.errors import ExtractError

_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
# libxml2 closes a heading at a <p> start tag, leaving the heading empty: "<h2><p>标题</p></h2>"
# (ccdi.gov.cn does this).  Paragraphs inside headings are rewritten as spans before parsing.
_HEADING_WITH_P_RE = re.compile(r"(<h([1-6])\b[^>]*>)(.{0,3000}?)(</h\2\s*>)", re.I | re.S)
# libxml2 drops everything after a stray </html> and puts what follows </body> outside the
# body; both end tags are optional, so they are removed before parsing.
_END_TAGS_RE = re.compile(r"</(?:body|html)\s*>", re.I)
_P_OPEN_RE = re.compile(r"<p\b[^>]*>", re.I)
_P_CLOSE_RE = re.compile(r"</p\s*>", re.I)
_WS_RE = re.compile(r"[\s\u00a0\u3000\u200b\u200c\u200d\u2002\u2003\u2009\ufeff]+")
# what _WS_RE counts as space and str.split() does not: \u200b, \u200c, \u200d, \ufeff
_SENTENCE_PUNCT_RE = re.compile(r"[，。！？；]")
_HIDDEN_STYLE_RE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)

# Elements whose content is never visible text.
INVISIBLE_TAGS = frozenset(
    {"script", "style", "noscript", "template", "head", "title", "meta", "link", "object",
     "embed", "svg", "canvas", "map", "area", "select", "option", "textarea", "button",
     "input", "iframe", "frame", "frameset", "audio", "video", "source", "param"}
)  # fmt: skip
# Elements that start a new line of text.
BLOCK_TAGS = frozenset(
    {"p", "div", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt",
     "dd", "tr", "td", "th", "table", "tbody", "thead", "tfoot", "caption", "section",
     "article", "main", "aside", "header", "footer", "nav", "blockquote", "pre", "center",
     "figure", "figcaption", "form", "fieldset", "address", "details", "summary", "body",
     "html"}
)  # fmt: skip

_local = threading.local()
T = TypeVar("T")


def _parser() -> lxml.html.HTMLParser:
    parser: lxml.html.HTMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, recover=True)
        _local.parser = parser
    return parser


def parse_html(text: str) -> HtmlElement:
    """Parse HTML text into a document tree (``<html>`` root).

    Raises :class:`ExtractError` when the text holds no markup or text at all.
    """
    text = _XML_DECL_RE.sub("", text, count=1).replace("\x00", "")
    text = _HEADING_WITH_P_RE.sub(_unwrap_heading_paragraphs, text)
    text = _END_TAGS_RE.sub("", text)
    if not text or text.isspace():  # not ``strip``, which copies the page
        raise ExtractError("empty document")
    try:
        root = lxml.html.document_fromstring(text, parser=_parser())
    except (lxml.etree.ParserError, ValueError) as exc:
        raise ExtractError(f"not an HTML document: {exc}") from exc
    if root is None:
        raise ExtractError("not an HTML document")
    return root


def _unwrap_heading_paragraphs(m: re.Match[str]) -> str:
    inner = m.group(3)
    if "<p" not in inner and "<P" not in inner:
        return m.group(0)
    inner = _P_OPEN_RE.sub("<span>", inner)
    inner = _P_CLOSE_RE.sub("</span><br>", inner)
    return m.group(1) + inner + m.group(4)


def collapse_ws(text: str) -> str:
    """Collapse every run of whitespace (including full-width and NBSP) to one space."""
    if text.isspace():
        return ""  # the layout between blocks: a third of the calls, answered at once
    # four searches for one character each: three times as fast as the class's regex
    if "\u200b" in text or "\u200c" in text or "\u200d" in text or "\ufeff" in text:
        return _WS_RE.sub(" ", text).strip()
    # ``str.split`` splits on exactly what ``\s`` matches: the same result, twice as fast
    # (the extractor calls this for every line of every page)
    return " ".join(text.split())


def is_hidden(el: HtmlElement) -> bool:
    """True when the element is hidden by an inline style or the ``hidden`` attribute."""
    return hidden_by(el.attrib)


def hidden_by(attrs: Mapping[str, str]) -> bool:
    """Whether an element whose attributes are ``attrs`` is hidden by an inline style or the
    ``hidden`` / ``aria-hidden`` attribute."""
    style = attrs.get("style")
    if style and hides(style):
        return True
    return "hidden" in attrs or attrs.get("aria-hidden") == "true"


def remembered(compute: Callable[[str], T], size: int = 4096) -> Callable[[str], T]:
    """``compute`` with its answers remembered per text: for verdicts on attribute texts
    that a site's templates repeat on every page (a style, a class).  At most ``size``
    answers are kept (then forgotten all at once), each for a text of at most
    ``_REMEMBERED_CHARS`` characters: a hostile page cannot fill memory through it."""
    memo: dict[str, T] = {}

    def answer(text: str) -> T:
        value = memo.get(text)
        if value is None:
            value = compute(text)
            if len(text) <= _REMEMBERED_CHARS:
                if len(memo) >= size:
                    memo.clear()
                memo[text] = value
        return value

    return answer


_REMEMBERED_CHARS = 512


def _style_hides(style: str) -> bool:
    return _HIDDEN_STYLE_RE.search(style) is not None


# whether an inline style hides its element, remembered per style text
hides = remembered(_style_hides)


def tag_of(el: HtmlElement) -> str:
    """The element's lower-case tag name, or ``""`` for comments and processing instructions."""
    tag = el.tag
    return tag.lower() if isinstance(tag, str) else ""


def class_id(el: HtmlElement) -> str:
    """The element's class and id attributes as one lower-case string."""
    return f"{el.get('class') or ''} {el.get('id') or ''}".lower().strip()


def text_lines(el: HtmlElement) -> list[str]:
    """The element's visible text, split into lines at block boundaries, whitespace collapsed.

    Hidden and invisible elements are skipped; empty lines are dropped.
    """
    return [line for _, line in positioned_lines(el, None)]


def visible_text(el: HtmlElement) -> str:
    """The element's visible text on one line, whitespace collapsed."""
    return " ".join(text_lines(el))


def iter_visible(el: HtmlElement) -> Iterator[HtmlElement]:
    """Every descendant element of ``el`` (and ``el``) that is not inside a hidden one."""
    stack = [el]
    while stack:
        node = stack.pop()
        tag = tag_of(node)
        if not tag or tag in INVISIBLE_TAGS or is_hidden(node):
            continue
        yield node
        stack.extend(reversed(list(node)))


def positioned_lines(
    el: HtmlElement, order: dict[HtmlElement, int] | None
) -> list[tuple[int, str]]:
    """Like :func:`text_lines`, with each line's document position (from ``order``; -1
    without it).

    A line's position is that of the element whose text starts the line.  The tree is walked
    by lxml's ``iterwalk`` (in C) rather than by Python recursion: a 45 KB page in about a
    third of the time.  ``iterwalk`` does not report comments and processing instructions,
    whose tails are text: a tree holding one (never one from :func:`parse_html`, which drops
    them) is walked recursively.
    """
    if has_unwalked_nodes(el):
        return _positioned_lines_recursive(el, order)
    out = _PositionedLines(order)
    walker = lxml.etree.iterwalk(el, events=("start", "end"))
    skipped = None  # the element whose subtree was skipped: its end is no block boundary
    for event, node in walker:
        if event == "start":
            tag = node.tag.lower()
            if tag in INVISIBLE_TAGS or is_hidden(node):
                walker.skip_subtree()
                skipped = node
                continue
            if tag in BLOCK_TAGS:
                out.cut()
            out.add(node.text, node)
        else:
            if node is skipped:
                skipped = None
            elif node.tag.lower() in BLOCK_TAGS:
                out.cut()
            if node is not el:
                out.add(node.tail, node)
    out.cut()
    return out.lines


class _PositionedLines:
    """Text gathered into positioned lines: a walk adds text and cuts at blocks."""

    __slots__ = ("buf", "lines", "position", "start")

    def __init__(self, order: dict[HtmlElement, int] | None) -> None:
        self.lines: list[tuple[int, str]] = []
        self.buf: list[str] = []
        self.start = -1  # position of the element whose text starts the line
        self.position = order.get if order is not None else _no_position

    def cut(self) -> None:
        if self.buf:
            line = collapse_ws("".join(self.buf))
            if line:
                self.lines.append((self.start, line))
            self.buf.clear()
        self.start = -1

    def add(self, text: str | None, node: HtmlElement) -> None:
        if text:
            if self.start < 0 and text.strip():
                self.start = self.position(node, -1)
            self.buf.append(text)


def has_unwalked_nodes(el: HtmlElement) -> bool:
    """Whether ``el`` holds a comment, processing instruction or entity: nodes whose tails
    are text, which ``lxml.etree.iterwalk`` does not report."""
    return next(el.iter(*_UNWALKED), None) is not None


_UNWALKED = (lxml.etree.Comment, lxml.etree.ProcessingInstruction, lxml.etree.Entity)


def _no_position(_node: HtmlElement, default: int) -> int:
    return default


def _positioned_lines_recursive(
    el: HtmlElement, order: dict[HtmlElement, int] | None
) -> list[tuple[int, str]]:
    """:func:`positioned_lines` by Python recursion, for a tree with comments."""
    out = _PositionedLines(order)

    def walk(node: HtmlElement) -> None:
        tag = tag_of(node)
        if tag in INVISIBLE_TAGS or (tag and is_hidden(node)):
            return
        block = tag in BLOCK_TAGS
        if block:
            out.cut()
        if tag:
            out.add(node.text, node)
        for child in node:
            walk(child)
            out.add(child.tail, child)
        if block:
            out.cut()

    walk(el)
    out.cut()
    return out.lines


def is_body_sentence(text: str) -> bool:
    """True for a line that reads as body text rather than a headline or a label."""
    n = len(text)
    if n >= 40:
        return _SENTENCE_PUNCT_RE.search(text) is not None
    return n >= 20 and "。" in text and len(_SENTENCE_PUNCT_RE.findall(text)) >= 2
